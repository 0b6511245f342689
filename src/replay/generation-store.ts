/**
 * The store as a new *generation* of an app's streams sees it: what the new version's runners read
 * and write during a switch-over and after it (src/runtime/switch-over.ts). Every other stream, and
 * every other process's snapshots, pass through unchanged.
 *
 * A switched stream `S` is, per shard, the shard of its new version (fork.ts): the base prefix up to
 * the fork point and the events of `S--<generation>` after the `$fork` record. A shard the replay
 * did not fork is the base shard *cut at the change*: its events before `since`, since the old
 * version's events from then on are not the new version's. The first append to such a shard forks
 * it there (a `$fork` record with mode `live`, written together with the events), so the base stream
 * is never written by the new version: the old version stays as it was.
 *
 * Read as a whole (a downstream runner's input), `S` is the base events that belong to the new
 * version (those up to each shard's fork point; of an unforked shard, those before `since`) among the
 * base's first `baseCut` positions — what the base held when the switch-over began: the old version's
 * later events are not the new version's — in base order, then the events of `S--<generation>`: the
 * replay's part in the order a live run writes it (merged input number m), then what the new version's
 * runner appends. Versioned events get positions offset by GENERATION_OFFSET, so positions keep
 * increasing and a reader's saved position stays valid.
 *
 * Snapshots: a process of the generation restores its own version's snapshots; where it has none, the
 * old version's newest round stands in when its state is the new version's too: taken before `since`
 * (behaviour changed only from then on), and — for a downstream process — having consumed of each
 * switched input only events the new version keeps (before the first one it drops). A shard without
 * a snapshot of its own falls back to the old version's as of that round.
 */
import { ConflictError, InvalidInputError } from '../model/errors.ts';
import type { NewEvent, ShardHead, Snapshot, SnapshotInfo, StoredEvent } from '../model/event.ts';
import { ALL_SHARDS, type ShardRange } from '../model/shard.ts';
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
  SnapshotFilter,
  SnapshotQuery,
  StoreStats,
  SubscribeOptions,
} from '../store/event-store.ts';
import { isRoundShard, roundShard } from '../runtime/runner.ts';
import { parseFork, readFork } from './fork.ts';
import type { GenerationRecord } from './generation-record.ts';
import { FORK_EVENT, versionedStreamName } from './naming.ts';
import type { ForkRecord } from './types.ts';

/** Added to the positions of a versioned stream's events in a switched stream's whole-stream order. */
export const GENERATION_OFFSET = 2 ** 40;

export interface Generation {
  /** The changed process's new version: names the versioned streams. */
  readonly generation: string;
  /** Event time since which behaviour changed (null: from the beginning). */
  readonly since: number | null;
  readonly process: string;
  readonly fromVersion: string | null;
  /** Each switched stream and the process that writes it. */
  readonly streams: ReadonlyMap<string, string>;
  /** Per process of the generation: the version that wrote the base and its snapshots. */
  readonly oldVersions: ReadonlyMap<string, string>;
  /** Per process of the generation: its new version. */
  readonly newVersions: ReadonlyMap<string, string>;
  /** The shard range of the runners (which round markers stand in). */
  readonly range?: ShardRange;
  /** Per switched stream: the base's last position when the switch-over began (see above). */
  readonly baseCut: ReadonlyMap<string, number>;
  /** Per process of the generation: its input streams, in order (for stand-in rounds). */
  readonly inputs: ReadonlyMap<string, readonly string[]>;
  /** Per process: per input, effects of inputs at or below were the old version's (from the record; none during a switch-over). */
  readonly effectsDoneUpTo?: ReadonlyMap<string, readonly number[]>;
  /**
   * Per switched stream: the versioned stream's last position when the switch-over began — what the
   * replay wrote, shard after shard. Whole-stream readers get that part in the order a live run writes
   * it (merged input number m, then key and seq), as version views do (view.ts).
   */
  readonly replayedUpTo?: ReadonlyMap<string, number>;
}

