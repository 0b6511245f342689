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
export { ManualTimers } from './time/manual-timers.ts';
export { deriveSeed, seededRandom, type Random } from './random/random.ts';
export { realRandom } from './random/real-random.ts';
export type * from './store/event-store.ts';
export { ScanBuffers } from './store/scan-buffers.ts';
export { MemoryStore, type MemoryStoreOptions } from './store/memory/memory-store.ts';
export { EmbeddedStore, STORE_FORMAT, type EmbeddedStoreOptions } from './store/embedded/embedded-store.ts';
export { PostgresStore, type PostgresStoreOptions } from './store/postgres/postgres-store.ts';
export { NatsStore, type NatsStoreOptions } from './store/nats/nats-store.ts';
export type { FileHandle, FileSystem } from './store/embedded/file-system.ts';
export { nodeFileSystem } from './store/embedded/node-file-system.ts';
export { DEFAULT_STORE_LOCATION, openStore, parseStoreLocation, type StoreLocation } from './store/open-store.ts';

// Writing apps
export {
  defineApp,
  defineGateway,
  defineInvariant,
  defineProcess,
  defineStream,
  ingressStreams,
  keyedBy,
  type AppDef,
  type AppOptions,
  type AppView,
  type EffectCall,
  type EventMap,
  type EventOf,
  type FailureKind,
  type GatewayDef,
  type GatewayImpl,
  type Handler,
  type HandlerContext,
  type InputEvent,
  type InvariantDef,
  type ProcessDef,
  type SnapshotPolicy,
  type StreamDef,
  type WorkloadEvent,
  type WorkloadSpec,
} from './app/define.ts';

// Running them
export { Platform, type IngressEvent, type PlatformOptions, type PlatformStatus } from './runtime/platform.ts';
export { ProcessRunner, HandlerBugError, IDLE_EVENT, PROGRESS_EVENT, type IdlePolicy, type RunnerMode, type RunnerStatus } from './runtime/runner.ts';
export { EffectBugError, GatewayRuntime, type GatewayStatus } from './runtime/gateway-runtime.ts';
export { MemoryLog, silentLog, type LogEntry, type RuntimeLog } from './runtime/log.ts';
export { MemoryGateway } from './runtime/memory-gateway.ts';
export { RUNTIME_MUTATIONS, type RuntimeMutation } from './runtime/mutations.ts';
export { httpGateway, HttpStatusError, type HttpGatewayOptions } from './runtime/http-gateway.ts';
export type { BackoffPolicy } from './runtime/backoff.ts';
