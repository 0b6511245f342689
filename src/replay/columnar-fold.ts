/**
 * The replay's fast path: folds a process's real handlers over its input's typed columns
 * (`scanColumns` batches, zero-copy from the sealed Arrow files) instead of decoded events. One pass
 * over the input serves every shard being rebuilt (state per shard), each event is one reused view
 * (column-view.ts) and every call one reused HandlerCallContext, so the cost per event is the
 * handler's own. Outputs, meta, effects and `$progress` events are exactly runShard's.
 *
 * It applies to a process that declares `reads` and reads one input as stored (its shards are the
 * input's keys, numbered in the input's order). A shard whose handler reads a field that is not a
 * number in some event, throws, or returns undefined is handed back (`fallback`): the object path
 * rebuilds it from its start, with the real payloads and the runner's error messages.
 */
import type { Handler, ProcessDef } from '../app/define.ts';
import type { ColumnBatch } from '../store/event-store.ts';
import { HandlerCallContext } from '../runtime/handler-context.ts';
import { HandlerBugError, PROGRESS_EVENT } from '../runtime/runner.ts';
import type { StoredEvent } from '../model/event.ts';
import { checkedEvent, cursorAt, dataView, eventView, newCursor, NOT_COLUMNAR, UndeclaredReadError, type ColumnEvent } from './column-view.ts';
import type { CollectedShardEffect, ShardRun } from './shard-run.ts';
import { assert } from '../util/assert.ts';

/** Where a shard's fold starts: its initial or restored state, and the last merged input it reflects. */
export interface FoldStart {
  readonly state: unknown;
  readonly afterM: number;
}

/** What a fold computes: the process, its numbering, the shards (the batches come separately). */
export interface FoldSetup {
  readonly process: ProcessDef<unknown>;
  /** The version the handlers run as (output meta `v`). */
  readonly version: string;
  /** Merged number of each input event by index (null: index + 1, a single input's numbering). */
  readonly m: Float64Array | null;
  /** The shards to rebuild, by key. */
  readonly shards: ReadonlyMap<string, FoldStart>;
  /** Checking mode: guarded payload views (column-view.ts); handler failures are errors. */
  readonly check?: boolean;
}

export interface FoldOptions extends FoldSetup {
  /** The input's columns, with `fields` = the process's `reads`, in the input's order. */
  readonly batches: AsyncIterable<ColumnBatch>;
  /** Events of the input this replay covers (later appends are not part of it). */
  readonly limit: number;
  readonly onEvents?: (n: number) => void;
}

export interface FoldedShard extends ShardRun {
  /** Input events of this shard the fold went through (m above its start). */
  readonly eventsRead: number;
  /** Event time of the first of them (undefined: none). */
  readonly firstTime: number | undefined;
}

export interface FoldResult {
  readonly shards: Map<string, FoldedShard>;
  /** Shards left to the object path (see the header). */
  readonly fallback: Set<string>;
  /** Input events scanned, all shards. */
  readonly scanned: number;
}

// biome-ignore lint/suspicious/noExplicitAny: handlers of any state and event
type AnyHandler = Handler<any, string, any, any>;

/** Why the fold does not apply to `p`, or null when it does. */
export function columnarFoldBlocker(p: ProcessDef<unknown>): string | null {
  if (p.reads === undefined) return 'it declares no `reads`';
  if (p.inputs.length !== 1) return `it has ${p.inputs.length} inputs (the fold takes one)`;
  if (p.inputs[0]?.key !== undefined) return 'its input is re-keyed (keyedBy)';
  return null;
}

export async function foldColumns(o: FoldOptions): Promise<FoldResult> {
  const fold = new ColumnFold(o);
  let g0 = 0; // index of the batch's first event in the input
  let reported = 0;
  for await (const batch of o.batches) {
    if (g0 >= o.limit) break;
    fold.batch(batch, Math.min(batch.length, o.limit - g0), g0);
    g0 += batch.length;
    if (o.onEvents !== undefined && g0 - reported >= 65_536) {
      o.onEvents(Math.min(g0, o.limit) - reported);
      reported = Math.min(g0, o.limit);
    }
  }
  const scanned = Math.min(g0, o.limit);
  o.onEvents?.(scanned - reported);
  return { ...fold.result(), scanned };
}

/**
 * The fold's state, per shard by slot. The per-batch loop is a plain method (not inside the async
 * scan loop, not over closure variables) so that V8 compiles it to a tight loop: it is the hot path.
 */
export class ColumnFold {
  private readonly reads: readonly string[];
  private readonly check: boolean;
  private readonly handlers: Readonly<Record<string, AnyHandler | undefined>>;
  private readonly inputStream: string;
  private readonly keys: string[];
  private readonly slotOf: Map<string, number>;
  private readonly states: unknown[];
  private readonly afterM: Float64Array;
  private readonly dead: Uint8Array;
  private readonly counts: Float64Array;
  private readonly firstTime: Float64Array;
  private readonly outputs: ShardRun['outputs'][];
  private readonly effects: CollectedShardEffect[][];
  private readonly cursor = newCursor();
  /** Runs of rows of this fold's shards in the batch at hand: [from, to) pairs (ownRuns). */
  private runs = new Int32Array(2);
  private readonly view: ColumnEvent;
  private readonly ctx: HandlerCallContext;

