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
  /** The rows of this fold's shards in the batch at hand, when it has rows of other shards too. */
  private rows = new Int32Array(0);
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
   * Folds the first `n` rows of a batch whose first row is input event `g0`. `picked`: the rows among
   * them of this fold's shards, in order, when the caller has picked them (worker-pool.ts).
   */
  batch(batch: ColumnBatch, n: number, g0: number, picked?: Int32Array): void {
    const slots = Int32Array.from(batch.keys, (k) => this.slotOf.get(k) ?? -1);
    // A fold of some of the shards (a worker's share) runs only over its rows, picked first in a loop
    // of its own (unless given): skipping a row in the main loop below costs several times more.
    const rows = picked ?? (slots.includes(-1) ? this.rowsOf(batch.keyIndex, slots, n) : null);
    const count = rows === null ? n : rows.length;
    const byType: Array<AnyHandler | undefined> = batch.types.map((t) => (t.startsWith('$') ? undefined : this.handlers[t]));
    const cursor = this.cursor;
    cursorAt(cursor, batch, this.reads.map((f) => batch.fields[f] ?? new Float64Array(batch.length).fill(Number.NaN)));
    const { keyIndex, typeIndex, time, types } = batch; // seq and position: only when read (column-view.ts)
    const { dead, afterM, counts, firstTime, states, keys, view, ctx, check } = this;
    const mOf = this.o.m;
    view.stream = batch.stream;
    for (let r = 0; r < count; r++) {
      const i = rows === null ? r : (rows[r] as number);
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

  /** The rows among the first `n` whose key is one of this fold's shards, in order (a view of a reused array). */
  private rowsOf(keyIndex: Int32Array, slots: Int32Array, n: number): Int32Array {
    if (this.rows.length < n) this.rows = new Int32Array(n);
    const count = pickRows(keyIndex, slots.map((s) => (s < 0 ? -1 : 0)), n, this.rows, 1)[0] as number;
    return this.rows.subarray(0, count);
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
 * Picks the first `n` rows of a batch for the folds they belong to: fold w's rows, in order, at
 * `rows[w * n …]`; returns how many each got. `ownerOf`: the fold of each of the batch's keys (-1:
 * none). The worker pool picks for all its workers at once; a fold of some shards, for itself.
 */
export function pickRows(keyIndex: Int32Array, ownerOf: Int32Array, n: number, rows: Int32Array, folds: number): Int32Array {
  assert(rows.length >= n * folds, 'room for every fold to take every row');
  const counts = new Int32Array(folds);
  for (let i = 0; i < n; i++) {
    const w = ownerOf[keyIndex[i] as number] as number;
    if (w >= 0) rows[w * n + (counts[w] as number)++] = i;
  }
  return counts;
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
