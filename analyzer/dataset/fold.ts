/**
 * The offline fold: runs an app's processes over input events without a store, a runner or a clock,
 * and hands every append and snapshot the real runtime would have made to a sink — in one pass, at
 * the speed of the handlers themselves.
 *
 * It mirrors `ProcessRunner` (src/runtime/runner.ts) rule for rule, so a generated store is one the
 * runtime could have written:
 * - inputs are merged by event time, ties by input order, and an event is taken only while every
 *   input has one (at the end, a join waits for its quiet inputs exactly like a runner without idle
 *   events); every taken event — platform events included — gets the next merged number `m`;
 * - per input event and shard key (the input's key function, deduplicated, in its order) the real
 *   handler runs on that shard's state; outputs (or a `$progress` marker when there are only effects)
 *   are one append to the same key of the output stream, each event with time = the input's time and
 *   meta `{v, m, in: [inputIndex, inputPosition]}`;
 * - after every `everyEvents` taken events, a snapshot round: each shard changed since the last
 *   round, then the `$round` record `{m, consumed}`, all at position m and time = the watermark.
 * Time-based snapshot policies (`everyMs`) depend on the runner's wall clock and are not reproduced.
 *
 * Processes run in graph order after each input event, so every stream's positions follow the order
 * its writer produced them, as in a live system that keeps up. Effects are counted, never performed.
 */
import type { AppDef, InputEvent, ProcessDef } from '../../src/app/define.ts';
import { ingressStreams } from '../../src/app/define.ts';
import type { EventMeta, JsonValue, Snapshot, StoredEvent } from '../../src/model/event.ts';
import { HandlerBugError, PROGRESS_EVENT, ROUND_SHARD } from '../../src/runtime/runner.ts';
import { HandlerCallContext } from '../../src/runtime/handler-context.ts';
import type { OutputMeta } from '../../src/store/embedded/bulk-writer.ts';
import { copyJson } from '../../src/store/json-copy.ts';

/**
 * One append as the store receives it: events already placed (seq, position) and serialized. An
 * event's `data` is its payload as parsed back from `dataTexts` when a process reads the stream (what
 * the store would hand it), else the value the process emitted: the texts are what gets written.
 */
export interface FoldedBatch {
  readonly stream: string;
  readonly key: string;
  readonly events: readonly StoredEvent[];
  readonly dataTexts: readonly string[];
  /** Outputs: the meta every event of the batch carries (`{v, m, in}`; each event's `meta` too); none for input events. */
  readonly outputMeta?: OutputMeta;
  /** The shard's cell, the same object with every batch of the shard (a bulk writer keeps its entry there: `BulkBatch.cell`). */
  readonly cell: ShardCell;
}

/** One shard of a stream as the fold places it: its last seq, and a slot a sink may use (`BulkShardCell`). */
export interface ShardCell {
  seq: number;
  bulk?: unknown;
}

export interface FoldSink {
  batch(batch: FoldedBatch): void;
  snapshot(snapshot: Omit<Snapshot, 'sizeBytes'>): void;
  /**
   * When present, takes every snapshot instead of `snapshot`, its data as the JSON text (UTF-8 encoding
   * it is left to the sink, which can write it in place).
   */
  snapshotText?(process: string, version: string, shard: string, position: number, time: number, text: string): void;
  /**
   * When present, takes every append of a single event instead of `batch` (inputs, and handler calls
   * with one output or none: nearly all appends), from its parts: the fold then makes no batch, and no
   * event object or meta for a stream nobody reads (`BulkWriter.appendEvent`). `data` is as in
   * `FoldedBatch.events`; `version` undefined: no meta, else the meta is `{v: version, m, in: [in0, in1]}`.
   */
  event?(cell: ShardCell, stream: string, key: string, seq: number, position: number, time: number, type: string, dataText: string, data: unknown, version: string | undefined, m: number, in0: number, in1: number): void;
}

export interface FoldOptions {
  readonly app: AppDef;
  /** Version of processes without an explicit tag (the runtime uses the app's source hash). */
  readonly version: string;
  /**
   * Snapshot round every this many input events, for every process (0: none), or a function of the
   * process giving its own; default: each process's policy.
   */
  readonly snapshotEvery?: number | ((process: ProcessDef<unknown>) => number);
  readonly sink: FoldSink;
}

export interface ProcessFoldStats {
  readonly process: string;
  readonly version: string;
  readonly eventsIn: number;
  readonly eventsOut: number;
  readonly rounds: number;
  readonly shards: number;
  /** Effects requested (not performed offline). */
  readonly effects: number;
  /** Input events left waiting because another input of the process had nothing (joins only). */
  readonly waiting: number;
}

