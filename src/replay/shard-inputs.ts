/**
 * A process's input sequences during a replay, numbered with the runner's merge rule, and the events
 * of one shard in merged order. Inputs read as stored are read per shard (readShard, from the first
 * event after the restored snapshot) — unless the replay covers much of a large input, which is then
 * scanned once in order and routed, like a re-keyed input (always scanned once and routed by the key
 * function to the shards the replay needs): a shard's events lie scattered over the log, so reading
 * most shards one by one reads the same file regions again and again (measured on a generated bank
 * store: 3.5 s per-shard vs well under a second scanned, for 200 of 200 shards).
 */
import type { ProcessDef } from '../app/define.ts';
import type { InputSequence } from './input.ts';
import { mergedNumbers, type Numbering } from './numbering.ts';
import { keysOf, type ShardInput } from './shard-run.ts';

/** When an input read as stored is scanned once and routed instead of read shard by shard. */
export interface RoutePolicy {
  /** Only inputs of at least this many events (smaller ones are cheap to read per shard). */
  readonly minEvents: number;
  /** Only when the shards replayed hold at least this share of the input's events. */
  readonly minShare: number;
  /** Never when that would hold more than this many events in memory at once. */
  readonly maxEvents: number;
}

export const DEFAULT_ROUTE_POLICY: RoutePolicy = { minEvents: 10_000, minShare: 0.125, maxEvents: 2_000_000 };

export class ShardInputs {
  readonly numbering: Numbering;
  private readonly routed = new Map<string, ShardInput[]>();
  /** Inputs read as stored that are routed (decided at open). */
  private readonly scanned = new Set<number>();
  /** Events read from the store or a view, routing scans included. */
  eventsRead = 0;

  private constructor(
    private readonly p: ProcessDef<unknown>,
    private readonly inputs: readonly InputSequence[],
  ) {
    this.numbering = mergedNumbers(
      inputs.map((i) => i.times),
      inputs.map((i) => i.platform),
    );
  }

  /**
   * Numbers the inputs and routes the re-keyed ones for `keys`; an input read as stored is routed
   * too when `policy` says a scan pays (none: always read per shard, as the columnar fold's
   * fallbacks do).
   */
  static async open(p: ProcessDef<unknown>, inputs: readonly InputSequence[], keys: ReadonlySet<string>, policy?: RoutePolicy): Promise<ShardInputs> {
    const s = new ShardInputs(p, inputs);
    if (policy !== undefined) {
      inputs.forEach((input, i) => {
        if (p.inputs[i]?.key !== undefined || input.length < policy.minEvents) return;
        let held = 0;
        for (const key of keys) held += input.keyIndexes(key).length;
        if (held >= policy.minShare * input.length && held <= policy.maxEvents) s.scanned.add(i);
      });
    }
    await s.route(keys);
    return s;
  }

  /** Routes re-keyed (and scanned) inputs for more keys (verification samples). */
  async route(keys: ReadonlySet<string>): Promise<void> {
    const wanted = [...keys].filter((k) => !this.routed.has(k));
    if (wanted.length === 0) return;
    const want = new Set(wanted);
    for (const k of wanted) this.routed.set(k, []);
    for (let i = 0; i < this.inputs.length; i++) {
      const rekeyed = this.p.inputs[i]?.key !== undefined;
      if (!rekeyed && !this.scanned.has(i)) continue;
      const input = this.inputs[i] as InputSequence;
      const m = this.numbering.m[i] as Float64Array;
      for await (const { index, event } of input.all()) {
        this.eventsRead++;
        const mi = m[index] as number;
        if (mi === 0) continue;
        if (!rekeyed) {
          // As stored: the event's own shard, every event of it, exactly what a per-shard read returns.
          if (want.has(event.key)) (this.routed.get(event.key) as ShardInput[]).push({ inputIndex: i, m: mi, event });
          continue;
        }
        if (event.type.startsWith('$') || this.p.handlers[i]?.[event.type] === undefined) continue;
        for (const key of keysOf(this.p, i, event)) if (want.has(key)) (this.routed.get(key) as ShardInput[]).push({ inputIndex: i, m: mi, event });
      }
    }
  }

  /** The shard's input events with m > afterM, in merged order. */
  async forShard(key: string, afterM: number): Promise<ShardInput[]> {
    const out: ShardInput[] = [];
    for (let i = 0; i < this.inputs.length; i++) {
      const m = this.numbering.m[i] as Float64Array;
      if (this.p.inputs[i]?.key !== undefined || this.scanned.has(i)) {
        const routed = this.routed.get(key);
        if (routed === undefined) throw new Error(`replay: shard ${key} of ${this.p.name} was not routed`);
        for (const r of routed) if (r.inputIndex === i && r.m > afterM) out.push(r);
        continue;
      }
      const input = this.inputs[i] as InputSequence;
      const indexes = input.keyIndexes(key);
      // m grows along one input; events never taken (m = 0) come last.
      let from = 0;
      while (from < indexes.length && (m[indexes[from] as number] as number) <= afterM && (m[indexes[from] as number] as number) !== 0) from++;
      for await (const { index, event } of input.keyEvents(key, from)) {
        const mi = m[index] as number;
        if (mi === 0) break;
        this.eventsRead++;
        out.push({ inputIndex: i, m: mi, event });
      }
    }
    if (this.inputs.length > 1) out.sort((a, b) => a.m - b.m);
    return out;
  }
}
