/**
 * The final state of every shard of a process, folded from the complete input history in the store
 * with the runner's own merge rule (earliest head first, ties by input order; stop when an input has
 * nothing more). Independent of what any runner held in memory, so it sees every shard. Only app
 * events are numbered (`m`), as the runner numbers them.
 */
import type { ProcessDef } from '../../src/app/define.ts';
import type { StoredEvent } from '../../src/model/event.ts';
import { deriveSeed, seededRandom } from '../../src/random/random.ts';
import type { EventStore } from '../../src/store/event-store.ts';
import { firstAtOrAfter } from '../../src/util/position-search.ts';

export async function readStreamFully(store: EventStore, stream: string): Promise<StoredEvent[]> {
  const all: StoredEvent[] = [];
  for await (const batch of store.readStream(stream, { batchSize: 10_000 })) for (const e of batch) all.push(e);
  return all;
}

/** Streams read in full, each once, for the oracles that look at the same streams. */
export async function readStreamsFully(store: EventStore, streams: Iterable<string>): Promise<Map<string, StoredEvent[]>> {
  const read = new Map<string, StoredEvent[]>();
  for (const stream of streams) if (!read.has(stream)) read.set(stream, await readStreamFully(store, stream));
  return read;
}

/**
 * An input event as the oracles name it: its global position in the store folded (unique, and a
 * number: cheap to collect and compare); `inputName` spells it stream/key#seq for messages.
 */
export type InputId = number | string;

/** An effect a handler requested, under the idempotency key the runner gives it. */
export interface ExpectedEffect {
  readonly gateway: string;
  readonly request: unknown;
}

export interface Folded {
  readonly states: Map<string, unknown>;
  /** Every effect the handlers requested, by idempotency key. */
  readonly effects: Map<string, ExpectedEffect>;
  /** Per shard, the inputs (by position) whose handling emitted outputs or requested effects: what the output must reflect. */
  readonly reflected: Map<string, InputId[]>;
}

export async function foldProcess(p: ProcessDef<unknown>, store: EventStore): Promise<Folded> {
  return foldProcessOver(p, await readStreamsFully(store, p.inputs.map((i) => i.stream.name)));
}

/** `foldProcess` over streams already read in full. */
export function foldProcessOver(p: ProcessDef<unknown>, streams: ReadonlyMap<string, readonly StoredEvent[]>): Folded {
  const fold = new ProcessFold(p, p.inputs.map((i) => streams.get(i.stream.name) ?? []));
  fold.run();
  return fold;
}

/** What one handled input asked for in one shard: its outputs, and how many effects. */
export type FoldOutput = (key: string, event: StoredEvent, outputs: ReadonlyArray<{ readonly type: string; readonly data: unknown }>, effects: number) => void;

/**
 * One process folded over its input sequences with the runner's merge rule. The sequences may grow
 * between calls to `run` (the reference run appends outputs that other processes read): like the
 * runner, the fold takes an event only when every input has one, so what it computes depends only on
 * the sequences, never on when they grew (a Kahn process).
 */
export class ProcessFold implements Folded {
  readonly states = new Map<string, unknown>();
  readonly effects = new Map<string, ExpectedEffect>();
  readonly reflected = new Map<string, InputId[]>();
  private readonly next: number[];
  /** Merged sequence number of the last event taken. */
  private m = 0;
  private ctx: FoldContext | undefined;

  constructor(
    private readonly p: ProcessDef<unknown>,
    private readonly inputs: ReadonlyArray<readonly StoredEvent[]>,
    /** Receives what each handled event emitted (the reference run appends it to the output stream). */
    private readonly output?: FoldOutput,
    /** Keep `effects` and `reflected` (the oracles' expectations; the reference run needs only states). */
    private readonly track = true,
  ) {
    this.next = inputs.map(() => 0);
  }

  /**
   * Takes events until some input has nothing more; returns how many it took. With `drain`, an input
   * with nothing more no longer holds the others back (as if an idle event later than everything had
   * closed it): for the end of the reference run, once nothing upstream can add to the inputs.
   */
  run(options: { drain?: boolean } = {}): number {
    let taken = 0;
    while (this.step(options.drain === true)) taken++;
    return taken;
  }