  constructor(private readonly o: FoldSetup) {
    const p = o.process;
    this.reads = p.reads ?? [];
    this.check = o.check === true;
    this.handlers = (p.handlers[0] ?? {}) as Readonly<Record<string, AnyHandler | undefined>>;
    this.inputStream = p.inputs[0]?.stream.name ?? '';
    this.keys = [...o.shards.keys()];
    this.slotOf = new Map(this.keys.map((k, s) => [k, s]));
    this.states = this.keys.map((k) => (o.shards.get(k) as FoldStart).state);
    this.afterM = Float64Array.from(this.keys, (k) => (o.shards.get(k) as FoldStart).afterM);
    this.dead = new Uint8Array(this.keys.length);
    this.counts = new Float64Array(this.keys.length);
    this.firstTime = new Float64Array(this.keys.length).fill(Number.NaN);
    this.outputs = this.keys.map(() => []);
    this.effects = this.keys.map(() => []);
    this.view = eventView(dataView(this.reads, this.cursor), this.cursor);
    this.ctx = new HandlerCallContext(p.name, o.version, '', 0, 0);
  }

  /**
   * Folds the first `n` rows of a batch whose first row is input event `g0`. `keyRuns`: where its
   * runs of one key start among those rows (keyRuns below), when the caller has found them.
   */
  batch(batch: ColumnBatch, n: number, g0: number, keyRuns?: Int32Array): void {
    const slots = Int32Array.from(batch.keys, (k) => this.slotOf.get(k) ?? -1);
    // A fold of some of the shards (a worker's share) runs only over its rows, found first in a loop
    // of its own: skipping a row in the main loop below costs several times more. They are found as
    // runs (rows often come in runs of a key: an append of several events), walked without an index.
    if (this.runs.length < n + 2) this.runs = new Int32Array(n + 2);
    const runs = this.runs;
    let spans = 2;
    if (slots.includes(-1)) spans = keyRuns === undefined ? ownRuns(batch.keyIndex, slots, n, runs) : ownRunsOfKeyRuns(keyRuns, batch.keyIndex, slots, n, runs);
    else {
      runs[0] = 0;
      runs[1] = n;
    }
    const byType: Array<AnyHandler | undefined> = batch.types.map((t) => (t.startsWith('$') ? undefined : this.handlers[t]));
    const cursor = this.cursor;
    cursorAt(cursor, batch, this.reads.map((f) => batch.fields[f] ?? new Float64Array(batch.length).fill(Number.NaN)));
    const { keyIndex, typeIndex, time, types } = batch; // seq and position: only when read (column-view.ts)
    const { dead, afterM, counts, firstTime, states, keys, view, ctx, check } = this;
    const mOf = this.o.m;
    view.stream = batch.stream;
    for (let q = 0; q < spans; q += 2) {
      const to = runs[q + 1] as number;
      for (let i = runs[q] as number; i < to; i++) {
        const slot = slots[keyIndex[i] as number] as number;
        if (slot < 0 || dead[slot] === 1) continue;
        const m = mOf === null ? g0 + i + 1 : (mOf[g0 + i] as number);
        if (m === 0 || m <= (afterM[slot] as number)) continue; // never taken, or reflected by the snapshot
        if ((counts[slot] = (counts[slot] as number) + 1) === 1) firstTime[slot] = time[i] as number;
        const handler = byType[typeIndex[i] as number];
        if (handler === undefined) continue; // platform events and types without a handler only count
        const key = keys[slot] as string;
        const t = time[i] as number;
        cursor.i = i;
        cursor.missed = false;
        view.key = key;
        view.time = t;
        view.type = types[typeIndex[i] as number] as string;
        ctx.reset(key, t, m);
        let next: unknown;
        if (check) next = this.callChecked(handler, slot);
        else {
          try {
            next = handler(states[slot], view, ctx);
          } catch {
            next = undefined; // the object path reruns the shard: same outcome with the real payload, or the runner's error
          }
        }
        if (cursor.missed || next === undefined) {
          if (cursor.failure !== undefined) throw cursor.failure; // the store could not read seq/position: not the handler's doing
          this.fallBack(slot);
          continue;
        }
        states[slot] = next;
        if (ctx.outputs.length !== 0 || ctx.effects.length !== 0) this.collect(slot, m);
      }
    }
  }

  /** Checking mode: a guarded event; a broken declaration or a failing handler is an error. */
  private callChecked(handler: AnyHandler, slot: number): unknown {
    const { view, cursor } = this;
    const guarded = checkedEvent(view, this.o.process.name, this.reads, cursor);
    try {
      const next = handler(this.states[slot], guarded.event, this.ctx);
      if (cursor.undeclared !== undefined) throw cursor.undeclared;
      return next;
    } catch (e) {
      if (cursor.failure !== undefined) throw cursor.failure;
      if (cursor.undeclared !== undefined) throw cursor.undeclared;
      if (e === NOT_COLUMNAR) return undefined;
      throw new HandlerBugError(this.o.process.name, view.key, eventOf(view), e);
    } finally {
      guarded.revoke();
    }
  }

