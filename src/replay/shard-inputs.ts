/**
 * A process's input sequences during a replay, numbered with the runner's merge rule, and the events
 * of one shard in merged order. Inputs read as stored are read per shard (readShard, from the first
 * event after the restored snapshot); re-keyed inputs are scanned once and routed by the key
 * function to the shards the replay needs.
 */
import type { ProcessDef } from '../app/define.ts';
import type { InputSequence } from './input.ts';
import { mergedNumbers, type Numbering } from './numbering.ts';
import { keysOf, type ShardInput } from './shard-run.ts';

export class ShardInputs {
  readonly numbering: Numbering;
  private readonly routed = new Map<string, ShardInput[]>();
  /** Events read from the store or a view, routing scans included. */
  eventsRead = 0;

  private constructor(
    private readonly p: ProcessDef<unknown>,
    private readonly inputs: readonly InputSequence[],
  ) {
    this.numbering = mergedNumbers(inputs.map((i) => i.times));
  }

  /** Numbers the inputs and routes the re-keyed ones for `keys`. */
  static async open(p: ProcessDef<unknown>, inputs: readonly InputSequence[], keys: ReadonlySet<string>): Promise<ShardInputs> {
    const s = new ShardInputs(p, inputs);
    await s.route(keys);
    return s;
  }

  /** Routes re-keyed inputs for more keys (verification samples). */
  async route(keys: ReadonlySet<string>): Promise<void> {
    const wanted = [...keys].filter((k) => !this.routed.has(k));
    if (wanted.length === 0) return;
    const want = new Set(wanted);
    for (const k of wanted) this.routed.set(k, []);
    for (let i = 0; i < this.inputs.length; i++) {
      if (this.p.inputs[i]?.key === undefined) continue;
      const input = this.inputs[i] as InputSequence;
      const m = this.numbering.m[i] as Float64Array;
      for await (const { index, event } of input.all()) {
        this.eventsRead++;
        const mi = m[index] as number;
        if (mi === 0 || event.type.startsWith('$') || this.p.handlers[i]?.[event.type] === undefined) continue;
        for (const key of keysOf(this.p, i, event)) if (want.has(key)) (this.routed.get(key) as ShardInput[]).push({ inputIndex: i, m: mi, event });
      }
    }
  }

  /** The shard's input events with m > afterM, in merged order. */
  async forShard(key: string, afterM: number): Promise<ShardInput[]> {
    const out: ShardInput[] = [];
    for (let i = 0; i < this.inputs.length; i++) {
      const m = this.numbering.m[i] as Float64Array;
      if (this.p.inputs[i]?.key !== undefined) {
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