  private step(drain: boolean): boolean {
    const { p, inputs, next } = this;
    let best = -1;
    let bestTime = 0;
    for (let i = 0; i < inputs.length; i++) {
      const head = (inputs[i] as readonly StoredEvent[])[next[i] as number];
      if (head === undefined) {
        if (drain) continue;
        return false;
      }
      if (best < 0 || head.time < bestTime) {
        best = i;
        bestTime = head.time;
      }
    }
    if (best < 0) return false;
    const event = (inputs[best] as readonly StoredEvent[])[next[best] as number] as StoredEvent;
    next[best] = (next[best] as number) + 1;
    if (event.type.startsWith('$')) return true; // platform events move watermarks and take no number
    const m = ++this.m;
    const handler = p.handlers[best]?.[event.type];
    if (handler === undefined) return true;
    const keyFn = p.inputs[best]?.key;
    const k = keyFn === undefined ? event.key : keyFn(event as never);
    if (typeof k === 'string') this.handle(handler, k, event, m);
    else for (let i = 0; i < k.length; i++) if (k.indexOf(k[i] as string) === i) this.handle(handler, k[i] as string, event, m); // each key once, in order
    return true;
  }

  private handle(handler: NonNullable<ProcessDef<unknown>['handlers'][number][string]>, key: string, event: StoredEvent, m: number): void {
    const { p, states } = this;
    // One context per fold, readied per call: what a call collects is consumed before the next call.
    const ctx = (this.ctx ??= new FoldContext(p, this.track ? this.effects : undefined, this.output !== undefined)).reset(key, event, m);
    const state = states.get(key);
    states.set(key, handler(state !== undefined || states.has(key) ? state : p.initial(key), event as never, ctx as never));
    if (!ctx.visible) return;
    if (this.track) {
      const list = this.reflected.get(key);
      if (list === undefined) this.reflected.set(key, [event.position]);
      else list.push(event.position);
    }
    this.output?.(key, event, ctx.outputs, ctx.effectCount);
  }
}

/** The name of an input in messages: stream/key#seq, found by position among `streams` (sorted by position). */
export function inputName(id: InputId, streams: Iterable<readonly StoredEvent[]>): string {
  if (typeof id === 'string') return id;
  for (const events of streams) {
    const e: StoredEvent | undefined = events[firstAtOrAfter(events, id)];
    if (e?.position === id) return `${e.stream}/${e.key}#${e.seq}`;
  }
  return `@${id}?`;
}

/** The handler context of a fold: the same ids, random streams and effect keys as the runner's. */
class FoldContext {
  visible = false;
  effectCount = 0;
  readonly outputs: Array<{ type: string; data: unknown }> = [];
  private rng: ReturnType<typeof seededRandom> | undefined;
  private ids = 0;
  key = '';
  time = 0;
  private event!: StoredEvent;
  private m = 0;
  readonly process: string;
  readonly version: string;

  constructor(
    p: ProcessDef<unknown>,
    /** Where requested effects are recorded (none: not kept). */
    private readonly effects: Map<string, ExpectedEffect> | undefined,
    private readonly keepOutputs: boolean,
  ) {
    this.process = p.name;
    this.version = p.version ?? '';
  }

  /** Readies the context for a call, as a fresh one would be. */
  reset(key: string, event: StoredEvent, m: number): this {
    this.key = key;
    this.event = event;
    this.time = event.time;
    this.m = m;
    this.visible = false;
    this.effectCount = 0;
    this.rng = undefined;
    this.ids = 0;
    if (this.outputs.length > 0) this.outputs.length = 0;
    return this;
  }

  emit(type: string, data: unknown): void {
    this.visible = true;
    if (this.keepOutputs) this.outputs.push({ type, data });
  }

  effect(gateway: { name: string }, request: unknown): void {
    this.visible = true;
    if (this.effects === undefined) {
      this.effectCount++;
      return;
    }
    this.effects.set(`${this.process}/${this.key}/${this.event.stream}@${this.event.position}/${this.effectCount++}`, { gateway: gateway.name, request });
  }

  get random(): ReturnType<typeof seededRandom> {
    this.rng ??= seededRandom(deriveSeed(this.m, `${this.process}/${this.key}`));
    return this.rng;
  }

  id(): string {
    return `${this.process}:${this.key}:${this.m}:${this.ids++}`;
  }
}

export { canonical, sameJson } from '../../src/util/json-equal.ts';
