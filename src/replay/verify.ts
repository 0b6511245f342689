/**
 * `--verify`: for shards of the changed process *outside* the affected set, the new version must
 * write exactly what the old one wrote (same event types and payloads, in order) — that is what
 * the plan assumed when it left them alone. A sample of them (all, when few) is run from scratch
 * and compared with the base output; the first difference is reported with its shard and seq.
 */
import { jsonEqual } from '../util/json-equal.ts';
import type { ProcessDef } from '../app/define.ts';
import type { JsonValue, StoredEvent } from '../model/event.ts';
import type { EventStore } from '../store/event-store.ts';
import type { InputSequence } from './input.ts';
import type { ShardInputs } from './shard-inputs.ts';
import { runShard } from './shard-run.ts';
import type { VerifyReport } from './types.ts';

export interface VerifyOptions {
  readonly store: EventStore;
  readonly process: ProcessDef<unknown>;
  readonly version: string;
  readonly inputs: ShardInputs;
  readonly sequences: readonly InputSequence[];
  /** The affected shards (rebuilt): not compared. */
  readonly affected: ReadonlySet<string>;
  /** Shards compared at most (evenly spread over the sorted candidates). */
  readonly sample: number;
}

export async function verifyUnaffected(o: VerifyOptions): Promise<VerifyReport> {
  const { store, process: p } = o;
  const candidates = new Set<string>();
  for await (const batch of store.scanColumns(p.output.name, { fields: [] })) for (const k of batch.keys) candidates.add(k);
  o.sequences.forEach((s, i) => {
    if (p.inputs[i]?.key === undefined) for (const k of s.keys()) candidates.add(k);
  });
  const keys = [...candidates].filter((k) => !k.startsWith('$') && !o.affected.has(k)).sort();
  const chosen = pick(keys, o.sample);
  await o.inputs.route(new Set(chosen));
  let events = 0;
  for (const key of chosen) {
    const inputs = await o.inputs.forShard(key, 0);
    const run = runShard(p, o.version, key, p.initial(key), inputs);
    // While a live runner keeps appending (a replay handed to `spive run`), the old output may already
    // reflect inputs this replay did not read: compare only what came from inputs it read.
    const lastRead = new Map<number, number>();
    for (const i of inputs) lastRead.set(i.inputIndex, Math.max(lastRead.get(i.inputIndex) ?? 0, i.event.position));
    const base: StoredEvent[] = [];
    for await (const batch of store.readShard(p.output.name, key, { batchSize: 4096 })) {
      for (const e of batch) {
        const from = e.meta?.in;
        if (!Array.isArray(from) || (from[1] as number) <= (lastRead.get(from[0] as number) ?? 0)) base.push(e);
      }
    }
    const n = Math.max(base.length, run.outputs.length);
    for (let i = 0; i < n; i++) {
      const b = base[i];
      const r = run.outputs[i];
      if (b !== undefined && r !== undefined && b.type === r.type && jsonEqual(b.data, r.data ?? null)) {
        events++;
        continue;
      }
      return {
        verified: false,
        shardsCompared: chosen.indexOf(key) + 1,
        candidates: keys.length,
        eventsCompared: events,
        firstDifference: {
          shard: key,
          seq: i + 1,
          expected: b === undefined ? null : { type: b.type, data: b.data as JsonValue },
          actual: r === undefined ? null : { type: r.type, data: r.data },
        },
      };
    }
  }
  return { verified: true, shardsCompared: chosen.length, candidates: keys.length, eventsCompared: events, firstDifference: null };
}

/** Up to `n` of `keys`, evenly spread (all of them when there are few). */
export function pick(keys: readonly string[], n: number): string[] {
  if (keys.length <= n) return [...keys];
  return Array.from({ length: n }, (_, i) => keys[Math.floor((i * keys.length) / n)] as string);
}
