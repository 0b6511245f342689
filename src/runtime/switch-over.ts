/**
 * Switch-over: a running platform moves a changed process, and every process downstream of it, to
 * their new version without stopping its service (issue #7, DESIGN.md "Who writes the embedded
 * store"). A replay has already written the changed process's new output for the shards it planned
 * (`<stream>--<generation>`); here the new version catches up with the live tail and takes over:
 *
 * 1. *Shadow.* A runner of the new code starts beside each old one, on the generation's view of the
 *    store (src/replay/generation-store.ts): it restores the old version's newest snapshot round taken
 *    before the change (or its own), re-reads its inputs from there, and writes the new version's
 *    output — after what the replay wrote, and for every other shard from its first output since the
 *    change. It performs no effects, and takes an input event only once the old runner has handled
 *    it. The old version keeps serving meanwhile.
 * 2. *Pause* (once every shadow is live): the old runners stop, upstream first, each after it has
 *    handled everything its upstream wrote; each base stream is then frozen.
 * 3. *Drain*: each shadow takes what is left up to where the old one stopped.
 * 4. *Flip*: one `$switch` record (src/replay/generation-record.ts) makes the generation current for
 *    every reader at once, and the shadows are promoted: from now on they perform effects (for inputs
 *    the old version did not handle) and are the platform's runners.
 *
 * Between 2 and 4 no new output is written to the switched streams; that pause is measured and
 * reported. The base streams stay as the old version left them.
 */
import type { AppDef, ProcessDef } from '../app/define.ts';
import { InvalidInputError, isConflict, isLeaseHeld, isUnavailable, SpiveError } from '../model/errors.ts';
import { ALL_SHARDS, type ShardRange } from '../model/shard.ts';
import { currentGeneration, generationsSeq, recordGeneration, type GenerationRecord } from '../replay/generation-record.ts';
import { GENERATION_OFFSET, GenerationStore, type Generation } from '../replay/generation-store.ts';
import { parseFork } from '../replay/fork.ts';
import { versionedStreamName } from '../replay/naming.ts';
import type { EventStore } from '../store/event-store.ts';
import type { Clock } from '../time/clock.ts';
import type { Timers } from '../time/timers.ts';
import type { ProcessRunner, ShadowRun } from './runner.ts';

export interface SwitchOverRequest {
  /** The app with the new code (the replay plan's app). */
  readonly app: AppDef;
  /** Its version (source hash): the version of processes without their own tag. */
  readonly appVersion: string;
  /** The changed process. */
  readonly process: string;
  /** The generation the replay wrote (the changed process's new version). */
  readonly generation: string;
  readonly fromVersion: string | null;
  /** Event time since which behaviour changed (null: from the beginning). */
  readonly since: number | null;
  /** Short notes on what is happening. */
  readonly onStep?: (message: string) => void;
}

export interface SwitchOverResult {
  readonly generation: string;
  /** The switched streams, upstream first. */
  readonly streams: readonly string[];
  readonly processes: ReadonlyArray<{ readonly process: string; readonly fromVersion: string; readonly toVersion: string }>;
  /** From starting the new version's runners until every one was live. */
  readonly catchUpMs: number;
  /** From stopping the first old runner until the new ones were promoted: no new output meanwhile. */
  readonly pauseMs: number;
  readonly switchedAt: number;
}

/** What a switch-over needs from the platform. */
export interface SwitchHost {
  readonly app: AppDef;
  readonly store: EventStore;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly range: ShardRange;
  runner(process: string): ProcessRunner | undefined;
  /** A runner for `def` on `store`, with the platform's options. */
  makeRunner(def: ProcessDef<unknown>, version: string, store: EventStore, shadow?: ShadowRun, effectsDoneUpTo?: readonly number[]): ProcessRunner;
  /** Puts `next` where `old` was (the platform's runners, status and view); `generation`: next runs on the generation's store. */
  replaceRunner(old: ProcessRunner, next: ProcessRunner, generation: boolean): void;
  /** Runners of the generation settle against its store. */
  adoptGeneration(store: GenerationStore): void;
}