interface Cut {
  /** The shard's events 1..seq are before `since`. */
  readonly seq: number;
  readonly time: number | null;
}

export class GenerationStore implements EventStore {
  readonly location: string;
  /** `stream\0key` → the shard's fork record (null: not forked). Only this store forks shards after the replay. */
  private readonly forks = new Map<string, ForkRecord | null>();
  private readonly cuts = new Map<string, Cut>();
  /** Base streams the old version no longer writes: their last position. */
  private readonly frozen = new Map<string, number>();
  private readonly rounds = new Map<string, SnapshotInfo | null>();
  private readonly replayed = new Map<string, StoredEvent[]>();
  /** Per shard: the newest append not yet handed to the store underneath. */
  private readonly submitting = new Map<string, Promise<void>>();

  constructor(
    readonly inner: EventStore,
    readonly g: Generation,
  ) {
    this.location = inner.location;
  }

  /** The store as the generation a switch-over recorded sees it (its base streams frozen where the old version stopped). */
  static of(inner: EventStore, record: GenerationRecord, range: ShardRange = ALL_SHARDS): GenerationStore {
    const g = new GenerationStore(inner, {
      generation: record.generation,
      since: record.since,
      process: record.process,
      fromVersion: record.fromVersion,
      streams: new Map(Object.entries(record.streams)),
      oldVersions: new Map(Object.entries(record.oldVersions)),
      newVersions: new Map(Object.entries(record.newVersions)),
      range,
      baseCut: new Map(Object.entries(record.baseCut)),
      inputs: new Map(Object.entries(record.inputs)),
      replayedUpTo: new Map(Object.entries(record.replayedUpTo)),
      effectsDoneUpTo: new Map(Object.entries(record.effectsDoneUpTo)),
    });
    for (const [stream, last] of Object.entries(record.baseLast)) g.freeze(stream, last);
    return g;
  }

  /** The old version stopped writing `stream` at `lastPosition` (an unforked shard's cut is then final). */
  freeze(stream: string, lastPosition: number): void {
    this.frozen.set(stream, lastPosition);
  }

  /** Per input of `process`: effects of inputs at or below were the old version's (undefined: none recorded). */
  effectsDoneUpTo(process: string): readonly number[] | undefined {
    return this.g.effectsDoneUpTo?.get(process);
  }

  isSwitched(stream: string): boolean {
    return this.g.streams.has(stream);
  }

  /** Last position of `stream` in its whole-stream order (for settling and for a switch-over's wait). */
  async lastPosition(stream: string): Promise<number> {
    const stats = await this.inner.stats();
    const versioned = stats.streams.find((s) => s.stream === this.versioned(stream))?.lastPosition ?? 0;
    if (versioned > 0) return GENERATION_OFFSET + versioned;
    return stats.streams.find((s) => s.stream === stream)?.lastPosition ?? 0;
  }

  // ------------------------------------------------------------------ shards

  async head(stream: string, key: string): Promise<ShardHead> {
    if (!this.isSwitched(stream)) return this.inner.head(stream, key);
    const fork = await this.forkOf(stream, key);
    if (fork === null) {
      const cut = await this.cutOf(stream, key);
      return { lastSeq: cut.seq, lastTime: cut.time };
    }
    const head = await this.inner.head(this.versioned(stream), key);
    if (head.lastSeq > 1) return { lastSeq: fork.baseSeq + head.lastSeq - 1, lastTime: head.lastTime };
    return { lastSeq: fork.baseSeq, lastTime: fork.baseSeq === 0 ? null : await this.baseTime(stream, key, fork.baseSeq) };
  }

