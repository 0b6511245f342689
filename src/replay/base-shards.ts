/**
 * The old output of the shards being rebuilt (the base stream), which a replay compares its new
 * output with to find each shard's fork point. Read per shard — or, when the replay rebuilds much of
 * a large stream, scanned once in order and kept per shard, for the reason shard-inputs.ts gives
 * (a shard's events are scattered over the log).
 */
import type { StoredEvent } from '../model/event.ts';
import type { EventStore } from '../store/event-store.ts';
import type { RoutePolicy } from './shard-inputs.ts';

export class BaseShards {
  private constructor(
    private readonly store: EventStore,
    private readonly stream: string,
    /** Each wanted shard's events, when the stream was scanned. */
    private readonly scanned: Map<string, StoredEvent[]> | undefined,
  ) {}

  /** Scans `stream` once for `keys` when `policy` says it pays (by the stream's events and shards). */
  static async open(store: EventStore, stream: string, keys: ReadonlySet<string>, policy: RoutePolicy | undefined): Promise<BaseShards> {
    if (policy === undefined || keys.size === 0) return new BaseShards(store, stream, undefined);
    const stats = (await store.stats()).streams.find((s) => s.stream === stream);
    // Shards of about equal size: the wanted share of the events is about the wanted share of the shards.
    const share = stats === undefined || stats.shards === 0 ? 0 : keys.size / stats.shards;
    const held = share * (stats?.events ?? 0);
    if (stats === undefined || stats.events < policy.minEvents || share < policy.minShare || held > policy.maxEvents) return new BaseShards(store, stream, undefined);
    const scanned = new Map<string, StoredEvent[]>();
    for (const key of keys) scanned.set(key, []);
    for await (const batch of store.readStream(stream, { batchSize: 4096 })) {
      for (const e of batch) scanned.get(e.key)?.push(e);
    }
    return new BaseShards(store, stream, scanned);
  }

  /** The shard's events in order. */
  async events(key: string): Promise<StoredEvent[]> {
    const known = this.scanned?.get(key);
    if (known !== undefined) return known;
    const out: StoredEvent[] = [];
    for await (const batch of this.store.readShard(this.stream, key, { batchSize: 4096 })) out.push(...batch);
    return out;
  }
}
