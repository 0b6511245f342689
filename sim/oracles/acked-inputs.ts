/** No acknowledged append is lost: every input the workload saw acknowledged is in the store, once. */
import type { StoredEvent } from '../../src/model/event.ts';
import type { EventStore } from '../../src/store/event-store.ts';
import { ShardMap } from '../../src/store/store-state.ts';
import type { AckedInput } from '../workload.ts';
import type { Violation } from './violation.ts';

/** One shard's acknowledged inputs and its events in the store (each shard is read once, not once per input). */
interface AckedShard {
  readonly stream: string;
  readonly key: string;
  readonly acked: AckedInput[];
}

export async function checkAckedInputs(acked: readonly AckedInput[], store: EventStore, end: { step: number; simulatedMs: number }): Promise<Violation[]> {
  const violations: Violation[] = [];
  // Shards in the order their first acknowledgement came (the order violations are reported in).
  const byShard = new ShardMap<AckedShard>();
  const shards: AckedShard[] = [];
  for (const a of acked) {
    let shard = byShard.get(a.stream, a.key);
    if (shard === undefined) {
      shard = { stream: a.stream, key: a.key, acked: [] };
      byShard.set(a.stream, a.key, shard);
      shards.push(shard);
    }
    shard.acked.push(a);
  }
  const lost: AckedInput[] = [];
  for (const shard of shards) {
    const events: StoredEvent[] = [];
    for await (const batch of store.readShard(shard.stream, shard.key, { batchSize: 10_000 })) for (const e of batch) events.push(e);
    for (const a of shard.acked) {
      const at = events[a.seq - 1];
      const e = at?.seq === a.seq ? at : events.find((x) => x.seq === a.seq); // seqs are contiguous, unless the store lost some
      const found = e !== undefined && e.seq === a.seq && e.type === a.type && e.time === a.time;
      if (!found) lost.push(a);
    }
  }
  // In acknowledgement order (found shard by shard; a run without a loss never sorts).
  if (lost.length > 0) {
    const order = new Map(acked.map((a, i) => [a, i]));
    lost.sort((x, y) => (order.get(x) as number) - (order.get(y) as number));
  }
  for (const a of lost) violations.push({ invariant: 'no acknowledged append lost', ...end, message: `${a.stream}/${a.key}#${a.seq} (${a.type}) was acknowledged but is not in the store` });
  for (const shard of shards) {
    const head = await store.head(shard.stream, shard.key);
    const n = shard.acked.length;
    if (head.lastSeq !== n) violations.push({ invariant: 'no acknowledged append lost', ...end, message: `${shard.stream}/${shard.key} holds ${head.lastSeq} events but ${n} were acknowledged (an input was duplicated)` });
  }
  return violations;
}