  async *readShard(stream: string, key: string, options: ReadShardOptions = {}): AsyncIterable<StoredEvent[]> {
    if (!this.isSwitched(stream)) {
      yield* this.inner.readShard(stream, key, options);
      return;
    }
    const fromSeq = options.fromSeq ?? 1;
    const keep = (e: StoredEvent) => options.fromTime === undefined || e.time >= options.fromTime;
    const fork = await this.forkOf(stream, key);
    const baseEnd = fork === null ? (await this.cutOf(stream, key)).seq : fork.baseSeq;
    if (fromSeq <= baseEnd) {
      for await (const batch of this.inner.readShard(stream, key, { ...options, fromSeq })) {
        const part = batch.filter((e) => e.seq <= baseEnd && keep(e));
        if (part.length > 0) yield part;
        if ((batch[batch.length - 1]?.seq ?? 0) >= baseEnd) break;
      }
    }
    if (fork === null) return;
    const from = Math.max(2, fromSeq - fork.baseSeq + 1);
    for await (const batch of this.inner.readShard(this.versioned(stream), key, { ...options, fromSeq: from })) {
      const part = batch.filter(keep).map((e) => ({ ...e, stream, seq: fork.baseSeq + e.seq - 1 }));
      if (part.length > 0) yield part;
    }
  }

  /**
   * Appends keep their submission order per shard (a runner pipelines its appends and relies on the
   * store committing them in order): each waits until the one before it on the shard has been handed
   * to the store underneath, not until it is durable.
   */
  append(stream: string, key: string, events: readonly NewEvent<unknown>[], options: AppendOptions = {}): Promise<AppendResult> {
    if (!this.isSwitched(stream)) return this.inner.append(stream, key, events, options);
    const id = `${stream}\u0000${key}`;
    const before = this.submitting.get(id);
    let submitted!: () => void;
    const handed = new Promise<void>((resolve) => (submitted = resolve));
    this.submitting.set(id, handed);
    return (async () => {
      try {
        if (before !== undefined) await before;
        return await this.appendInOrder(stream, key, events, options, submitted);
      } finally {
        submitted();
        if (this.submitting.get(id) === handed) this.submitting.delete(id);
      }
    })();
  }

  private async appendInOrder(stream: string, key: string, events: readonly NewEvent<unknown>[], options: AppendOptions, submitted: () => void): Promise<AppendResult> {
    const versioned = this.versioned(stream);
    const expected = options.expect?.lastSeq;
    const token = options.token === undefined ? {} : { token: options.token };
    const id = `${stream}\u0000${key}`;
    const fork = await this.forkOf(stream, key);
    if (fork !== null) {
      const pending = this.inner.append(versioned, key, events, { ...token, ...(expected === undefined ? {} : { expect: { lastSeq: expected - fork.baseSeq + 1 } }) });
      submitted();
      const r = await pending;
      return { firstSeq: fork.baseSeq + r.firstSeq - 1, lastSeq: fork.baseSeq + r.lastSeq - 1, firstPosition: GENERATION_OFFSET + r.firstPosition, lastPosition: GENERATION_OFFSET + r.lastPosition };
    }
    const cut = await this.cutOf(stream, key);
    if (expected !== undefined && expected !== cut.seq) {
      throw new ConflictError({ stream, key, expected: { lastSeq: expected }, actual: { lastSeq: cut.seq, lastTime: cut.time } });
    }
    const record: ForkRecord = { base: stream, baseSeq: cut.seq, count: 0, process: this.g.streams.get(stream) as string, fromVersion: this.g.fromVersion, toVersion: this.g.generation, mode: 'live', snapshotM: null };
    const first = events[0] as NewEvent<unknown>;
    const pending = this.inner.append(versioned, key, [{ type: FORK_EVENT, time: first.time, data: record as never }, ...events], { ...token, expect: { lastSeq: 0 } });
    // The appends after this one go after the fork record (if it does not land, they fail on their condition).
    this.forks.set(id, record);
    submitted();
    try {
      const r = await pending;
      return { firstSeq: cut.seq + 1, lastSeq: cut.seq + events.length, firstPosition: GENERATION_OFFSET + r.firstPosition + 1, lastPosition: GENERATION_OFFSET + r.lastPosition };
    } catch (e) {
      this.forks.delete(id); // read it again: it may or may not have landed
      throw e;
    }
  }

