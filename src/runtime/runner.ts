/**
 * A runner hosts one process for a range of shards.
 *
 * 1. It takes the lease on its output stream's shard range (single writer, fencing token), renews it,
 *    and gives up cleanly when fenced.
 * 2. It restores the newest complete snapshot round of its own version (others are ignored, with a log
 *    line) and re-reads its inputs from there.
 * 3. It merges its inputs in event-time order: it takes an event only when every input has one
 *    buffered (idle events keep quiet inputs moving) and picks the earliest, ties broken by input order.
 *    The merged sequence number `m` of an input event is therefore the same on every run.
 * 4. Per shard it applies the handler, then — unless the shard's output already reflects this input
 *    (catch-up) — performs the requested effects through gateways and appends the outputs as one
 *    batch, conditional on the shard's last seq and carrying the lease token, with `meta.m` recording
 *    the input. On restart a shard is in catch-up exactly up to the `m` of its last output: each input
 *    is reflected once, and effects happen live only.
 */
import type { InputEvent, ProcessDef } from '../app/define.ts';
import { isConflict, isFenced, isLeaseHeld, isUnavailable, UnavailableError } from '../model/errors.ts';
import type { NewEvent, StoredEvent } from '../model/event.ts';
import { ALL_SHARDS, bucketOf, rangeContains, type ShardRange } from '../model/shard.ts';
import type { Random } from '../random/random.ts';
import type { AppendOptions, AppendResult, EventStore, Lease } from '../store/event-store.ts';
import type { Clock } from '../time/clock.ts';
import type { TimerHandle, Timers } from '../time/timers.ts';
import { assert, AssertionError } from '../util/assert.ts';
import { backoffDelayMs, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.ts';
import { EffectBugError, type GatewayRuntime } from './gateway-runtime.ts';
import { HandlerCallContext, type CollectedEffect } from './handler-context.ts';
import { InFlight, type Tracked } from './in-flight.ts';
import { InputCursor } from './input-cursor.ts';
import type { RuntimeLog } from './log.ts';
import type { RuntimeMutation } from './mutations.ts';

/** How often a shadow held back by its limit looks again (ms). */
const SHADOW_POLL_MS = 5;

/** Event types starting with `$` belong to the platform (idle events, progress markers). */
export const IDLE_EVENT = '$idle';
export const PROGRESS_EVENT = '$progress';
/** The snapshot "shard" that records a complete snapshot round of all shards. */
export const ROUND_SHARD = '$round';

/**
 * The round marker of a runner's range: `$round` for all shards, `$round/<from>-<to>` for a part.
 * A round records that every shard *of its writer's range* was snapshotted at input #m, so runners
 * on other ranges of the same process (`spive run --shards` in several processes) must not restore
 * it: they would skip their own shards' inputs up to m.
 */
export function roundShard(range: ShardRange): string {
  return range.from === ALL_SHARDS.from && range.to === ALL_SHARDS.to ? ROUND_SHARD : `${ROUND_SHARD}/${range.from}-${range.to}`;
}

/** True for round markers of any range (they are not shards). */
export function isRoundShard(shard: string): boolean {
  return shard === ROUND_SHARD || shard.startsWith(`${ROUND_SHARD}/`);
}

const NO_KEYS: readonly string[] = [];

/** A continuation that does nothing (one shared function, not a closure per use). */
function nothing(): void {}

/** What the runner's loop awaits after an event handled without waiting (see `incarnation`). */
const HANDLED: Promise<void> = Promise.resolve();

/** Output appends a runner may have submitted and not yet seen acknowledged. */
const MAX_IN_FLIGHT = 256;

export type RunnerMode = 'starting' | 'catch-up' | 'live' | 'stopped' | 'fenced' | 'failed';

export interface IdlePolicy {
  /** Quiet time before the first idle event (ms). */
  readonly baseMs: number;
  /** Largest spacing between idle events (ms); spacing doubles up to it while quiet. */
  readonly capMs: number;
}

export interface RunnerOptions {
  readonly store: EventStore;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly random: Random;
  readonly log: RuntimeLog;
  readonly gateways: ReadonlyMap<string, GatewayRuntime<unknown>>;
  /** The process version: tags every output and snapshot. */
  readonly version: string;
  /** Who runs it (lease owner), e.g. `spive-run@host:pid`. */
  readonly owner: string;
  readonly range?: ShardRange;
  readonly leaseTtlMs?: number;
  /** Idle events on the output while inputs are quiet; false turns them off. */
  readonly idle?: IdlePolicy | false;
  /** Backoff between restarts after store faults. */
  readonly backoff?: BackoffPolicy;
  /** A series of store faults longer than this raises an overdue warning (default 30 s). */
  readonly overdueAfterMs?: number;
  /** Deliberate breakages for the simulator's planted-bug tests (see mutations.ts). Never in production. */
  readonly mutations?: ReadonlySet<RuntimeMutation>;
  /** Runs as a new version beside the old one until promoted (a switch-over: src/runtime/switch-over.ts). */
  readonly shadow?: ShadowRun;
  /** Per input: effects of inputs at or below were an old version's to perform (after a switch-over). */
  readonly effectsDoneUpTo?: readonly number[];
}

/**
 * A new version's runner during a switch-over, while the old version still serves: it performs no
 * effects (they are the old version's), and takes an input event only once the old runner has
 * handled it, so that at the flip everything it has taken has had its effects performed.
 */
export interface ShadowRun {
  /** Per input: the last position it may take (the old runner's handled position), or null: no limit. */
  readonly limit: (input: number) => number | null;
}

export interface RunnerStatus {
  readonly process: string;
  readonly version: string;
  readonly owner: string;
  readonly mode: RunnerMode;
  readonly range: ShardRange;
  readonly leaseToken: number | null;
  /** Input events taken (including idle events), and the merged sequence number of the last one. */
  readonly eventsIn: number;
  readonly lastM: number;
  /** Output events appended by this runner instance. */
  readonly eventsOut: number;
  readonly idleEventsOut: number;
  /** Input events handled in catch-up (outputs already existed). */
  readonly caughtUp: number;
  /** Event time up to which every input has been read (min over inputs), null until each input has an event. */
  readonly watermark: number | null;
  readonly inputs: ReadonlyArray<{ readonly stream: string; readonly position: number; readonly time: number | null }>;
  readonly shards: number;
  readonly snapshotRounds: number;
  readonly restoredFromM: number;
  /** Store faults survived (each one restarted the runner from the durable state). */
  readonly faults: number;
  /** Set while a series of store faults has lasted longer than the overdue threshold. */
  readonly overdueSinceMs: number | null;
  readonly error: string | null;
}

/** A handler threw or returned nothing: a bug in the app. The runner stops with the event that caused it. */
export class HandlerBugError extends Error {
  override name = 'HandlerBugError';
  constructor(
    readonly process: string,
    readonly key: string,
    readonly event: StoredEvent,
    override readonly cause: unknown,
  ) {
    super(
      `process ${process} stopped: its handler for ${event.stream}/${event.key}#${event.seq} (${event.type}, position ${event.position}) ` +
        `in shard ${key} ${cause instanceof Error ? `threw: ${cause.message}` : String(cause)}`,
    );
  }
}

interface Shard {
  state: unknown;
  /** Merged sequence number of the last input reflected in this shard's output (0: none). */
  lastOutM: number;
  lastSeq: number;
  dirty: boolean;
}

/** A process's handler for one input event type. */
type Handler = NonNullable<ProcessDef<unknown>['handlers'][number][string]>;

interface Round {
  readonly m: number;
  readonly consumed: readonly number[];
}

export class ProcessRunner {
  private mode: RunnerMode = 'starting';
  private readonly abort = new AbortController();
  private readonly shards = new Map<string, Shard>();
  private cursors: InputCursor[] = [];
  private lease: Lease | undefined;
  private renewTimer: TimerHandle | undefined;
  private round: Round | undefined;
  private restoredFromM = 0;
  private m = 0;
  private eventsIn = 0;
  private eventsOut = 0;
  private idleEventsOut = 0;
  private caughtUp = 0;
  private snapshotRounds = 0;
  private eventsSinceRound = 0;
  private lastRoundAtMs = 0;
  private idleSpacingMs = 0;
  /** Time of the last idle event this incarnation appended (null: none yet). */
  private lastIdleTime: number | null = null;
  private lastOutputAtMs = 0;
  private error: unknown;
  private stopping = false;
  /** Output appends submitted but not yet acknowledged (the store keeps their order). */
  private readonly inFlight = new InFlight();
  private inFlightError: unknown;
  /** True while the loop waits for input with nothing in flight. */
  private idle = false;
  private incarnationAbort = new AbortController();
  private catchUpTargets: number[] = [];
  private crashed = false;
  private faults = 0;
  private overdueSinceMs: number | null = null;
  private lastProgressMs: number | undefined;
  private readonly range: ShardRange;
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder();
  /** Resolves when the runner's loop has ended, for whatever reason. */
  readonly done: Promise<void>;
  private started!: () => void;
  private readonly running: Promise<void>;
  private markReady!: () => void;
  private readonly ready = new Promise<void>((resolve) => (this.markReady = resolve));
  /** Per input: position of the last event fully handled (its effects performed, its outputs submitted). */
  private handled: number[] = [];
  private shadow: ShadowRun | undefined;
  /** Per input, after a switch-over: effects of inputs at or below were the old version's to perform. */
  private effectsDoneUpTo: readonly number[] | undefined;
  /** True when pickNext found the next event beyond the shadow limit. */
  private capped = false;

  constructor(
    readonly def: ProcessDef<unknown>,
    private readonly options: RunnerOptions,
  ) {
    this.range = options.range ?? ALL_SHARDS;
    this.shadow = options.shadow;
    this.effectsDoneUpTo = options.effectsDoneUpTo;
    this.running = new Promise((resolve) => (this.started = resolve));
    this.done = this.running.then(() => this.loop());
  }

  /** Starts the loop; resolves once the lease is held and restore is done (or the runner failed). */
  async start(): Promise<void> {
    this.started();
    await this.ready;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.abort.abort(new Error('runner stopped'));
    this.started();
    await this.done;
  }

  get version(): string {
    return this.options.version;
  }

  status(): RunnerStatus {
    return {
      process: this.def.name,
      version: this.options.version,
      owner: this.options.owner,
      mode: this.mode,
      range: this.range,
      leaseToken: this.lease?.token ?? null,
      eventsIn: this.eventsIn,
      lastM: this.m,
      eventsOut: this.eventsOut,
      idleEventsOut: this.idleEventsOut,
      caughtUp: this.caughtUp,
      watermark: this.watermark(),
      inputs: this.cursors.map((c) => ({ stream: c.stream, position: c.lastPosition, time: c.lastTime })),
      shards: this.shards.size,
      snapshotRounds: this.snapshotRounds,
      restoredFromM: this.restoredFromM,
      faults: this.faults,
      overdueSinceMs: this.overdueSinceMs,
      error: this.error === undefined ? null : this.error instanceof Error ? this.error.message : String(this.error),
    };
  }

  /** `status().mode`, without building the status (a supervisor asks often). */
  get currentMode(): RunnerMode {
    return this.mode;
  }

  /** `status().leaseToken`, without building the status. */
  get currentLeaseToken(): number | null {
    return this.lease?.token ?? null;
  }

  /** `status().overdueSinceMs`, without building the status. */
  get currentOverdueSinceMs(): number | null {
    return this.overdueSinceMs;
  }

  /** The failure that stopped the runner, if any. */
  get failure(): unknown {
    return this.error;
  }

  /** In-memory state of a shard (initial state if the runner holds none). For invariants and tests. */
  stateOf(key: string): unknown {
    return this.shards.get(key)?.state ?? this.def.initial(key);
  }

  shardKeys(): string[] {
    return [...this.shards.keys()].sort();
  }

  /** Per input: the position of the last event fully handled (0: none). */
  handledPositions(): readonly number[] {
    return [...this.handled];
  }

  /** True when every input is handled up to `limits` and every output submitted is durable. */
  handledUpTo(limits: readonly number[]): boolean {
    if (this.inFlight.size > 0 || this.inFlightError !== undefined) return false;
    return limits.every((limit, i) => (this.handled[i] ?? 0) >= limit);
  }

  /**
   * Ends a shadow run: from now on effects are performed, except for inputs at or below
   * `effectsDoneUpTo` (per input), which the old version handled.
   */
  promote(effectsDoneUpTo: readonly number[]): void {
    assert(effectsDoneUpTo.length === this.def.inputs.length, 'one position per input');
    this.shadow = undefined;
    this.effectsDoneUpTo = [...effectsDoneUpTo];
  }

  get isShadow(): boolean {
    return this.shadow !== undefined;
  }

  /**
   * True when the runner has handled everything committed to its inputs that it has seen: it is
   * waiting for input, nothing is buffered, and every output it submitted is durable.
   */
  isIdle(): boolean {
    // A platform event left buffered (an idle event a join cannot take until its other input moves)
    // is not work: it only moves a watermark.
    return this.idle && this.inFlight.size === 0 && this.cursors.every((c) => !c.hasBufferedWork());
  }

  /**
   * True when the runner is idle and has handled every event committed to its inputs up to
   * `lastPositions` (a store's stats), but for platform events it has not taken: a join keeps the
   * last idle event of one input buffered while its other input is quiet. For `--until-idle` and the
   * simulator's quiescence check, which reads `store` directly rather than through its network.
   */
  async settledAt(lastPositions: ReadonlyMap<string, number>, store: EventStore = this.options.store): Promise<boolean> {
    if (!this.isIdle()) return false;
    for (const c of this.cursors) {
      const last = lastPositions.get(c.stream) ?? 0;
      if (c.lastPosition >= last) continue;
      read: for await (const batch of store.readStream(c.stream, { fromPosition: c.lastPosition + 1, batchSize: 256 })) {
        for (const e of batch) {
          if (e.position > last) break read;
          if (!e.type.startsWith('$')) return false;
        }
      }
    }
    return this.isIdle();
  }

  // ------------------------------------------------------------------ main loop

  private async loop(): Promise<void> {
    const { log } = this.options;
    try {
      // Hardware faults (the store or network not answering) are retried forever: the runner drops
      // everything it holds in memory and starts a new *incarnation* from the durable state — the same
      // path as a restart, so it is exactly as correct. A long series raises an overdue warning.
      let firstFaultMs: number | undefined;
      for (let attempt = 1; !this.stopping; attempt++) {
        try {
          await this.incarnation();
          break;
        } catch (e) {
          if (!isUnavailable(e) || this.stopping) throw e;
          const now = this.options.clock.monotonicMs();
          if (this.lastProgressMs !== undefined && firstFaultMs !== undefined && this.lastProgressMs > firstFaultMs) {
            firstFaultMs = undefined; // the last series ended in progress: this is a new one
            this.overdueSinceMs = null;
          }
          firstFaultMs ??= now;
          this.faults++;
          log.write({ level: 'warn', kind: 'runner.fault', message: `${this.def.name}: ${(e as Error).message}; retrying (attempt ${attempt})`, fields: { ...this.fields(), attempt } });
          if (this.overdueSinceMs === null && now - firstFaultMs >= (this.options.overdueAfterMs ?? 30_000)) {
            this.overdueSinceMs = this.options.clock.nowMs();
            log.write({ level: 'warn', kind: 'runner.overdue', message: `${this.def.name}: store faults for ${Math.round(now - firstFaultMs)} ms (${attempt} attempts)`, fields: this.fields() });
          }
          await this.endIncarnation();
          await this.options.timers.sleep(backoffDelayMs(this.options.backoff ?? DEFAULT_BACKOFF, Math.min(attempt, 12), this.options.random), this.abort.signal).catch(() => undefined);
        }
      }
      if (!this.crashed) await this.drainAppends();
      this.mode = 'stopped';
    } catch (e) {
      if (this.stopping && !(e instanceof HandlerBugError) && !(e instanceof EffectBugError)) {
        this.mode = 'stopped';
      } else if (isFenced(e)) {
        this.mode = 'fenced';
        this.error = e;
        log.write({ level: 'warn', kind: 'runner.fenced', message: `${this.def.name}: fenced, giving up its shards: ${(e as Error).message}`, fields: this.fields() });
      } else {
        this.mode = 'failed';
        this.error = e;
        log.write({ level: 'error', kind: 'runner.failed', message: `${this.def.name}: ${e instanceof Error ? e.message : String(e)}`, fields: this.fields() });
      }
    } finally {
      if (!this.crashed) await this.inFlight.empty();
      this.markReady();
      this.renewTimer?.cancel();
      this.abort.abort(new Error('runner ended'));
      this.incarnationAbort.abort(new Error('runner ended'));
      for (const c of this.cursors) await c.close().catch(() => undefined);
      if (this.lease !== undefined && this.mode !== 'fenced' && !this.crashed) {
        await this.options.store.releaseLease(this.lease).catch(() => undefined);
      }
    }
  }

  /** One life of the runner: lease, restore, then take inputs until stopped. */
  private async incarnation(): Promise<void> {
    const { log } = this.options;
    this.incarnationAbort = new AbortController();
    if (this.abort.signal.aborted) return;
    const stop = () => this.incarnationAbort.abort(new Error('runner stopped'));
    this.abort.signal.addEventListener('abort', stop, { once: true });
    try {
      if (this.lease === undefined) await this.acquireLease();
      await this.restore();
      // Catch-up lasts until the inputs are read up to where they ended when this incarnation began.
      const stats = await this.options.store.stats();
      this.catchUpTargets = this.def.inputs.map((i) => stats.streams.find((s) => s.stream === i.stream.name)?.lastPosition ?? 0);
      const consumed = this.round?.consumed ?? this.def.inputs.map(() => 0);
      this.cursors = this.def.inputs.map((input, i) => new InputCursor(this.options.store, input.stream.name, consumed[i] ?? 0, this.incarnationAbort.signal));
      this.handled = this.def.inputs.map((_, i) => consumed[i] ?? 0);
      this.mode = 'catch-up';
      this.markReady();
      this.lastOutputAtMs = this.options.clock.monotonicMs();
      this.lastRoundAtMs = this.options.clock.monotonicMs();
      log.write({ level: 'info', kind: 'runner.started', message: `${this.def.name}@${this.options.version} started from input #${this.m}`, fields: this.fields() });
      while (!this.stopping) {
        const next = this.pickNext();
        if (next === undefined) {
          const failed = this.cursors.find((c) => c.failure !== undefined);
          if (failed !== undefined) throw failed.failure;
          if (this.cursors.some((c) => c.isEnded)) {
            if (this.stopping) break;
            // The store closed under a running runner (its machine restarted): a fault, retried.
            throw new UnavailableError(`reading ${this.cursors.find((c) => c.isEnded)?.stream}`, 'the store closed the subscription');
          }
          if (this.inFlight.size > 0 || this.inFlightError !== undefined) await this.drainAppends();
          this.goLive();
          this.lastProgressMs = this.options.clock.monotonicMs();
          this.idle = true;
          try {
            await this.waitForInput();
          } finally {
            this.idle = false;
          }
          continue;
        }
        const cursor = this.cursors[next] as InputCursor;
        const event = cursor.take();
        // Only app events are numbered: platform events land at timing-dependent places (an idle
        // event when an input was quiet), and `m` seeds ctx.id() and ctx.random, which must depend
        // on the app's input sequences alone.
        if (!event.type.startsWith('$')) this.m++;
        this.eventsIn++;
        this.eventsSinceRound++;
        // One microtask turn per event even when handling did not wait (on a promise that is already
        // settled: no new one per event): an append the store refused at once is seen (inFlightError)
        // before the next event's outputs go out (see the exactly-once test of a found counterexample).
        await (this.handle(next, event) ?? HANDLED);
        this.handled[next] = event.position;
        if (this.snapshotDue()) await this.takeSnapshotRound();
      }
    } finally {
      this.abort.signal.removeEventListener('abort', stop);
    }
  }

  /** Drops everything held in memory after a fault, so the next incarnation starts from the store. */
  private async endIncarnation(): Promise<void> {
    this.incarnationAbort.abort(new Error('runner restarting after a fault'));
    await this.inFlight.empty();
    this.inFlightError = undefined;
    for (const c of this.cursors) await c.close().catch(() => undefined);
    this.cursors = [];
    this.shards.clear();
    this.round = undefined;
    this.m = 0;
    this.eventsSinceRound = 0;
    this.lastIdleTime = null;
  }

  /**
   * Dies on the spot, as a process killed by the OS would: no lease release, no waiting for
   * in-flight work (what was sent may still land). For the simulator's crash faults.
   */
  async crash(): Promise<void> {
    this.crashed = true;
    this.stopping = true;
    this.abort.abort(new Error('runner crashed'));
    this.started();
    await this.done;
  }

  private fields(): Record<string, unknown> {
    return { process: this.def.name, version: this.options.version, owner: this.options.owner };
  }

  /** Index of the input whose head comes first, or undefined when some input has nothing buffered. */
  private pickNext(): number | undefined {
    let best: number | undefined;
    let bestTime = 0;
    this.capped = false;
    for (let i = 0; i < this.cursors.length; i++) {
      const head = (this.cursors[i] as InputCursor).head();
      if (head === undefined) return undefined;
      const limit = this.shadow?.limit(i) ?? null;
      if (limit !== null && head.position > limit) {
        this.capped = true;
        return undefined;
      }
      if (best === undefined || head.time < bestTime) {
        best = i;
        bestTime = head.time;
      }
    }
    return best;
  }

  private goLive(): void {
    if (this.mode !== 'catch-up') return;
    // An input is caught up once taken up to the target, or read up to it with only platform events
    // left (a join holds the idle event of a quiet input it cannot take yet).
    const behind = (c: InputCursor, target: number) => c.lastPosition < target && (c.readPosition < target || c.hasBufferedWork());
    if (this.cursors.some((c, i) => behind(c, this.catchUpTargets[i] ?? 0))) return;
    this.mode = 'live';
    this.options.log.write({ level: 'info', kind: 'runner.live', message: `${this.def.name}: caught up at input #${this.m}; live`, fields: { ...this.fields(), m: this.m } });
  }

  private waitForInput(): Promise<void> {
    // One input, no shadow limit, no idle events (most processes): its fill, with no arrays.
    if (this.cursors.length === 1 && !this.capped && this.options.idle === false) return (this.cursors[0] as InputCursor).fill();
    const waiting = this.cursors.filter((c) => c.head() === undefined).map((c) => c.fill());
    // A shadow held back by its limit looks again shortly: the old runner moves on without telling it.
    if (this.capped) waiting.push(this.options.timers.sleep(SHADOW_POLL_MS, this.incarnationAbort.signal).catch(() => undefined));
    const idle = this.options.idle === false ? undefined : this.idleTimer();
    // One input to wait for and no idle timer (the common case): its fill itself, no race.
    if (idle === undefined && waiting.length === 1) return waiting[0] as Promise<void>;
    return this.waitForFirst(waiting, idle);
  }

  /** Waits for the first of several inputs or the idle timer; emits an idle event when the timer wins. */
  private async waitForFirst(waiting: Promise<void>[], idle: { fired: Promise<'idle'>; handle: TimerHandle } | undefined): Promise<void> {
    try {
      const woke = await Promise.race([...waiting.map((p) => p.then(() => 'input' as const)), ...(idle === undefined ? [] : [idle.fired])]);
      if (woke === 'idle') await this.emitIdle();
    } finally {
      idle?.handle.cancel();
    }
  }

  // ------------------------------------------------------------------ handling one input event

  /**
   * Handles one input event in every shard it goes to. Synchronous while nothing needs waiting (a
   * known shard, no live effect, room for the append): this runs once per input event, and an async
   * function costs its promise and frame per call; the rest continues after the first wait. Returns
   * that wait, or undefined when the event is fully handled.
   */
  private handle(inputIndex: number, event: StoredEvent): Promise<void> | undefined {
    if (event.type.startsWith('$')) return undefined; // platform events only move watermarks
    const input = this.def.inputs[inputIndex];
    const handler = this.def.handlers[inputIndex]?.[event.type];
    assert(input !== undefined, 'inputs and cursors line up');
    if (handler === undefined) return undefined;
    const keys = this.keysOf(inputIndex, event);
    if (typeof keys !== 'string') return this.handleKeys(inputIndex, event, handler, keys, 0);
    // One key (the common case): as handleKeys over [key], without the array.
    const shard = this.shards.get(keys);
    if (shard === undefined) return this.shard(keys).then(() => this.handleKeys(inputIndex, event, handler, [keys], 0));
    const wait = this.handleShard(inputIndex, event, handler, keys, shard);
    // The same continuation as handleKeys' (a `then` whose callback finds no key left).
    return wait === undefined ? undefined : wait.then(nothing);
  }

  /** Handles `keys[from..]` of one input event, in order (see `handle`). */
  private handleKeys(inputIndex: number, event: StoredEvent, handler: Handler, keys: readonly string[], from: number): Promise<void> | undefined {
    for (let k = from; k < keys.length; k++) {
      const key = keys[k] as string;
      const shard = this.shards.get(key);
      if (shard === undefined) return this.shard(key).then(() => this.handleKeys(inputIndex, event, handler, keys, k));
      const wait = this.handleShard(inputIndex, event, handler, key, shard);
      if (wait !== undefined) return wait.then(() => this.handleKeys(inputIndex, event, handler, keys, k + 1));
    }
    return undefined;
  }

  /** The handler's call in one shard, its effects and its outputs; a promise only when it must wait. */
  private handleShard(inputIndex: number, event: StoredEvent, handler: Handler, key: string, shard: Shard): Promise<void> | undefined {
    const ctx = this.context(key, event.time);
    let next: unknown;
    try {
      next = handler(shard.state, event as InputEvent<string, unknown>, ctx);
    } catch (e) {
      throw new HandlerBugError(this.def.name, key, event, e);
    }
    if (next === undefined) throw new HandlerBugError(this.def.name, key, event, 'returned undefined instead of the new state');
    shard.state = next;
    shard.dirty = true;
    if (this.m <= shard.lastOutM) {
      this.caughtUp++;
      if (this.options.mutations?.has('effects-during-catch-up') && ctx.effects.length > 0) return this.performEffects(key, inputIndex, event, [...ctx.effects]);
      for (const effect of ctx.effects) {
        this.gatewayFor(effect.gateway).suppress(effect.request, this.effectCall(key, inputIndex, event, effect.index));
      }
      return undefined;
    }
    if (this.inFlightError !== undefined) throw this.inFlightError;
    if (ctx.outputs.length === 0 && ctx.effects.length === 0) return undefined;
    // A shadow's effects, and a promoted one's for inputs the old version handled, are the old version's.
    const oldVersions = this.shadow !== undefined || event.position <= (this.effectsDoneUpTo?.[inputIndex] ?? 0);
    if (ctx.effects.length > 0 && !oldVersions) return this.performThenAppend(key, shard, inputIndex, event, ctx);
    for (const effect of ctx.effects) this.gatewayFor(effect.gateway).suppress(effect.request, this.effectCall(key, inputIndex, event, effect.index));
    return this.appendOutputs(key, shard, inputIndex, event, ctx);
  }

  /** Live effects are performed (in order, each after the last succeeded) before the outputs are appended. */
  private async performThenAppend(key: string, shard: Shard, inputIndex: number, event: StoredEvent, ctx: HandlerCallContext): Promise<void> {
    // `ctx` is not reset meanwhile: the runner handles the next event only after this one.
    await this.performEffects(key, inputIndex, event, ctx.effects);
    const full = this.appendOutputs(key, shard, inputIndex, event, ctx);
    if (full !== undefined) await full;
  }

  private async performEffects(key: string, inputIndex: number, event: StoredEvent, effects: readonly CollectedEffect[]): Promise<void> {
    for (const effect of effects) await this.gatewayFor(effect.gateway).perform(effect.request, this.effectCall(key, inputIndex, event, effect.index), this.abort.signal);
  }

  /**
   * The handler context for one call: one per runner, reset per call (a handler call runs once per
   * input event and shard). Its outputs and effects are consumed before the next call: appendOutputs
   * copies the outputs into events, and effects keep only their requests.
   */
  private ctx: HandlerCallContext | undefined;

  private context(key: string, time: number): HandlerCallContext {
    if (this.ctx === undefined) this.ctx = new HandlerCallContext(this.def.name, this.options.version, key, time, this.m);
    else this.ctx.reset(key, time, this.m);
    return this.ctx;
  }

  /** The shards of this runner's range an input event goes to, each once, in order: one key as itself (no array). */
  private keysOf(inputIndex: number, event: StoredEvent): string | readonly string[] {
    const keyFn = this.def.inputs[inputIndex]?.key;
    const k = keyFn === undefined ? event.key : keyFn(event as never);
    if (typeof k === 'string') {
      if (k === '') throw new HandlerBugError(this.def.name, k, event, `its input key function returned ${JSON.stringify(k)}, not a non-empty string`);
      return rangeContains(this.range, bucketOf(k)) ? k : NO_KEYS;
    }
    const out: string[] = [];
    for (const key of k) {
      if (typeof key !== 'string' || key === '') throw new HandlerBugError(this.def.name, String(key), event, `its input key function returned ${JSON.stringify(key)}, not a non-empty string`);
      if (rangeContains(this.range, bucketOf(key)) && !out.includes(key)) out.push(key);
    }
    return out;
  }

  private gatewayFor(name: string): GatewayRuntime<unknown> {
    const g = this.options.gateways.get(name);
    if (g === undefined) throw new Error(`process ${this.def.name} requested an effect through gateway '${name}', which the app does not declare`);
    return g;
  }

  private effectCall(key: string, inputIndex: number, event: StoredEvent, index: number) {
    const stream = this.def.inputs[inputIndex]?.stream.name;
    return { idempotencyKey: `${this.def.name}/${key}/${stream}@${event.position}/${index}`, process: this.def.name, key };
  }

  /** Submits the outputs of one input; returns a promise only when too many appends are in flight (wait for one). */
  private appendOutputs(key: string, shard: Shard, inputIndex: number, event: StoredEvent, ctx: HandlerCallContext): Promise<void> | undefined {
    const meta = { v: this.options.version, m: this.m, in: [inputIndex, event.position] };
    const outputs = ctx.outputs;
    let events: NewEvent<unknown>[];
    if (outputs.length === 0) events = [{ type: PROGRESS_EVENT, time: event.time, data: null, meta }];
    else {
      events = new Array<NewEvent<unknown>>(outputs.length);
      for (let i = 0; i < outputs.length; i++) {
        const o = outputs[i] as { type: string; data: unknown };
        events[i] = { type: o.type, time: event.time, data: o.data, meta };
      }
    }
    const token = this.lease?.token;
    // Pipelined: the append is submitted now and acknowledged later; the store commits in submission
    // order and groups concurrent appends into one fsync. The shard's head advances optimistically;
    // a failure stops the runner before anything that depends on durability (snapshots, idle events).
    const expectSeq = shard.lastSeq;
    shard.lastSeq += events.length;
    shard.lastOutM = this.m;
    this.eventsOut += events.length;
    this.lastOutputAtMs = this.options.clock.monotonicMs();
    this.idleSpacingMs = 0;
    const mutations = this.options.mutations;
    const conditional = mutations?.has('unconditional-append') !== true;
    const appendOptions: AppendOptions = conditional ? (token === undefined ? { expect: { lastSeq: expectSeq } } : { expect: { lastSeq: expectSeq }, token }) : token === undefined ? {} : { token };
    let attempt = this.options.store.append(this.def.output.name, key, events, appendOptions);
    if (mutations?.has('blind-retry')) {
      attempt = attempt.catch((e: unknown) => (isUnavailable(e) ? this.options.store.append(this.def.output.name, key, events, token === undefined ? {} : { token }) : Promise.reject(e)));
    }
    this.inFlight.add(attempt, new OutputAppend(this, key, expectSeq, events.length));
    if (this.inFlightError !== undefined) throw this.inFlightError;
    return this.inFlight.size >= MAX_IN_FLIGHT ? this.inFlight.below(MAX_IN_FLIGHT) : undefined;
  }

  /** How an output append of shard `key`, planned to follow seq `expectSeq`, settled (see OutputAppend). */
  outputLanded(key: string, expectSeq: number, count: number, result: AppendResult): void {
    // An invariant, checked where a throw would go unobserved: the runner stops with it.
    if (result.lastSeq !== expectSeq + count) {
      this.inFlightError ??= new AssertionError(`invariant violated: output ${this.def.output.name}/${key} landed at seq ${result.lastSeq - count + 1}, planned ${expectSeq + 1} (an append was lost or duplicated)`);
    }
  }

  /** An output append of shard `key`, planned to follow seq `expectSeq`, failed with `e`. */
  outputFailed(key: string, expectSeq: number, e: unknown): void {
    if (isConflict(e) && e.conflict.actual.lastSeq < expectSeq) {
      // The shard is behind what this runner planned: an earlier append of its own never landed
      // (a lost request). A fault, not a bug: restart from the store.
      this.inFlightError ??= new UnavailableError(`append to ${this.def.output.name}/${key}`, `an earlier append did not land (${e.message})`);
    } else {
      this.inFlightError ??= isConflict(e)
        ? new Error(`process ${this.def.name}: output shard ${key} changed underneath its single writer (${(e as Error).message}); another writer must be running without a lease`)
        : e;
    }
  }

  /** Waits until every submitted output is durable; rethrows the first failure. */
  private async drainAppends(): Promise<void> {
    if (this.inFlight.size > 0) await this.inFlight.empty();
    if (this.inFlightError !== undefined) throw this.inFlightError;
  }

  // ------------------------------------------------------------------ shards, leases, snapshots

  private async shard(key: string): Promise<Shard> {
    const known = this.shards.get(key);
    if (known !== undefined) return known;
    const { store } = this.options;
    let state = this.def.initial(key);
    if (this.round !== undefined) {
      const snap = await store.getSnapshot({ process: this.def.name, version: this.options.version, shard: key, atOrBefore: this.round.m });
      if (snap !== undefined) state = JSON.parse(this.decoder.decode(snap.data)).state;
    }
    const head = await store.head(this.def.output.name, key);
    let lastOutM = 0;
    if (head.lastSeq > 0) {
      for await (const batch of store.readShard(this.def.output.name, key, { fromSeq: head.lastSeq, batchSize: 1 })) {
        const last = batch[batch.length - 1];
        const m = last?.meta?.m;
        if (typeof m !== 'number') {
          throw new Error(`output ${this.def.output.name}/${key}#${head.lastSeq} has no input reference (meta.m): was it written by something other than process ${this.def.name}?`);
        }
        lastOutM = m;
      }
    }
    const shard: Shard = { state, lastOutM, lastSeq: head.lastSeq, dirty: false };
    this.shards.set(key, shard);
    return shard;
  }

  private async acquireLease(): Promise<void> {
    const { store, timers, random, log } = this.options;
    const ttlMs = this.options.leaseTtlMs ?? 10_000;
    for (let attempt = 1; !this.stopping; attempt++) {
      try {
        this.lease = await store.acquireLease({ stream: this.def.output.name, range: this.range, owner: this.options.owner, ttlMs });
        log.write({ level: 'info', kind: 'lease.acquired', message: `${this.def.name}: holds ${this.def.output.name} [${this.range.from}, ${this.range.to}) with token ${this.lease.token}`, fields: { ...this.fields(), token: this.lease.token } });
        this.scheduleRenewal(ttlMs);
        return;
      } catch (e) {
        if (!isLeaseHeld(e)) throw e;
        if (attempt === 1) log.write({ level: 'warn', kind: 'lease.waiting', message: `${this.def.name}: waiting for the lease: ${(e as Error).message}`, fields: this.fields() });
        await timers.sleep(backoffDelayMs({ baseMs: ttlMs / 10, capMs: ttlMs }, attempt, random), this.abort.signal);
      }
    }
  }

  private scheduleRenewal(ttlMs: number): void {
    this.renewTimer = this.options.timers.after(ttlMs / 3, () => {
      const lease = this.lease;
      if (lease === undefined || this.stopping) return;
      this.options.store.renewLease(lease, ttlMs).then(
        (renewed) => {
          this.lease = renewed;
          if (!this.stopping) this.scheduleRenewal(ttlMs);
        },
        (e: unknown) => {
          if (isFenced(e)) {
            this.error = e;
            this.mode = 'fenced';
            this.stopping = true;
            this.abort.abort(e);
            this.options.log.write({ level: 'warn', kind: 'runner.fenced', message: `${this.def.name}: lost its lease, giving up: ${(e as Error).message}`, fields: this.fields() });
          } else if (!this.stopping) {
            this.scheduleRenewal(ttlMs); // a fault: try again soon
          }
        },
      );
    });
  }

  private async restore(): Promise<void> {
    const { store, log } = this.options;
    const foreign = (await store.listSnapshots({ process: this.def.name })).filter((s) => s.version !== this.options.version);
    if (foreign.length > 0) {
      const versions = [...new Set(foreign.map((s) => s.version))].sort();
      log.write({ level: 'info', kind: 'snapshot.ignored', message: `${this.def.name}@${this.options.version}: ignoring ${foreign.length} snapshots made by other versions (${versions.join(', ')})`, fields: { ...this.fields(), versions } });
    }
    // This range's own rounds, or an all-shards round (it covers every range); the newer of the two.
    const candidates = await Promise.all(
      [...new Set([roundShard(this.range), ROUND_SHARD])].map((shard) => store.getSnapshot({ process: this.def.name, version: this.options.version, shard })),
    );
    const round = candidates.reduce<(typeof candidates)[number]>((newest, c) => (c !== undefined && (newest === undefined || c.position > newest.position) ? c : newest), undefined);
    if (round === undefined) return;
    const decoded = JSON.parse(this.decoder.decode(round.data)) as Round;
    if (decoded.consumed.length !== this.def.inputs.length) {
      log.write({ level: 'warn', kind: 'snapshot.ignored', message: `${this.def.name}: snapshot round at #${decoded.m} has ${decoded.consumed.length} inputs, the process has ${this.def.inputs.length}; starting from scratch`, fields: this.fields() });
      return;
    }
    this.round = decoded;
    this.m = decoded.m;
    this.restoredFromM = decoded.m;
    // Load every snapshotted shard now, so the app view (invariants, status) sees all of them.
    const keys = new Set((await store.listSnapshots({ process: this.def.name, version: this.options.version })).filter((s) => !isRoundShard(s.shard) && s.position <= decoded.m).map((s) => s.shard));
    for (const key of [...keys].sort()) if (rangeContains(this.range, bucketOf(key))) await this.shard(key);
    log.write({ level: 'info', kind: 'snapshot.restored', message: `${this.def.name}: restored snapshot round at input #${decoded.m}`, fields: { ...this.fields(), m: decoded.m } });
  }

  /** True when the snapshot policy asks for a round now (checked after every input event, without an await). */
  private snapshotDue(): boolean {
    const policy = this.def.snapshots;
    const byCount = policy.everyEvents > 0 && this.eventsSinceRound >= policy.everyEvents;
    return byCount || (policy.everyMs > 0 && this.options.clock.monotonicMs() - this.lastRoundAtMs >= policy.everyMs);
  }

  /** Snapshots every shard changed since the last round, then the round marker (last, so a torn round is ignored). */
  async takeSnapshotRound(): Promise<void> {
    const { store } = this.options;
    // A round must never be ahead of durable outputs, or a restart would skip inputs whose outputs were lost.
    await this.drainAppends();
    const time = this.takenTime() ?? 0;
    // Submitted together, so the store commits them in one group (one fsync).
    const puts: Promise<void>[] = [];
    for (const [key, shard] of this.shards) {
      if (!shard.dirty) continue;
      puts.push(store.putSnapshot({ process: this.def.name, version: this.options.version, shard: key, position: this.m, time, data: this.encoder.encode(JSON.stringify({ state: shard.state })) }));
      shard.dirty = false;
    }
    await Promise.all(puts);
    const round: Round = { m: this.m, consumed: this.cursors.map((c) => c.lastPosition) };
    await store.putSnapshot({ process: this.def.name, version: this.options.version, shard: roundShard(this.range), position: this.m, time, data: this.encoder.encode(JSON.stringify(round)) });
    this.round = round;
    this.snapshotRounds++;
    this.eventsSinceRound = 0;
    this.lastRoundAtMs = this.options.clock.monotonicMs();
  }

  // ------------------------------------------------------------------ idle events and watermarks

  /** Event time up to which every input has been taken (min over inputs; null until each has had one): a snapshot round's time. */
  private takenTime(): number | null {
    let min: number | null = null;
    for (const c of this.cursors) {
      if (c.lastTime === null) return null;
      if (min === null || c.lastTime < min) min = c.lastTime;
    }
    return min;
  }

  /**
   * The earliest event time this runner can still take: per input, the time of its buffered head (an
   * input is in time order, so nothing earlier follows it) or, with nothing buffered, of the last
   * event taken; the minimum over inputs. A head counts because a join holds the idle event of one
   * quiet input while another drains, and its own idle events must still say how far it has got.
   */
  private watermark(): number | null {
    let min: number | null = null;
    for (const c of this.cursors) {
      const head = c.head();
      const t = head === undefined ? c.lastTime : c.lastTime === null ? head.time : Math.max(head.time, c.lastTime);
      if (t === null) return null;
      if (min === null || t < min) min = t;
    }
    return min;
  }

  private idleTimer(): { fired: Promise<'idle'>; handle: TimerHandle } | undefined {
    const policy = this.options.idle ?? { baseMs: 1000, capMs: 60_000 };
    if (policy === false || this.watermark() === null) return undefined;
    const quietMs = this.options.clock.monotonicMs() - this.lastOutputAtMs;
    const spacing = this.idleSpacingMs === 0 ? policy.baseMs : this.idleSpacingMs;
    let handle!: TimerHandle;
    const fired = new Promise<'idle'>((resolve) => {
      handle = this.options.timers.after(Math.max(0, spacing - quietMs), () => resolve('idle'));
    });
    return { fired, handle };
  }

  private async emitIdle(): Promise<void> {
    const policy = this.options.idle === false ? undefined : (this.options.idle ?? { baseMs: 1000, capMs: 60_000 });
    const watermark = this.watermark();
    if (policy === undefined || watermark === null) return;
    // An idle event that repeats the last one's time tells a reader nothing: back off without it.
    if (watermark !== this.lastIdleTime) {
      const token = this.lease?.token;
      await this.options.store.append(this.def.output.name, idleKey(this.range), [{ type: IDLE_EVENT, time: watermark, data: null, meta: { v: this.options.version } }], token === undefined ? {} : { token });
      this.lastIdleTime = watermark;
      this.idleEventsOut++;
    }
    this.lastOutputAtMs = this.options.clock.monotonicMs();
    this.idleSpacingMs = Math.min(policy.capMs, (this.idleSpacingMs === 0 ? policy.baseMs : this.idleSpacingMs) * 2);
  }
}

/** An output append in flight: what its outcome is checked against, as fields of one object (one per append). */
class OutputAppend implements Tracked<AppendResult> {
  constructor(
    private readonly runner: ProcessRunner,
    private readonly key: string,
    private readonly expectSeq: number,
    private readonly count: number,
  ) {}

  landed(result: AppendResult): void {
    this.runner.outputLanded(this.key, this.expectSeq, this.count, result);
  }

  failed(error: unknown): void {
    this.runner.outputFailed(this.key, this.expectSeq, error);
  }
}

/** The shard a runner writes its idle events to: the first `$idle/N` that falls in its range. */
export function idleKey(range: ShardRange): string {
  for (let i = 0; ; i++) {
    const key = `${IDLE_EVENT}/${i}`;
    if (rangeContains(range, bucketOf(key))) return key;
  }
}