/** A process of the generation: the changed one or one downstream of it, upstream first. */
interface Member {
  readonly def: ProcessDef<unknown>;
  readonly old: ProcessRunner;
  readonly version: string;
  /** Per input: is it a switched stream (the output of a member upstream)? */
  readonly switchedInputs: readonly boolean[];
}

const POLL_MS = 20;
/** How often the wait for the new version to catch up says how far it has got. */
const REPORT_MS = 1000;

/** The changed process and everything downstream of it in `app`, upstream first. */
export function generationMembers(app: AppDef, process: string): ProcessDef<unknown>[] {
  const first = app.processes.find((p) => p.name === process);
  if (first === undefined) throw new InvalidInputError('process', `a process of app ${app.name} (${app.processes.map((p) => p.name).join(', ')})`, process);
  const members: ProcessDef<unknown>[] = [first as ProcessDef<unknown>];
  const streams = new Set([first.output.name]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of app.processes) {
      if (members.includes(p as ProcessDef<unknown>) || !p.inputs.some((i) => streams.has(i.stream.name))) continue;
      members.push(p as ProcessDef<unknown>);
      streams.add(p.output.name);
      grew = true;
    }
  }
  return members;
}

export async function switchOver(host: SwitchHost, request: SwitchOverRequest): Promise<SwitchOverResult> {
  const step = request.onStep ?? (() => undefined);
  const seen = await generationsSeq(host.store);
  const defs = generationMembers(request.app, request.process);
  const switched = new Set(defs.map((d) => d.output.name));
  await checkSwitchable(host.store, defs, request.generation);
  const members: Member[] = defs.map((def) => {
    const old = host.runner(def.name);
    if (old === undefined) throw new SwitchOverError(`process ${def.name} does not run here, so it cannot be switched over (start spive run with every process of the generation: ${defs.map((d) => d.name).join(', ')})`);
    const oldInputs = old.def.inputs.map((i) => i.stream.name).join(', ');
    const newInputs = def.inputs.map((i) => i.stream.name).join(', ');
    if (oldInputs !== newInputs || old.def.output.name !== def.output.name) {
      throw new SwitchOverError(`process ${def.name} reads ${newInputs} and writes ${def.output.name} in the new code but ${oldInputs} and ${old.def.output.name} in the running one: a switch-over keeps the graph`);
    }
    return { def, old, version: def.version ?? request.appVersion, switchedInputs: def.inputs.map((i) => switched.has(i.stream.name)) };
  });
  const stats = await host.store.stats();
  const versionedLast = (stream: string) => stats.streams.find((s) => s.stream === versionedStreamName(stream, request.generation))?.lastPosition ?? 0;
  const generation: Generation = {
    generation: request.generation,
    since: request.since,
    process: request.process,
    fromVersion: request.fromVersion,
    streams: new Map(members.map((m) => [m.def.output.name, m.def.name])),
    oldVersions: new Map(members.map((m) => [m.def.name, m.old.version])),
    newVersions: new Map(members.map((m) => [m.def.name, m.version])),
    range: host.range,
    baseCut: new Map(members.map((m) => [m.def.output.name, stats.streams.find((s) => s.stream === m.def.output.name)?.lastPosition ?? 0])),
    inputs: new Map(members.map((m) => [m.def.name, m.def.inputs.map((i) => i.stream.name)])),
    replayedUpTo: new Map(members.map((m) => [m.def.output.name, versionedLast(m.def.output.name)])),
  };
  const store = new GenerationStore(host.store, generation);

  // 1. Shadows, each held back to what its old runner has handled on the inputs that are not switched.
  const started = host.clock.monotonicMs();
  const shadows = members.map((m) => host.makeRunner(m.def, m.version, store, { limit: (i) => (m.switchedInputs[i] === true ? null : (m.old.handledPositions()[i] ?? 0)) }));
  let paused = Number.NaN;
  /** Per member, per input: how far its old runner got (switched inputs: the upstream's new output), which its new one then took. */
  const reached: number[][] = members.map(() => []);
  try {
    step(`starting the new version of ${members.map((m) => m.def.name).join(', ')} beside the old one…`);
    await Promise.all(shadows.map((s) => s.start()));
    const progress = () => step(`catching up: ${shadows.map((s) => `${s.def.name}@${s.version} ${s.status().mode}, ${s.status().eventsIn.toLocaleString('en-US')} events taken`).join('; ')}`);
    await waitFor(host, () => shadows.every((s) => s.status().mode === 'live'), shadows, 'the new version to catch up with the live tail', progress);

    // 2–3. Pause: stop each old runner once it has handled everything upstream wrote, freeze its output, drain its shadow.
    step('pausing the old version…');
    paused = host.clock.monotonicMs();
    for (const [i, m] of members.entries()) {
      const shadow = shadows[i] as ProcessRunner;
      if (i > 0) {
        const last = await lastPositions(host.store, m.def);
        await waitFor(host, () => m.switchedInputs.every((s, j) => !s || (m.old.handledPositions()[j] ?? 0) >= (last[j] ?? 0)), [m.old], `${m.def.name} (old version) to take what its upstream wrote`);
      }
      await m.old.stop();
      if (m.old.status().mode === 'failed') throw new SwitchOverError(`the old version of ${m.def.name} failed while stopping: ${m.old.status().error}`);
      store.freeze(m.def.output.name, (await host.store.stats()).streams.find((s) => s.stream === m.def.output.name)?.lastPosition ?? 0);
      const handled = m.old.handledPositions();
      const limits = await Promise.all(m.def.inputs.map(async (input, j) => (m.switchedInputs[j] === true ? store.lastPosition(input.stream.name) : (handled[j] ?? 0))));
      reached[i] = limits;
      await waitFor(host, () => shadow.handledUpTo(limits), [shadow], `the new version of ${m.def.name} to take what the old one had taken`);
    }
  } catch (e) {
    // Nothing is switched before the record is written: stop the new version and let the old one serve again.
    step('switch-over failed: the old version serves again');
    await rollBack(host, members, shadows);
    throw e;
  }
  const catchUpMs = paused - started;

  // 4. Flip.
  const switchedAt = host.clock.nowMs();
  const baseLast = Object.fromEntries(await Promise.all(members.map(async (m) => [m.def.output.name, (await host.store.stats()).streams.find((s) => s.stream === m.def.output.name)?.lastPosition ?? 0] as const)));
  // Every input up to where the old version stopped had its effects performed by it.
  const effectsDoneUpTo = reached;
  const record: GenerationRecord = {
    generation: request.generation,
    since: request.since,
    process: request.process,
    fromVersion: request.fromVersion,
    streams: Object.fromEntries(generation.streams),
    oldVersions: Object.fromEntries(generation.oldVersions),
    newVersions: Object.fromEntries(generation.newVersions),
    baseLast,
    baseCut: Object.fromEntries(generation.baseCut),
    inputs: Object.fromEntries(generation.inputs),
    replayedUpTo: Object.fromEntries(generation.replayedUpTo ?? []),
    effectsDoneUpTo: Object.fromEntries(members.map((m, i) => [m.def.name, effectsDoneUpTo[i] as number[]])),
    switchedAt,
  };
  try {
    await recordOnce(host, record, seen);
  } catch (e) {
    step('switch-over failed: the old version serves again');
    await rollBack(host, members, shadows);
    throw e;
  }
  host.adoptGeneration(store);
  for (const [i, m] of members.entries()) {
    const shadow = shadows[i] as ProcessRunner;
    shadow.promote(effectsDoneUpTo[i] as number[]);
    host.replaceRunner(m.old, shadow, true);
  }
  const pauseMs = host.clock.monotonicMs() - paused;
  step(`switched ${members.map((m) => m.def.output.name).join(', ')} to generation ${request.generation} (paused ${Math.round(pauseMs)} ms)`);
  return {
    generation: request.generation,
    streams: members.map((m) => m.def.output.name),
    processes: members.map((m) => ({ process: m.def.name, fromVersion: m.old.version, toVersion: m.version })),
    catchUpMs: Math.round(catchUpMs),
    pauseMs: Math.round(pauseMs),
    switchedAt,
  };
}

