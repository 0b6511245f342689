/**
 * Writes one rebuilt shard to its versioned stream, idempotently.
 *
 * The fork point is the longest prefix the new output shares with the base shard: for a time ray,
 * at least the base events up to the restored snapshot; then, for either mode, every further event
 * equal in type and data to the base's. Only the rest is written: `$fork {base, baseSeq, count}`
 * first, in the same atomic append as the first events, then the others in batches, each append
 * conditional on the shard's last seq (`expect.lastSeq`). A shard interrupted part-way (a killed
 * replay) is continued from its last seq; one found complete is left alone. Since the new output is
 * a deterministic function of the inputs, continuing gives exactly what an uninterrupted run writes.
 */
import { InvalidInputError } from '../model/errors.ts';
import type { EventMeta, NewEvent, StoredEvent } from '../model/event.ts';
import type { EventStore } from '../store/event-store.ts';
import { jsonEqual } from '../util/json-equal.ts';
import { readFork } from './fork.ts';
import { FORK_EVENT } from './naming.ts';
import type { ForkRecord } from './types.ts';

/** Events per append (one atomic batch). */
export const WRITE_BATCH = 2000;

export interface ForkPoint {
  readonly baseSeq: number;
  /** The new output events after the fork (a suffix of the computed outputs). */
  readonly events: ReadonlyArray<NewEvent<unknown>>;
  /** How many computed outputs were found equal to base events (shared, not written). */
  readonly lcp: number;
}

/**
 * `base`: the base shard's events; `prefix`: how many of them the new version keeps unconditionally
 * (a ray's snapshot point); `outputs`: what the new version computed after that prefix.
 */
export function forkPoint(base: readonly StoredEvent[], prefix: number, outputs: ReadonlyArray<NewEvent<unknown>>): ForkPoint {
  let lcp = 0;
  while (lcp < outputs.length && prefix + lcp < base.length && sameEvent(base[prefix + lcp] as StoredEvent, outputs[lcp] as NewEvent<unknown>)) lcp++;
  return { baseSeq: prefix + lcp, events: outputs.slice(lcp), lcp };
}

function sameEvent(a: StoredEvent, b: NewEvent<unknown>): boolean {
  // By value: a store may return a payload's keys in another order (jsonb sorts them).
  return a.type === b.type && jsonEqual(a.data, b.data ?? null);
}

export interface WriteOutcome {
  /** Events appended by this call (0 when the shard was already complete). */
  readonly written: number;
  /** The shard had events from an earlier run (complete or partial). */
  readonly resumed: boolean;
}

export async function writeShard(
  store: EventStore,
  stream: string,
  key: string,
  fork: Omit<ForkRecord, 'count' | 'baseSeq'>,
  point: ForkPoint,
  meta: EventMeta,
  forkTime: number,
): Promise<WriteOutcome> {
  const record: ForkRecord = { ...fork, baseSeq: point.baseSeq, count: point.events.length };
  const existing = await readFork(store, stream, key);
  let lastSeq = 0;
  if (existing !== undefined) {
    const f = existing.fork;
    if (f.base !== record.base || f.baseSeq !== record.baseSeq || f.count !== record.count) {
      if (existing.complete) return { written: 0, resumed: true }; // an earlier run (another strategy) completed it: its view is valid
      throw new InvalidInputError(
        `${stream}/${key}`,
        `the fork an earlier, interrupted replay began (base ${f.base} to seq ${f.baseSeq}, ${f.count} events); this replay forks at seq ${record.baseSeq} with ${record.count} events — the plan or the app changed since; replay into a new version`,
      );
    }
    if (existing.complete) return { written: 0, resumed: true };
    lastSeq = existing.lastSeq;
  }
  let written = 0;
  if (lastSeq === 0) {
    const first = point.events.slice(0, WRITE_BATCH - 1);
    await store.append(stream, key, [{ type: FORK_EVENT, time: forkTime, data: record as never, meta }, ...first], { expect: { lastSeq: 0 } });
    lastSeq = 1 + first.length;
    written = first.length;
  }
  for (let from = lastSeq - 1; from < point.events.length; from += WRITE_BATCH) {
    const batch = point.events.slice(from, from + WRITE_BATCH);
    await store.append(stream, key, batch, { expect: { lastSeq } });
    lastSeq += batch.length;
    written += batch.length;
  }
  return { written, resumed: existing !== undefined };
}