interface ShardState {
  /** Its key (a round walks the states, not the map's entries: no pair per shard and round). */
  readonly key: string;
  state: unknown;
  dirty: boolean;
  /** The cell of this key in the process's output stream, once it has appended (spares a lookup per append). */
  out: ShardCell | undefined;
}

/** A process reading a stream, and which of its inputs the stream is. */
interface Reader {
  readonly fold: ProcessFold;
  readonly inputIndex: number;
}

/** A stream's placement: last seq per key, events so far, and who reads it. */
interface StreamPlace {
  /** Each key's cell: one lookup per append, or none when the caller holds the cell. */
  readonly shards: Map<string, ShardCell>;
  events: number;
  /** The processes reading the stream (undefined: none), resolved once per stream. */
  readonly readers: readonly Reader[] | undefined;
}

/** Places events: the next global position and each shard's next seq, as a store would. */
class Placement {
  lastPosition = 0;
  /** Per stream (nested maps: no key concatenation per event). */
  readonly streams = new Map<string, StreamPlace>();
  firstSeq = 0;

  /** The cell of `key` in a stream, made when the key first appears. */
  cell(place: StreamPlace, key: string): ShardCell {
    let shard = place.shards.get(key);
    if (shard === undefined) place.shards.set(key, (shard = { seq: 0 }));
    return shard;
  }

  /** Places `count` events in a shard (`shard` is its cell in `place`); returns the first position and sets `firstSeq`. */
  place(place: StreamPlace, shard: ShardCell, count: number): number {
    const seq = shard.seq;
    shard.seq = seq + count;
    place.events += count;
    this.firstSeq = seq + 1;
    const firstPosition = this.lastPosition + 1;
    this.lastPosition += count;
    return firstPosition;
  }
}

/** A handler call's outputs as the fold collects them (`HandlerCallContext.outputs`). */
type Outputs = ReadonlyArray<{ readonly type: string; readonly data: unknown }>;

/**
 * Appends one handler call's outputs (a `$progress` marker when there are none) to the sink and
 * delivers them to readers; their meta is `{v: version, m, in: [inputIndex, inputPosition]}`.
 */
type Emit = (process: string, stream: string, key: string, shard: ShardState, outputs: Outputs, time: number, version: string, m: number, inputIndex: number, inputPosition: number) => void;

class ProcessFold {
  readonly version: string;
  private readonly everyEvents: number;
  private readonly queues: StoredEvent[][];
  private readonly heads: number[];
  private readonly lastPosition: number[];
  private readonly lastTime: Array<number | null>;
  readonly shards = new Map<string, ShardState>();
  private m = 0;
  private ctx: HandlerCallContext | undefined;
  private readonly keys: string[] = [];
  private eventsSinceRound = 0;
  eventsIn = 0;
  eventsOut = 0;
  rounds = 0;
  effects = 0;

  constructor(
    readonly def: ProcessDef<unknown>,
    version: string,
    snapshotEvery: FoldOptions['snapshotEvery'],
    private readonly emit: Emit,
    private readonly sink: FoldSink,
  ) {
    this.version = def.version ?? version;
    this.everyEvents = snapshotEvery === undefined ? def.snapshots.everyEvents : typeof snapshotEvery === 'number' ? snapshotEvery : snapshotEvery(def);
    this.queues = def.inputs.map(() => []);
    this.heads = def.inputs.map(() => 0);
    this.lastPosition = def.inputs.map(() => 0);
    this.lastTime = def.inputs.map(() => null);
  }

  deliver(inputIndex: number, event: StoredEvent): void {
    (this.queues[inputIndex] as StoredEvent[]).push(event);
  }

  get waiting(): number {
    let n = 0;
    for (let i = 0; i < this.queues.length; i++) n += (this.queues[i] as StoredEvent[]).length - (this.heads[i] as number);
    return n;
  }

  /** Takes events while every input has one (the runner's `pickNext`). */
  pump(): void {
    const inputs = this.queues.length;
    for (;;) {
      let best = -1;
      let bestTime = 0;
      for (let i = 0; i < inputs; i++) {
        const head = (this.queues[i] as StoredEvent[])[this.heads[i] as number];
        if (head === undefined) {
          this.compact();
          return;
        }
        if (best < 0 || head.time < bestTime) {
          best = i;
          bestTime = head.time;
        }
      }
      const queue = this.queues[best] as StoredEvent[];
      const event = queue[this.heads[best] as number] as StoredEvent;
      this.heads[best] = (this.heads[best] as number) + 1;
      this.lastPosition[best] = event.position;
      this.lastTime[best] = event.time;
      if (!event.type.startsWith('$')) this.m++; // the runner numbers app events only
      this.eventsIn++;
      this.eventsSinceRound++;
      this.handle(best, event);
      if (this.everyEvents > 0 && this.eventsSinceRound >= this.everyEvents) this.round();
    }
  }