async function rollBack(host: SwitchHost, members: readonly Member[], shadows: readonly ProcessRunner[]): Promise<void> {
  await Promise.allSettled(shadows.map((s) => s.stop()));
  for (const m of members) {
    if (m.old.status().mode !== 'stopped') continue;
    const again = host.makeRunner(m.old.def, m.old.version, host.store);
    host.replaceRunner(m.old, again, false);
    await again.start();
  }
}

/**
 * Appends the record, retrying hardware faults. An append whose reply was lost may have landed: a
 * retry then meets its own record (a conflict on the expected seq) and that is success.
 */
async function recordOnce(host: SwitchHost, record: GenerationRecord, seen: number): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await recordGeneration(host.store, record, seen, Math.round(record.switchedAt));
      return;
    } catch (e) {
      if (isConflict(e)) {
        const current = await currentGeneration(host.store);
        if (current?.generation === record.generation && current.switchedAt === record.switchedAt) return;
        throw new SwitchOverError(`another switch-over was recorded meanwhile (generation ${current?.generation ?? '?'}): ${(e as Error).message}`);
      }
      if (!isUnavailable(e) || attempt >= 20) throw e;
      await host.timers.sleep(Math.min(2000, 50 * 2 ** attempt));
    }
  }
}

/**
 * A switch-over when no platform runs on the store (`spive replay --switch` on a store nobody holds):
 * only the record. The next platform started with the new code runs the generation from there.
 */