  // ------------------------------------------------------------------ whole streams

  readStream(stream: string, options: ReadStreamOptions = {}): AsyncIterable<StoredEvent[]> {
    if (!this.isSwitched(stream)) return this.inner.readStream(stream, options);
    return this.whole(stream, options.fromPosition ?? 1, options.batchSize ?? 1000, false, undefined, options.fromTime);
  }

  subscribe(options: SubscribeOptions = {}): AsyncIterable<StoredEvent[]> {
    if (options.stream === undefined || !this.isSwitched(options.stream)) return this.inner.subscribe(options);
    return this.whole(options.stream, options.fromPosition ?? 1, options.batchSize ?? 1000, true, options.signal);
  }

  readAll(options?: { fromPosition?: number; batchSize?: number }): AsyncIterable<StoredEvent[]> {
    return this.inner.readAll(options);
  }

  scanColumns(stream: string, options?: ScanColumnsOptions): AsyncIterable<ColumnBatch> {
    if (this.isSwitched(stream)) throw new InvalidInputError('stream', `a stream that is not switched to generation ${this.g.generation} (scan ${this.versioned(stream)} and the base instead)`, stream);
    return this.inner.scanColumns(stream, options);
  }

  private async *whole(stream: string, fromPosition: number, batchSize: number, live: boolean, signal: AbortSignal | undefined, fromTime?: number): AsyncIterable<StoredEvent[]> {
    const keep = (e: StoredEvent) => fromTime === undefined || e.time >= fromTime;
    const baseCut = this.g.baseCut.get(stream) ?? 0;
    const from = fromPosition;
    if (from <= baseCut) {
      read: for await (const batch of this.inner.readStream(stream, { fromPosition: from, batchSize })) {
        const out: StoredEvent[] = [];
        for (const e of batch) {
          if (e.position > baseCut) {
            if (out.length > 0) yield out;
            break read;
          }
          if ((await this.keeps(stream, e)) && keep(e)) out.push(e);
        }
        if (out.length > 0) yield out;
        if (signal?.aborted === true) return;
      }
    }
    const versioned = this.versioned(stream);
    const baseSeqs = new Map<string, number>();
    const translate = async (e: StoredEvent, position: number): Promise<StoredEvent> => {
      if (e.seq === 1) {
        const fork = parseFork(e);
        if (fork !== undefined) baseSeqs.set(e.key, fork.baseSeq);
        return { ...e, stream, position };
      }
      let baseSeq = baseSeqs.get(e.key);
      if (baseSeq === undefined) {
        baseSeq = (await this.forkOf(stream, e.key))?.baseSeq ?? 0;
        baseSeqs.set(e.key, baseSeq);
      }
      return { ...e, stream, position, seq: baseSeq + e.seq - 1 };
    };
    // The replay's part, in live order, renumbered to the positions it occupies (its n events end at its
    // last position, so what follows keeps increasing, and a reader's saved position means the same).
    const replayed = this.g.replayedUpTo?.get(stream) ?? 0;
    let vFrom = Math.max(1, from - GENERATION_OFFSET);
    if (replayed > 0 && vFrom <= replayed) {
      const ordered = await this.replayedPart(versioned, replayed);
      const first = replayed - ordered.length + 1;
      for (let i = Math.max(0, vFrom - first); i < ordered.length; i += batchSize) {
        const out: StoredEvent[] = [];
        for (let j = i; j < Math.min(ordered.length, i + batchSize); j++) {
          const e = await translate(ordered[j] as StoredEvent, GENERATION_OFFSET + first + j);
          if (keep(e)) out.push(e);
        }
        if (out.length > 0) yield out;
        if (signal?.aborted === true) return;
      }
      vFrom = replayed + 1;
    }
    const source = live ? this.inner.subscribe({ stream: versioned, fromPosition: vFrom, batchSize, ...(signal === undefined ? {} : { signal }) }) : this.inner.readStream(versioned, { fromPosition: vFrom, batchSize });
    for await (const batch of source) {
      const out: StoredEvent[] = [];
      for (const e of batch) {
        const translated = await translate(e, GENERATION_OFFSET + e.position);
        if (keep(translated)) out.push(translated);
      }
      if (out.length > 0) yield out;
    }
  }