  private compact(): void {
    for (let i = 0; i < this.queues.length; i++) {
      const head = this.heads[i] as number;
      const queue = this.queues[i] as StoredEvent[];
      if (head === queue.length) {
        queue.length = 0;
        this.heads[i] = 0;
      } else if (head > 4096) {
        this.queues[i] = queue.slice(head);
        this.heads[i] = 0;
      }
    }
  }

  private handle(inputIndex: number, event: StoredEvent): void {
    if (event.type.startsWith('$')) return; // platform events only move watermarks
    const handler = this.def.handlers[inputIndex]?.[event.type];
    if (handler === undefined) return;
    for (const key of this.keysOf(inputIndex, event)) {
      let shard = this.shards.get(key);
      if (shard === undefined) {
        shard = { key, state: this.def.initial(key), dirty: false, out: undefined };
        this.shards.set(key, shard);
      }
      // One context per fold, readied for each call as a fresh one would be (no allocation per call).
      const ctx = (this.ctx ??= new HandlerCallContext(this.def.name, this.version, key, event.time, this.m)).reset(key, event.time, this.m);
      let next: unknown;
      try {
        next = handler(shard.state, event as InputEvent<string, unknown>, ctx as never);
      } catch (e) {
        throw new HandlerBugError(this.def.name, key, event, e);
      }
      if (next === undefined) throw new HandlerBugError(this.def.name, key, event, 'returned undefined instead of the new state');
      shard.state = next;
      shard.dirty = true;
      // A generated history's effects never happened: they are counted, not performed.
      this.effects += ctx.effects.length;
      if (ctx.outputs.length === 0 && ctx.effects.length === 0) continue;
      this.eventsOut += ctx.outputs.length > 0 ? ctx.outputs.length : 1;
      this.emit(this.def.name, this.def.output.name, key, shard, ctx.outputs, event.time, this.version, this.m, inputIndex, event.position);
    }
  }

  /** The shard keys of an event, in `this.keys` (reused: one call per event, consumed before the next). */
  private keysOf(inputIndex: number, event: StoredEvent): string[] {
    const out = this.keys;
    out.length = 0;
    const keyFn = this.def.inputs[inputIndex]?.key;
    const k = keyFn === undefined ? event.key : keyFn(event as never);
    if (typeof k === 'string' && k !== '') {
      out.push(k);
      return out;
    }
    for (const key of typeof k === 'string' ? [k] : k) {
      if (typeof key !== 'string' || key === '') throw new HandlerBugError(this.def.name, String(key), event, `its input key function returned ${JSON.stringify(key)}, not a non-empty string`);
      if (!out.includes(key)) out.push(key);
    }
    return out;
  }

  private watermark(): number | null {
    let min: number | null = null;
    for (const t of this.lastTime) {
      if (t === null) return null;
      if (min === null || t < min) min = t;
    }
    return min;
  }

  /** The runner's `takeSnapshotRound`: changed shards first, the round marker last. */
  round(): void {
    const time = this.watermark() ?? 0;
    for (const shard of this.shards.values()) {
      if (!shard.dirty) continue;
      this.snapshot(shard.key, time, JSON.stringify({ state: shard.state }));
      shard.dirty = false;
    }
    const round = { m: this.m, consumed: [...this.lastPosition] };
    this.snapshot(ROUND_SHARD, time, JSON.stringify(round));
    this.rounds++;
    this.eventsSinceRound = 0;
  }

  private snapshot(shard: string, time: number, text: string): void {
    if (this.sink.snapshotText !== undefined) this.sink.snapshotText(this.def.name, this.version, shard, this.m, time, text);
    else this.sink.snapshot({ process: this.def.name, version: this.version, shard, position: this.m, time, data: encoder.encode(text) });
  }
}

const encoder = new TextEncoder();

/**
 * An output's payload for a stream nobody reads (the end of the graph): only its text is written, and
 * the sink takes its top-level numbers from this value for the typed columns, so the emitted value
 * serves unless its numbers would not survive the JSON round trip.
 */
function emittedData(data: unknown, text: string): JsonValue {
  return (numbersSurviveJson(data) ? data : JSON.parse(text)) as JsonValue;
}

function stringify(data: unknown, process: string, type: string): string {
  const text = JSON.stringify(data);
  if (text === undefined) throw new TypeError(`process ${process} emitted ${type} with data that is not JSON-serializable`);
  return text;
}