export async function switchOffline(store: EventStore, request: SwitchOverRequest, clock: Clock): Promise<SwitchOverResult> {
  const seen = await generationsSeq(store);
  const defs = generationMembers(request.app, request.process);
  await checkSwitchable(store, defs, request.generation);
  // Nobody may be writing the old version meanwhile (on a shared store, a runner elsewhere): its lease says.
  for (const d of defs) {
    try {
      await store.releaseLease(await store.acquireLease({ stream: d.output.name, range: ALL_SHARDS, owner: 'spive replay --switch', ttlMs: 1000 }));
    } catch (e) {
      if (!isLeaseHeld(e)) throw e;
      throw new SwitchOverError(`${d.output.name} is being written by a running runner (${e.message}): stop it first, or run spive replay --switch against the spive run holding the store`);
    }
  }
  const stats = await store.stats();
  const last = (stream: string) => stats.streams.find((s) => s.stream === stream)?.lastPosition ?? 0;
  const oldVersions: Record<string, string> = {};
  const newVersions: Record<string, string> = {};
  for (const d of defs) {
    const next = d.version ?? request.appVersion;
    newVersions[d.name] = next;
    oldVersions[d.name] = (await lastWriter(store, d.output.name, last(d.output.name))) ?? (d.name === request.process ? (request.fromVersion ?? next) : next);
  }
  const switchedAt = clock.nowMs();
  const baseLast = Object.fromEntries(defs.map((d) => [d.output.name, last(d.output.name)]));
  const switched = new Set(defs.map((d) => d.output.name));
  // Every input there is was handled by the old version: the new one performs effects only for what comes after.
  const composite = (stream: string) => {
    const v = last(versionedStreamName(stream, request.generation));
    return v > 0 ? GENERATION_OFFSET + v : last(stream);
  };
  const effectsDoneUpTo = Object.fromEntries(defs.map((d) => [d.name, d.inputs.map((i) => (switched.has(i.stream.name) ? composite(i.stream.name) : last(i.stream.name)))]));
  await recordGeneration(
    store,
    {
      generation: request.generation,
      since: request.since,
      process: request.process,
      fromVersion: request.fromVersion,
      streams: Object.fromEntries(defs.map((d) => [d.output.name, d.name])),
      oldVersions,
      newVersions,
      baseLast,
      baseCut: baseLast,
      inputs: Object.fromEntries(defs.map((d) => [d.name, d.inputs.map((i) => i.stream.name)])),
      replayedUpTo: Object.fromEntries(defs.map((d) => [d.output.name, last(versionedStreamName(d.output.name, request.generation))])),
      effectsDoneUpTo,
      switchedAt,
    },
    seen,
    Math.round(switchedAt),
  );
  request.onStep?.(`switched ${defs.map((d) => d.output.name).join(', ')} to generation ${request.generation}; start spive run with the new code`);
  return {
    generation: request.generation,
    streams: defs.map((d) => d.output.name),
    processes: defs.map((d) => ({ process: d.name, fromVersion: oldVersions[d.name] as string, toVersion: newVersions[d.name] as string })),
    catchUpMs: 0,
    pauseMs: 0,
    switchedAt,
  };
}