  private fallBack(slot: number): void {
    this.dead[slot] = 1;
    this.states[slot] = undefined;
    this.outputs[slot] = [];
    this.effects[slot] = [];
  }

  /** The call's outputs (or one `$progress`) and effects, as runShard records them. */
  private collect(slot: number, m: number): void {
    const { view, ctx } = this;
    const out = this.outputs[slot] as ShardRun['outputs'];
    const meta = { v: this.o.version, m, in: [0, view.position] };
    const first = out.length;
    for (const e of ctx.outputs) {
      if (e.data === view.data || (this.check && isRevoked(e.data))) {
        throw new UndeclaredReadError(this.o.process.name, view.type, 'emitted the input payload itself as output data (copy the fields it needs)', this.reads);
      }
      out.push({ type: e.type, time: view.time, data: e.data, meta });
    }
    if (ctx.outputs.length === 0) out.push({ type: PROGRESS_EVENT, time: view.time, data: null, meta });
    for (const effect of ctx.effects) {
      (this.effects[slot] as CollectedShardEffect[]).push({
        gateway: effect.gateway,
        request: effect.request,
        idempotencyKey: `${this.o.process.name}/${view.key}/${this.inputStream}@${view.position}/${effect.index}`,
        outputIndex: first,
      });
    }
  }

  result(): Omit<FoldResult, 'scanned'> {
    const shards = new Map<string, FoldedShard>();
    const fallback = new Set<string>();
    this.keys.forEach((key, slot) => {
      if (this.dead[slot] === 1) fallback.add(key);
      else {
        const count = this.counts[slot] as number;
        shards.set(key, { outputs: this.outputs[slot] as ShardRun['outputs'], effects: this.effects[slot] as CollectedShardEffect[], state: this.states[slot], eventsRead: count, firstTime: count === 0 ? undefined : (this.firstTime[slot] as number) });
      }
    });
    return { shards, fallback };
  }
}

/**
 * The rows among the first `n` of a batch whose key is one of a fold's (`slots[keyIndex] >= 0`), as
 * maximal runs: [from, to) pairs at `into[0 …)`, in order; returns the number of entries written (two
 * per run). Runs are separated by at least one other row, so there are at most ceil(n / 2).
 */
export function ownRuns(keyIndex: Int32Array, slots: Int32Array, n: number, into: Int32Array): number {
  assert(into.length >= n + 1, 'room for every run of the rows');
  let at = 0;
  let i = 0;
  while (i < n) {
    while (i < n && (slots[keyIndex[i] as number] as number) < 0) i++;
    if (i === n) break;
    into[at++] = i;
    while (i < n && (slots[keyIndex[i] as number] as number) >= 0) i++;
    into[at++] = i;
  }
  return at;
}

/**
 * ownRuns, from the runs of one key among the rows (`starts`: where each begins, ascending, the
 * first 0; the last ends at `n`): one step per run instead of one per row.
 */
export function ownRunsOfKeyRuns(starts: Int32Array, keyIndex: Int32Array, slots: Int32Array, n: number, into: Int32Array): number {
  assert(into.length >= n + 1, 'room for every run of the rows');
  assert(n === 0 || starts[0] === 0, 'the first run starts at the first row');
  let at = 0;
  for (let r = 0; r < starts.length; r++) {
    const from = starts[r] as number;
    if ((slots[keyIndex[from] as number] as number) < 0) continue;
    const to = r + 1 < starts.length ? (starts[r + 1] as number) : n;
    if (at > 0 && into[at - 1] === from) into[at - 1] = to; // joins the run before: the rows are adjacent
    else {
      into[at++] = from;
      into[at++] = to;
    }
  }
  return at;
}

/**
 * Where the runs of one key start among the first `n` rows (into `into`), or -1 when there are more
 * than `most`: rows of a batch often come in runs of a key (an append of several events), and then
 * one pass finds them for every worker's fold (ownRunsOfKeyRuns); with short runs, each worker is
 * better off finding its rows itself (ownRuns).
 */
export function keyRuns(keyIndex: Int32Array, n: number, into: Int32Array, most: number): number {
  assert(into.length >= Math.min(n, most), 'room for the runs wanted');
  if (n === 0) return 0;
  let at = 0;
  let key = keyIndex[0] as number;
  into[at++] = 0;
  for (let i = 1; i < n; i++) {
    const k = keyIndex[i] as number;
    if (k === key) continue;
    if (at === most) return -1;
    into[at++] = i;
    key = k;
  }
  return at;
}

/** A checking-mode payload proxy, revoked after its call: any use of it throws a TypeError. */
function isRevoked(data: unknown): boolean {
  if (typeof data !== 'object' || data === null) return false;
  try {
    Object.keys(data);
    return false;
  } catch {
    return true;
  }
}

/** The current row as a StoredEvent, for error messages. */
function eventOf(view: ColumnEvent): StoredEvent {
  return { stream: view.stream, key: view.key, seq: view.seq, position: view.position, time: view.time, type: view.type, data: null };
}