/**
 * True when the top-level numbers of `data` survive a JSON round trip unchanged, so the typed columns
 * the store derives from them (one per top-level numeric field, columns.ts) are the same whether built
 * from `data` or from its parsed text: anything but an object (no fields either way), or a plain object
 * whose numbers are finite and not -0 and whose object values cannot serialize as numbers (no toJSON,
 * no boxed numbers or other class instances).
 */
export function numbersSurviveJson(data: unknown): boolean {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return true;
  if (!isPlain(data)) return false;
  for (const name in data) {
    const v = (data as Record<string, unknown>)[name];
    if (typeof v === 'number') {
      if (!Number.isFinite(v) || Object.is(v, -0)) return false;
    } else if (typeof v === 'object' && v !== null && !Array.isArray(v) && !isPlain(v)) return false;
  }
  return true;
}

function isPlain(o: object): boolean {
  const proto = Object.getPrototypeOf(o) as unknown;
  return (proto === Object.prototype || proto === null) && typeof (o as { toJSON?: unknown }).toJSON !== 'function';
}

/** Processes in graph order: every process after the writers of the streams it reads. */
export function graphOrder(app: AppDef): ProcessDef<unknown>[] {
  const writer = new Map(app.processes.map((p) => [p.output.name, p]));
  const order: ProcessDef<unknown>[] = [];
  const state = new Map<ProcessDef<unknown>, 'visiting' | 'done'>();
  const visit = (p: ProcessDef<unknown>, path: string[]) => {
    const s = state.get(p);
    if (s === 'done') return;
    if (s === 'visiting') throw new TypeError(`app ${app.name}: processes read each other in a cycle (${[...path, p.name].join(' → ')}); the fold needs a graph without cycles`);
    state.set(p, 'visiting');
    for (const input of p.inputs) {
      const upstream = writer.get(input.stream.name);
      if (upstream !== undefined) visit(upstream, [...path, p.name]);
    }
    state.set(p, 'done');
    order.push(p);
  };
  for (const p of app.processes) visit(p, []);
  return order;
}

export class AppFold {
  private readonly placement = new Placement();
  private readonly folds: ProcessFold[];
  private readonly readers = new Map<string, Reader[]>();
  private readonly ingress: Set<string>;
  /** The sink takes one-event appends from their parts (FoldSink.event). */
  private readonly sinkEvent: boolean;

  constructor(private readonly options: FoldOptions) {
    this.sinkEvent = options.sink.event !== undefined;
    const emit: Emit = (process, stream, key, shard, outputs, time, version, m, inputIndex, inputPosition) => this.appendOutputs(process, stream, key, shard, outputs, time, version, m, inputIndex, inputPosition);
    this.folds = graphOrder(options.app).map((def) => new ProcessFold(def, options.version, options.snapshotEvery, emit, options.sink));
    for (const fold of this.folds) {
      fold.def.inputs.forEach((input, inputIndex) => {
        let list = this.readers.get(input.stream.name);
        if (list === undefined) this.readers.set(input.stream.name, (list = []));
        list.push({ fold, inputIndex });
      });
    }
    this.ingress = new Set(ingressStreams(options.app).map((s) => s.name));
  }

  /** Appends one input event to an ingress stream, then lets every process take what it can. */
  input(stream: string, key: string, type: string, time: number, data: JsonValue): void {
    if (!this.ingress.has(stream)) throw new TypeError(`stream ${stream} is not an input stream of app ${this.options.app.name}`);
    const place = this.place(stream);
    const cell = this.placement.cell(place, key);
    const position = this.placement.place(place, cell, 1);
    const seq = this.placement.firstSeq;
    // Input events carry no meta, and readers get the payload as given (it is plain JSON already).
    const readers = place.readers;
    const event: StoredEvent | undefined = readers === undefined && this.sinkEvent ? undefined : { stream, key, seq, position, time, type, data };
    const text = JSON.stringify(data);
    if (this.sinkEvent) (this.options.sink as Required<FoldSink>).event(cell, stream, key, seq, position, time, type, text, data, undefined, 0, 0, 0);
    else this.options.sink.batch({ stream, key, events: [event as StoredEvent], dataTexts: [text], cell });
    if (readers !== undefined) for (let r = 0; r < readers.length; r++) (readers[r] as Reader).fold.deliver((readers[r] as Reader).inputIndex, event as StoredEvent);
    for (let f = 0; f < this.folds.length; f++) (this.folds[f] as ProcessFold).pump();
  }

