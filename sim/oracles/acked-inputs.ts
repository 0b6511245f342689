/** No acknowledged append is lost: every input the workload saw acknowledged is in the store, once. */
import type { StoredEvent } from '../../src/model/event.ts';
import type { EventStore } from '../../src/store/event-store.ts';
import type { AckedInput } from '../workload.ts';
import type { Violation } from './violation.ts';

export async function checkAckedInputs(acked: readonly AckedInput[], store: EventStore, end: { step: number; simulatedMs: number }): Promise<Violation[]> {
  const violations: Violation[] = [];
  // Each shard is read once (not once per acknowledged input).
  const shards = new Map<string, StoredEvent[]>();
  for (const a of acked) {
    const id = `${a.stream}\u0000${a.key}`;
    let events = shards.get(id);
    if (events === undefined) {
      events = [];
      for await (const batch of store.readShard(a.stream, a.key, { batchSize: 10_000 })) for (const e of batch) events.push(e);
      shards.set(id, events);
    }
    const at = events[a.seq - 1];
    const e = at?.seq === a.seq ? at : events.find((x) => x.seq === a.seq); // seqs are contiguous, unless the store lost some
    const found = e !== undefined && e.seq === a.seq && e.type === a.type && e.time === a.time;
    if (!found) violations.push({ invariant: 'no acknowledged append lost', ...end, message: `${a.stream}/${a.key}#${a.seq} (${a.type}) was acknowledged but is not in the store` });
  }
  const perShard = new Map<string, number>();
  for (const a of acked) perShard.set(`${a.stream}\u0000${a.key}`, (perShard.get(`${a.stream}\u0000${a.key}`) ?? 0) + 1);
  for (const [id, n] of perShard) {
    const [stream, key] = id.split('\u0000') as [string, string];
    const head = await store.head(stream, key);
    if (head.lastSeq !== n) violations.push({ invariant: 'no acknowledged append lost', ...end, message: `${stream}/${key} holds ${head.lastSeq} events but ${n} were acknowledged (an input was duplicated)` });
  }
  return violations;
}
