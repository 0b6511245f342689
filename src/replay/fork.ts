/**
 * Versioned streams share their prefix with the base stream instead of copying it. Each shard of
 * `S--<version>` starts with one `$fork` event `{base, baseSeq, count, …}`: the shard of the new
 * version is the base shard's events 1..baseSeq followed by the `count` events after the fork record.
 * A shard with no fork record has not been rebuilt: its new version *is* the base shard.
 *
 * The fork record is also the shard's checkpoint: it is appended together with the first events,
 * and the shard is complete once its last seq is 1 + count. After a switch-over the new version's
 * runner appends to the shard (generation-store.ts): the events after those are its live output.
 */
import { InvalidInputError, SpiveError } from '../model/errors.ts';
import type { StoredEvent } from '../model/event.ts';
import type { EventStore } from '../store/event-store.ts';
import { FORK_EVENT, versionedStreamName } from './naming.ts';
import type { ForkRecord } from './types.ts';

export interface ShardFork {
  readonly fork: ForkRecord;
  /** Last seq of the versioned shard (1 + events written after the fork record). */
  readonly lastSeq: number;
  readonly complete: boolean;
}

/** The fork record of a shard of a versioned stream, or undefined when the shard was never forked. */
export async function readFork(store: EventStore, stream: string, key: string): Promise<ShardFork | undefined> {
  const head = await store.head(stream, key);
  if (head.lastSeq === 0) return undefined;
  let first: StoredEvent | undefined;
  for await (const batch of store.readShard(stream, key, { fromSeq: 1, batchSize: 1 })) {
    first = batch[0];
    break;
  }
  const fork = first === undefined ? undefined : parseFork(first);
  if (fork === undefined) {
    throw new InvalidInputError(`${stream}/${key}#1`, `a ${FORK_EVENT} record opening a shard of a versioned stream`, first?.type);
  }
  return { fork, lastSeq: head.lastSeq, complete: head.lastSeq >= 1 + fork.count };
}

export function parseFork(e: StoredEvent): ForkRecord | undefined {
  if (e.type !== FORK_EVENT || typeof e.data !== 'object' || e.data === null || Array.isArray(e.data)) return undefined;
  const d = e.data as Record<string, unknown>;
  if (typeof d.base !== 'string' || typeof d.baseSeq !== 'number' || typeof d.count !== 'number') return undefined;
  return d as unknown as ForkRecord;
}

/** A shard of a versioned stream whose rebuild has not finished (an interrupted or running replay). */
export class IncompleteShardError extends SpiveError {
  override name = 'IncompleteShardError';
  constructor(stream: string, key: string, have: number, want: number) {
    super('NOT_FOUND', `shard ${key} of ${stream} is incomplete (${have} of ${want} events after its fork record): the replay that writes it has not finished; run it again to complete it`, { stream, key });
  }
}

/**
 * One shard of `output` as version `version` sees it: the base prefix, then the new events. Seqs are
 * renumbered as one shard (the new events follow the prefix); positions are those of the stream each
 * event is stored in. Without a fork record the base shard is read whole. Throws
 * IncompleteShardError when the shard's rebuild has not finished.
 */
export async function* readVersion(store: EventStore, output: string, version: string, key: string, options: { batchSize?: number } = {}): AsyncIterable<StoredEvent[]> {
  const stream = versionedStreamName(output, version);
  const batchSize = options.batchSize ?? 1000;
  const forked = await readFork(store, stream, key);
  if (forked === undefined) {
    yield* store.readShard(output, key, { batchSize });
    return;
  }
  if (!forked.complete) throw new IncompleteShardError(stream, key, forked.lastSeq - 1, forked.fork.count);
  const { baseSeq } = forked.fork;
  if (baseSeq > 0) {
    let seen = 0;
    for await (const batch of store.readShard(output, key, { batchSize: Math.min(batchSize, baseSeq) })) {
      const part = seen + batch.length <= baseSeq ? batch : batch.slice(0, baseSeq - seen);
      seen += part.length;
      if (part.length > 0) yield part;
      if (seen >= baseSeq) break;
    }
    if (seen < baseSeq) throw new InvalidInputError(`${stream}/${key}`, `a base shard ${output}/${key} of at least ${baseSeq} events (the fork shares them)`, seen);
  }
  if (forked.fork.count === 0) return;
  for await (const batch of store.readShard(stream, key, { fromSeq: 2, batchSize })) {
    yield batch.map((e) => ({ ...e, stream: output, seq: baseSeq + e.seq - 1 }));
  }
}
