/**
 * Spive's public API. Apps import from here (`import { … } from 'spive'`), never from deep paths.
 */
export type {
  EventMeta,
  EventTimeMs,
  FencingToken,
  GlobalPosition,
  JsonValue,
  Key,
  NewEvent,
  Seq,
  ShardHead,
  Snapshot,
  SnapshotInfo,
  StoredEvent,
  StreamName,
} from './model/event.ts';
export { EMPTY_SHARD } from './model/event.ts';
export * from './model/errors.ts';
export { ALL_SHARDS, SHARD_BUCKETS, bucketOf, parseShardRange, type ShardRange } from './model/shard.ts';
export { ManualClock, realClock, type Clock } from './time/clock.ts';
export { realTimers, type TimerHandle, type Timers } from './time/timers.ts';
export { deriveSeed, seededRandom, type Random } from './random/random.ts';
export { realRandom } from './random/real-random.ts';
export type * from './store/event-store.ts';
export { MemoryStore, type MemoryStoreOptions } from './store/memory/memory-store.ts';
export { EmbeddedStore, STORE_FORMAT, type EmbeddedStoreOptions } from './store/embedded/embedded-store.ts';
export type { FileHandle, FileSystem } from './store/embedded/file-system.ts';
export { nodeFileSystem } from './store/embedded/node-file-system.ts';
export { DEFAULT_STORE_LOCATION, openStore, parseStoreLocation, type StoreLocation } from './store/open-store.ts';