  /** Global position of the last event placed. */
  get lastPosition(): number {
    return this.placement.lastPosition;
  }

  /** Every process's current state per shard (tests compare it with the runtime's). */
  states(process: string): ReadonlyMap<string, unknown> {
    const fold = this.folds.find((f) => f.def.name === process);
    if (fold === undefined) throw new TypeError(`no process ${process}`);
    return new Map([...fold.shards].map(([key, s]) => [key, s.state]));
  }

  /** Events and shards per stream placed so far (inputs and outputs). */
  streams(): Array<{ stream: string; events: number; shards: number }> {
    return [...this.placement.streams.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([stream, place]) => ({ stream, events: place.events, shards: place.shards.size }));
  }

  stats(): ProcessFoldStats[] {
    return this.folds.map((f) => ({
      process: f.def.name,
      version: f.version,
      eventsIn: f.eventsIn,
      eventsOut: f.eventsOut,
      rounds: f.rounds,
      shards: f.shards.size,
      effects: f.effects,
      waiting: f.waiting,
    }));
  }

  private place(stream: string): StreamPlace {
    let place = this.placement.streams.get(stream);
    if (place === undefined) this.placement.streams.set(stream, (place = { shards: new Map(), events: 0, readers: this.readers.get(stream) }));
    return place;
  }

  /** What `copyOutput` is copying, for its error message (one closure per fold, not one per output). */
  private readonly copying = { process: '', type: '' };
  private readonly copyingField = () => `${this.copying.process}: ${this.copying.type}`;

  /**
   * An output as its readers get it: what the store would hand back, the payload parsed from its JSON
   * (a copy is the same and cheaper, src/store/json-copy.ts).
   */
  private copyOutput(data: unknown, process: string, type: string): JsonValue {
    this.copying.process = process;
    this.copying.type = type;
    return copyJson(data, this.copyingField) as JsonValue;
  }

  private appendOutputs(process: string, stream: string, key: string, shard: ShardState, outputs: Outputs, time: number, version: string, m: number, inputIndex: number, inputPosition: number): void {
    const place = this.place(stream);
    const readers = place.readers;
    const n = outputs.length > 0 ? outputs.length : 1;
    const cell = (shard.out ??= this.placement.cell(place, key));
    const firstPosition = this.placement.place(place, cell, n);
    const firstSeq = this.placement.firstSeq;
    if (n === 1 && this.sinkEvent) {
      // One event (nearly every handler call): no batch, and for a stream nobody reads no event or meta object.
      const o = outputs[0];
      const type = o === undefined ? PROGRESS_EVENT : o.type;
      const text = o === undefined ? 'null' : stringify(o.data, process, o.type);
      const data = o === undefined ? null : readers === undefined ? emittedData(o.data, text) : this.copyOutput(o.data, process, o.type);
      (this.options.sink as Required<FoldSink>).event(cell, stream, key, firstSeq, firstPosition, time, type, text, data, version, m, inputIndex, inputPosition);
      if (readers === undefined) return;
      // The runner's meta, fields in its order.
      const meta = { v: version, m, in: [inputIndex, inputPosition] } as unknown as EventMeta;
      const event: StoredEvent = { stream, key, seq: firstSeq, position: firstPosition, time, type, data, meta };
      for (let r = 0; r < readers.length; r++) (readers[r] as Reader).fold.deliver((readers[r] as Reader).inputIndex, event);
      return;
    }
    // The runner's meta, fields in its order: the writer writes its JSON from the parts (OutputMeta).
    const meta: OutputMeta = { v: version, m, in: [inputIndex, inputPosition] };
    const stored: StoredEvent[] = new Array(n);
    const dataTexts: string[] = new Array(n);
    const eventMeta = meta as unknown as EventMeta;
    if (outputs.length === 0) {
      stored[0] = { stream, key, seq: firstSeq, position: firstPosition, time, type: PROGRESS_EVENT, data: null, meta: eventMeta };
      dataTexts[0] = 'null';
    }
    for (let i = 0; i < outputs.length; i++) {
      const o = outputs[i] as Outputs[number];
      const text = stringify(o.data, process, o.type);
      const data = readers === undefined ? emittedData(o.data, text) : this.copyOutput(o.data, process, o.type);
      stored[i] = { stream, key, seq: firstSeq + i, position: firstPosition + i, time, type: o.type, data, meta: eventMeta };
      dataTexts[i] = text;
    }
    this.options.sink.batch({ stream, key, events: stored, dataTexts, outputMeta: meta, cell });
    if (readers === undefined) return;
    for (const { fold, inputIndex } of readers) for (const e of stored) fold.deliver(inputIndex, e);
  }
}