  /** The versioned stream's events up to `last`, ordered by merged input number m, then key and seq (fork records first in their shard). */
  private async replayedPart(versioned: string, last: number): Promise<StoredEvent[]> {
    const cached = this.replayed.get(versioned);
    if (cached !== undefined) return cached;
    const events: StoredEvent[] = [];
    read: for await (const batch of this.inner.readStream(versioned, { batchSize: 4096 })) {
      for (const e of batch) {
        if (e.position > last) break read;
        events.push(e);
      }
    }
    const m = (e: StoredEvent) => (typeof e.meta?.m === 'number' ? e.meta.m : e.seq === 1 ? -1 : Number.POSITIVE_INFINITY);
    events.sort((a, b) => m(a) - m(b) || (a.key < b.key ? -1 : a.key > b.key ? 1 : a.seq - b.seq));
    this.replayed.set(versioned, events);
    return events;
  }

  // ------------------------------------------------------------------ leases

  acquireLease(request: LeaseRequest): Promise<Lease> {
    return this.inner.acquireLease(this.isSwitched(request.stream) ? { ...request, stream: this.versioned(request.stream) } : request);
  }

  renewLease(lease: Lease, ttlMs: number): Promise<Lease> {
    return this.inner.renewLease(lease, ttlMs);
  }

  releaseLease(lease: Lease): Promise<void> {
    return this.inner.releaseLease(lease);
  }

  // ------------------------------------------------------------------ snapshots

  putSnapshot(snapshot: Omit<Snapshot, 'sizeBytes'>): Promise<void> {
    return this.inner.putSnapshot(snapshot);
  }

  async getSnapshot(q: SnapshotQuery): Promise<Snapshot | undefined> {
    const old = this.oldVersionFor(q.process, q.version);
    if (old === undefined) return this.inner.getSnapshot(q);
    const own = await this.inner.getSnapshot(q);
    if (own !== undefined) return own;
    const round = await this.standInRound(q.process, old);
    if (round === null) return undefined;
    const limit = Math.min(q.atOrBefore ?? Number.POSITIVE_INFINITY, round.position);
    if (isRoundShard(q.shard) && q.shard !== round.shard) return undefined;
    const s = await this.inner.getSnapshot({ process: q.process, version: old, shard: q.shard, atOrBefore: limit });
    return s === undefined ? undefined : { ...s, version: q.version };
  }

  async listSnapshots(filter: SnapshotFilter = {}): Promise<SnapshotInfo[]> {
    const own = await this.inner.listSnapshots(filter);
    const old = filter.process === undefined || filter.version === undefined ? undefined : this.oldVersionFor(filter.process, filter.version);
    if (old === undefined) return own;
    const round = await this.standInRound(filter.process as string, old);
    if (round === null) return own;
    const mine = new Set(own.map((s) => s.shard));
    const standIns = (await this.inner.listSnapshots({ ...filter, version: old }))
      .filter((s) => s.position <= round.position && !mine.has(s.shard) && (!isRoundShard(s.shard) || s.shard === round.shard))
      .map((s) => ({ ...s, version: filter.version as string }));
    return [...own, ...standIns];
  }

