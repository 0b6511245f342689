/**
 * Where a Spive store lives inside one NATS account. Everything is named from one prefix, so several
 * stores (or test runs) share a server without seeing each other, and dropping a store is deleting
 * exactly the names below.
 *
 *   JetStream stream `<prefix>-events`, subjects:
 *     <prefix>.ev.<stream>.<key>     one subject per shard; a message holds one appended batch
 *     <prefix>.lease.<stream>        the stream's lease table; its newest message is the current one
 *   KV bucket `<prefix>-snapshots`:
 *     i.<process>.<version>.<shard>.<position>   snapshot metadata (JSON)
 *     d.<process>.<version>.<shard>.<position>   snapshot bytes
 * Names and keys become tokens by `encodeToken` (subject-token.ts).
 */
import { InvalidInputError } from '../../model/errors.ts';
import { decodeToken, encodeToken } from './subject-token.ts';

/** A prefix names a JetStream stream, a KV bucket and a subject token: the intersection of their alphabets. */
export const PREFIX_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export class NatsLayout {
  readonly eventsStream: string;
  readonly snapshotsBucket: string;
  /** Every event message of every Spive stream. */
  readonly allEvents: string;
  /** Every message of the events stream (events and lease tables): its last one is the store's tail. */
  readonly everything: string;
  readonly streamSubjects: readonly string[];

  constructor(readonly prefix: string) {
    if (!PREFIX_PATTERN.test(prefix)) {
      throw new InvalidInputError('prefix', 'letters, digits, _ or - (1-64 chars)', prefix);
    }
    this.eventsStream = `${prefix}-events`;
    this.snapshotsBucket = `${prefix}-snapshots`;
    this.allEvents = `${prefix}.ev.>`;
    this.everything = `${prefix}.>`;
    this.streamSubjects = [`${prefix}.ev.>`, `${prefix}.lease.>`];
  }

  shardSubject(stream: string, key: string): string {
    return `${this.prefix}.ev.${encodeToken(stream)}.${encodeToken(key)}`;
  }

  /** Every shard of one Spive stream. */
  streamEvents(stream: string): string {
    return `${this.prefix}.ev.${encodeToken(stream)}.*`;
  }

  leaseSubject(stream: string): string {
    return `${this.prefix}.lease.${encodeToken(stream)}`;
  }

  /** The Spive stream of an event subject (stream names are short enough never to be hashed). */
  streamOf(subject: string): string {
    const token = subject.slice(this.prefix.length + 4, subject.indexOf('.', this.prefix.length + 4));
    const name = decodeToken(token);
    if (name === undefined) throw new Error(`bug: stream token ${token} of ${subject} is hashed`);
    return name;
  }

  /** KV key of a snapshot's metadata (`i`) or bytes (`d`). */
  snapshotKey(part: 'i' | 'd', process: string, version: string, shard: string, position: number): string {
    return `${this.snapshotShard(part, process, version, shard)}.${position}`;
  }

  /** KV key prefix of every snapshot of one (process, version, shard). */
  snapshotShard(part: 'i' | 'd', process: string, version: string, shard: string): string {
    return `${part}.${encodeToken(process)}.${encodeToken(version)}.${encodeToken(shard)}`;
  }
}
