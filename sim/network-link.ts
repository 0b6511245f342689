/**
 * The event store as one node reaches it over the simulated network: every method is a call through
 * `SimNetwork` (latency, FIFO order, faults). A plain class rather than a Proxy, because every store
 * call of every simulated node goes through here. The memory store's frequent calls are made through
 * its synchronous forms (the same code, without the promise of an async method).
 */
import type { NewEvent, ShardHead, Snapshot, SnapshotInfo, StoredEvent } from '../src/model/event.ts';
import type {
  AppendOptions,
  AppendResult,
  ColumnBatch,
  EventStore,
  Lease,
  LeaseRequest,
  ReadShardOptions,
  ReadStreamOptions,
  ScanColumnsOptions,
  SnapshotQuery,
  StoreStats,
  SubscribeOptions,
} from '../src/store/event-store.ts';
import { MemoryStore } from '../src/store/memory/memory-store.ts';
import type { LinkOrder, NodeState, SimNetwork } from './network.ts';
import { AppendCall } from './network-call.ts';

export class Link implements EventStore, LinkOrder {
  lastArrival = 0;
  lastReply = 0;

  constructor(
    private readonly net: SimNetwork,
    private readonly node: NodeState,
    private readonly current: () => EventStore,
  ) {}

  get location(): string {
    return this.current().location;
  }

  append(stream: string, key: string, events: readonly NewEvent<unknown>[], options?: AppendOptions): Promise<AppendResult> {
    return this.net.send(this.node, this, 'append', new AppendCall(stream, key, events, options)) as Promise<AppendResult>;
  }

  head(stream: string, key: string): Promise<ShardHead> {
    return this.net.call(this.node, this, 'head', (s) => (s instanceof MemoryStore ? s.headNow(stream, key) : s.head(stream, key)));
  }

  readShard(stream: string, key: string, options?: ReadShardOptions): AsyncIterable<StoredEvent[]> {
    return this.net.iterate(this.node, this, 'readShard', (s) => s.readShard(stream, key, options));
  }

  readStream(stream: string, options?: ReadStreamOptions): AsyncIterable<StoredEvent[]> {
    return this.net.iterate(this.node, this, 'readStream', (s) => s.readStream(stream, options));
  }

  readAll(options?: { fromPosition?: number; batchSize?: number }): AsyncIterable<StoredEvent[]> {
    return this.net.iterate(this.node, this, 'readAll', (s) => s.readAll(options));
  }

  subscribe(options?: SubscribeOptions): AsyncIterable<StoredEvent[]> {
    return this.net.iterate(this.node, this, 'subscribe', (s) => s.subscribe(options));
  }

  scanColumns(stream: string, options?: ScanColumnsOptions): AsyncIterable<ColumnBatch> {
    return this.net.iterate(this.node, this, 'scanColumns', (s) => s.scanColumns(stream, options));
  }

  acquireLease(request: LeaseRequest): Promise<Lease> {
    return this.net.call(this.node, this, 'acquireLease', (s) => s.acquireLease(request));
  }

  renewLease(lease: Lease, ttlMs: number): Promise<Lease> {
    return this.net.call(this.node, this, 'renewLease', (s) => s.renewLease(lease, ttlMs));
  }

  releaseLease(lease: Lease): Promise<void> {
    return this.net.call(this.node, this, 'releaseLease', (s) => s.releaseLease(lease));
  }

  putSnapshot(snapshot: Omit<Snapshot, 'sizeBytes'>): Promise<void> {
    return this.net.call(this.node, this, 'putSnapshot', (s) => (s instanceof MemoryStore ? s.putSnapshotNow(snapshot) : s.putSnapshot(snapshot)));
  }

  getSnapshot(query: SnapshotQuery): Promise<Snapshot | undefined> {
    return this.net.call(this.node, this, 'getSnapshot', (s) => s.getSnapshot(query));
  }

  listSnapshots(filter?: Parameters<EventStore['listSnapshots']>[0]): Promise<SnapshotInfo[]> {
    return this.net.call(this.node, this, 'listSnapshots', (s) => s.listSnapshots(filter));
  }

  stats(): Promise<StoreStats> {
    return this.net.call(this.node, this, 'stats', (s) => s.stats());
  }

  /** Not a network call: closing is the store's owner's business (as before: passed straight through). */
  close(): Promise<void> {
    return this.current().close();
  }
}