  /** The old version's newest round whose state is the new version's too (see above; null: none, start from scratch). */
  private async standInRound(process: string, old: string): Promise<SnapshotInfo | null> {
    const known = this.rounds.get(process);
    if (known !== undefined) return known;
    const since = this.g.since;
    const names = new Set([roundShard(this.g.range ?? ALL_SHARDS), roundShard(ALL_SHARDS)]);
    const inputs = this.g.inputs.get(process) ?? [];
    const bounds = await Promise.all(inputs.map((stream) => (this.isSwitched(stream) ? this.firstDropped(stream) : Number.POSITIVE_INFINITY)));
    let best: SnapshotInfo | null = null;
    if (since !== null) {
      const candidates = (await this.inner.listSnapshots({ process, version: old })).filter((s) => names.has(s.shard) && s.time < since).sort((a, b) => b.position - a.position);
      for (const c of candidates) {
        const round = await this.inner.getSnapshot({ process, version: old, shard: c.shard, atOrBefore: c.position });
        const consumed = round === undefined ? undefined : (JSON.parse(new TextDecoder().decode(round.data)) as { consumed?: unknown }).consumed;
        if (!Array.isArray(consumed) || consumed.length !== inputs.length) continue;
        if (consumed.every((p, i) => typeof p === 'number' && p < (bounds[i] as number))) {
          best = c;
          break;
        }
      }
    }
    this.rounds.set(process, best);
    return best;
  }

  /** Position of the first base event of a switched stream that the new version drops (the base's cut + 1 when none before it). */
  private async firstDropped(stream: string): Promise<number> {
    const baseCut = this.g.baseCut.get(stream) ?? 0;
    for await (const batch of this.inner.readStream(stream, { batchSize: 4096 })) {
      for (const e of batch) {
        if (e.position > baseCut) return baseCut + 1;
        if (!(await this.keeps(stream, e))) return e.position;
      }
    }
    return baseCut + 1;
  }

  /** Does the new version keep this base event (up to its shard's fork point; unforked, before the change)? */
  private async keeps(stream: string, e: StoredEvent): Promise<boolean> {
    const fork = await this.forkOf(stream, e.key);
    if (fork !== null) return e.seq <= fork.baseSeq;
    return this.g.since !== null && e.time < this.g.since;
  }

  private oldVersionFor(process: string, version: string): string | undefined {
    return this.g.newVersions.get(process) === version ? this.g.oldVersions.get(process) : undefined;
  }

  // ------------------------------------------------------------------ the rest

  async stats(): Promise<StoreStats> {
    const stats = await this.inner.stats();
    const last = new Map(stats.streams.map((s) => [s.stream, s.lastPosition]));
    return {
      ...stats,
      streams: stats.streams.map((s) => {
        if (!this.isSwitched(s.stream)) return s;
        const versioned = last.get(this.versioned(s.stream)) ?? 0;
        return versioned > 0 ? { ...s, lastPosition: GENERATION_OFFSET + versioned } : s;
      }),
    };
  }

  /** The store underneath is the caller's to close. */
  async close(): Promise<void> {}

  private versioned(stream: string): string {
    return versionedStreamName(stream, this.g.generation);
  }

  private async forkOf(stream: string, key: string): Promise<ForkRecord | null> {
    const id = `${stream}\u0000${key}`;
    const known = this.forks.get(id);
    if (known !== undefined) return known;
    const fork = (await readFork(this.inner, this.versioned(stream), key))?.fork ?? null;
    this.forks.set(id, fork);
    return fork;
  }

  /** Where an unforked shard's new version ends: its last base event before the change. */
  private async cutOf(stream: string, key: string): Promise<Cut> {
    const id = `${stream}\u0000${key}`;
    const known = this.cuts.get(id);
    if (known !== undefined) return known;
    const since = this.g.since;
    let cut: Cut = { seq: 0, time: null };
    let final = since === null || this.frozen.has(stream);
    if (since !== null) {
      scan: for await (const batch of this.inner.readShard(stream, key, { batchSize: 1000 })) {
        for (const e of batch) {
          if (e.time >= since) {
            final = true;
            break scan;
          }
          cut = { seq: e.seq, time: e.time };
        }
      }
    }
    // Until the old version has written past the change (or stopped), a later base event may still be before it.
    if (final) this.cuts.set(id, cut);
    return cut;
  }

  private async baseTime(stream: string, key: string, seq: number): Promise<number | null> {
    for await (const batch of this.inner.readShard(stream, key, { fromSeq: seq, batchSize: 1 })) return batch[0]?.time ?? null;
    return null;
  }
}
