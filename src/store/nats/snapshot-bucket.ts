/**
 * Snapshots in a JetStream KV bucket. Each snapshot is two entries: its bytes (`d.…`) and, written
 * after them, its metadata (`i.…`, small JSON) — so a listed snapshot always has its bytes, and
 * listing reads only the small entries. Keys: see nats-layout.ts. Values must fit the server's
 * max_payload (1 MiB by default): larger snapshots fail with INVALID_INPUT.
 */
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { CorruptDataError, InvalidInputError } from '../../model/errors.ts';
import type { Snapshot, SnapshotInfo } from '../../model/event.ts';
import type { SnapshotFilter, SnapshotQuery } from '../event-store.ts';
import { snapshotInfo } from '../memory/memory-store.ts';
import { SnapshotIndex } from '../snapshot-index.ts';
import { unavailable } from './nats-errors.ts';
import type { NatsLayout } from './nats-layout.ts';
import { orderedChunks, type ReadRegistry } from './ordered-reads.ts';
import { encodeToken } from './subject-token.ts';

export class SnapshotBucket {
  private readonly kvStream: string;
  constructor(
    private readonly kv: KV,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly layout: NatsLayout,
    private readonly registry: ReadRegistry,
    private readonly maxPayloadBytes: number,
  ) {
    this.kvStream = `KV_${layout.snapshotsBucket}`;
  }

  async put(snapshot: Omit<Snapshot, 'sizeBytes'>): Promise<void> {
    const info = snapshotInfo(snapshot);
    if (info.sizeBytes > this.maxPayloadBytes - 4096) {
      throw new InvalidInputError('snapshot.data', `at most ${this.maxPayloadBytes - 4096} bytes (the NATS server's max_payload)`, `${info.sizeBytes} bytes`);
    }
    const key = (part: 'i' | 'd') => this.layout.snapshotKey(part, info.process, info.version, info.shard, info.position);
    try {
      await this.kv.put(key('d'), snapshot.data);
      await this.kv.put(key('i'), JSON.stringify(info));
    } catch (e) {
      throw unavailable(`writing snapshot ${key('i')} to KV bucket ${this.layout.snapshotsBucket}`, e);
    }
  }

  async get(query: SnapshotQuery): Promise<Snapshot | undefined> {
    const what = `reading snapshots of ${query.process}/${query.version}/${query.shard}`;
    const base = this.layout.snapshotShard('i', query.process, query.version, query.shard);
    const limit = query.atOrBefore ?? Number.POSITIVE_INFINITY;
    let best = -1;
    try {
      for await (const key of await this.kv.keys(`${base}.*`)) {
        const position = Number(key.slice(base.length + 1));
        if (position <= limit && position > best) best = position;
      }
      if (best < 0) return undefined;
      const [infoEntry, dataEntry] = await Promise.all([this.kv.get(`${base}.${best}`), this.kv.get(this.layout.snapshotKey('d', query.process, query.version, query.shard, best))]);
      if (infoEntry === null || dataEntry === null) return undefined;
      return { ...this.decodeInfo(infoEntry.key, infoEntry.string()), data: dataEntry.value.slice() };
    } catch (e) {
      throw unavailable(what, e);
    }
  }

  async list(filter?: SnapshotFilter): Promise<SnapshotInfo[]> {
    // Narrow on the server by process (and version) when given: they are the leading key tokens.
    let subject = `$KV.${this.layout.snapshotsBucket}.i`;
    if (filter?.process !== undefined) {
      subject += `.${encodeToken(filter.process)}`;
      if (filter.version !== undefined) subject += `.${encodeToken(filter.version)}`;
    }
    const index = new SnapshotIndex<null>();
    for await (const chunk of orderedChunks(this.js, this.jsm, { stream: this.kvStream, filter: `${subject}.>`, lastPerSubject: true }, this.registry)) {
      for (const msg of chunk) {
        if (msg.data.length === 0) continue; // a delete marker
        index.put(this.decodeInfo(msg.subject, msg.string()), null);
      }
    }
    return index.list(filter);
  }

  async count(): Promise<number> {
    let n = 0;
    for await (const chunk of orderedChunks(this.js, this.jsm, { stream: this.kvStream, filter: `$KV.${this.layout.snapshotsBucket}.i.>`, lastPerSubject: true, headersOnly: true }, this.registry)) {
      n += chunk.length;
    }
    return n;
  }

  private decodeInfo(where: string, text: string): SnapshotInfo {
    try {
      return JSON.parse(text) as SnapshotInfo;
    } catch (e) {
      throw new CorruptDataError(where, 0, `snapshot metadata is not JSON: ${String(e)}`);
    }
  }
}