/** The version that wrote a stream's newest event (`meta.v`), if any. */
async function lastWriter(store: EventStore, stream: string, lastPosition: number): Promise<string | undefined> {
  if (lastPosition === 0) return undefined;
  for await (const batch of store.readStream(stream, { fromPosition: lastPosition, batchSize: 1 })) {
    const v = batch[0]?.meta?.v;
    return typeof v === 'string' ? v : undefined;
  }
  return undefined;
}

/** Refuses a second switch-over of the same streams, and downstream versioned streams that a replay wrote (a switch-over rebuilds them itself). */
async function checkSwitchable(store: EventStore, defs: readonly ProcessDef<unknown>[], generation: string): Promise<void> {
  const switched = new Set(defs.map((d) => d.output.name));
  const current = await currentGeneration(store);
  if (current !== undefined && Object.keys(current.streams).some((s) => switched.has(s))) {
    throw new SwitchOverError(`${Object.keys(current.streams).join(', ')} already switched to generation ${current.generation}: a second switch-over of the same streams is not supported yet`);
  }
  const stats = await store.stats();
  for (const d of defs.slice(1)) {
    // Their `live` forks, of an earlier attempt that failed, are fine.
    const name = versionedStreamName(d.output.name, generation);
    if ((stats.streams.find((s) => s.stream === name)?.events ?? 0) === 0) continue;
    for await (const batch of store.readStream(name, { batchSize: 4096 })) {
      const replayed = batch.find((e) => e.seq === 1 && parseFork(e)?.mode !== 'live');
      if (replayed !== undefined) {
        throw new SwitchOverError(`${name} holds a replay of downstream process ${d.name} (shard ${replayed.key}): a switch-over rebuilds the downstream processes itself; replay with the switch-over from the start, into a new version`);
      }
    }
  }
}

/** The generation store for a platform starting on a store that was switched over (null: none). */
export async function switchedGeneration(store: EventStore, app: AppDef, appVersion: string, range: ShardRange): Promise<GenerationStore | null> {
  const record = await currentGeneration(store);
  if (record === undefined) return null;
  for (const [process, version] of Object.entries(record.newVersions)) {
    const p = app.processes.find((q) => q.name === process);
    if (p === undefined) continue; // not run by this app (another one runs it)
    const mine = p.version ?? appVersion;
    if (mine !== version) {
      throw new SwitchOverError(
        `process ${process} is version ${mine} here, but the store was switched over to its version ${version} (generation ${record.generation}, since ${record.since === null ? 'the beginning' : new Date(record.since).toISOString()}): run the app with the new code`,
      );
    }
  }
  return GenerationStore.of(store, record, range);
}

export class SwitchOverError extends SpiveError {
  override name = 'SwitchOverError';
  constructor(message: string) {
    super('INVALID_INPUT', message);
  }
}

async function lastPositions(store: EventStore, def: ProcessDef<unknown>): Promise<number[]> {
  const stats = await store.stats();
  return def.inputs.map((i) => stats.streams.find((s) => s.stream === i.stream.name)?.lastPosition ?? 0);
}

/** Polls `done` until true; fails when a runner it waits on has stopped for good. */
/** Polls `done` until true; fails when a runner it waits on has stopped for good; `report` is called about once a second. */
async function waitFor(host: SwitchHost, done: () => boolean, runners: readonly ProcessRunner[], what: string, report?: () => void): Promise<void> {
  let lastReport = host.clock.monotonicMs();
  while (!done()) {
    const dead = runners.find((r) => ['failed', 'fenced', 'stopped'].includes(r.status().mode));
    if (dead !== undefined) throw new SwitchOverError(`switch-over stopped waiting for ${what}: ${dead.def.name}@${dead.version} is ${dead.status().mode}${dead.status().error === null ? '' : ` (${dead.status().error})`}`);
    if (report !== undefined && host.clock.monotonicMs() - lastReport >= REPORT_MS) {
      lastReport = host.clock.monotonicMs();
      report();
    }
    await host.timers.sleep(POLL_MS);
  }
}
