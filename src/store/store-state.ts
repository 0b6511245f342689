/**
 * The bookkeeping every store shares, as a pure in-memory state machine: shard heads, global
 * positions, per-stream statistics and leases. Stores *plan* an operation (validate, throw typed
 * errors, mutate nothing), make it durable their own way, then *apply* it. Replaying a store's log
 * on open applies the same operations, so recovery and live operation cannot disagree.
 */
import { ConflictError, FencedError, LeaseHeldError, InvalidInputError } from '../model/errors.ts';
import { EMPTY_SHARD, type EventTimeMs, type NewEvent, type ShardHead } from '../model/event.ts';
import { bucketOf, rangeContains, rangesOverlap } from '../model/shard.ts';
import { assert } from '../util/assert.ts';
import type { AppendOptions, Lease, LeaseRequest, StreamStats } from './event-store.ts';

export interface PlannedAppend {
  readonly stream: string;
  readonly key: string;
  readonly firstSeq: number;
  readonly firstPosition: number;
  readonly count: number;
  readonly lastTime: EventTimeMs;
  readonly minTime: EventTimeMs;
}

interface MutableStreamStats {
  events: number;
  shards: number;
  minTime: number | null;
  maxTime: number | null;
  lastPosition: number;
}

/** Shard identity as one string (stream names cannot contain NUL). */
export function shardId(stream: string, key: string): string {
  return `${stream}\u0000${key}`;
}

/**
 * A map from (stream, key) to T, nested by stream: looking a shard up then hashes the stream and key
 * strings the caller already holds (V8 caches a string's hash), instead of a freshly joined id string.
 */
export class ShardMap<T> {
  private readonly byStream = new Map<string, Map<string, T>>();

  get(stream: string, key: string): T | undefined {
    return this.byStream.get(stream)?.get(key);
  }

  set(stream: string, key: string, value: T): void {
    let keys = this.byStream.get(stream);
    if (keys === undefined) this.byStream.set(stream, (keys = new Map()));
    keys.set(key, value);
  }
}

export class StoreState {
  private readonly heads = new ShardMap<ShardHead>();
  private readonly streams = new Map<string, MutableStreamStats>();
  /** Every lease ever granted and not released, per stream, in token order. */
  private readonly leases = new Map<string, Lease[]>();
  private readonly lastTokens = new Map<string, number>();
  private lastPositionValue = 0;

  constructor(private readonly mutations: { readonly skipFencing?: boolean } = {}) {}

  get lastPosition(): number {
    return this.lastPositionValue;
  }

  head(stream: string, key: string): ShardHead {
    return this.heads.get(stream, key) ?? EMPTY_SHARD;
  }

  /**
   * Checks an append against the state *as of `pending`* (appends accepted but not yet applied, in
   * order) and returns where it lands. Throws CONFLICT or FENCED; mutates nothing.
   */
  planAppend(
    stream: string,
    key: string,
    events: readonly NewEvent<unknown>[],
    options: AppendOptions | undefined,
    pending?: PendingAppends,
  ): PlannedAppend {
    // Fencing first: a stale writer must learn it is fenced, not that its expectation was off.
    this.checkToken(stream, key, options?.token);
    const head = pending?.head(stream, key) ?? this.head(stream, key);
    const expect = options?.expect;
    if (expect !== undefined) {
      const seqOk = expect.lastSeq === undefined || expect.lastSeq === head.lastSeq;
      const timeOk = expect.lastTime === undefined || expect.lastTime === head.lastTime;
      if (!seqOk || !timeOk) {
        throw new ConflictError({ stream, key, expected: { ...expect }, actual: { ...head } });
      }
    }
    let minTime = Number.POSITIVE_INFINITY;
    for (const e of events) if (e.time < minTime) minTime = e.time;
    const last = events[events.length - 1];
    assert(last !== undefined, 'planAppend: events is non-empty');
    return {
      stream,
      key,
      firstSeq: head.lastSeq + 1,
      firstPosition: (pending?.lastPosition ?? this.lastPositionValue) + 1,
      count: events.length,
      lastTime: last.time,
      minTime,
    };
  }

  /** Where the next event of a shard lands, with no checks: for replaying records already accepted. */
  nextPlacement(stream: string, key: string): { firstSeq: number; firstPosition: number } {
    return { firstSeq: this.head(stream, key).lastSeq + 1, firstPosition: this.lastPositionValue + 1 };
  }

  applyAppend(plan: PlannedAppend, maxTime: EventTimeMs): void {
    assert(plan.firstPosition === this.lastPositionValue + 1, `applyAppend: positions are contiguous (${plan.firstPosition} after ${this.lastPositionValue})`);
    const head = this.heads.get(plan.stream, plan.key) ?? EMPTY_SHARD;
    assert(plan.firstSeq === head.lastSeq + 1, `applyAppend: sequence numbers of ${plan.stream}/${plan.key} are contiguous`);
    this.heads.set(plan.stream, plan.key, { lastSeq: plan.firstSeq + plan.count - 1, lastTime: plan.lastTime });
    this.lastPositionValue = plan.firstPosition + plan.count - 1;
    let s = this.streams.get(plan.stream);
    if (s === undefined) {
      s = { events: 0, shards: 0, minTime: null, maxTime: null, lastPosition: 0 };
      this.streams.set(plan.stream, s);
    }
    if (head.lastSeq === 0) s.shards++;
    s.events += plan.count;
    s.minTime = s.minTime === null ? plan.minTime : Math.min(s.minTime, plan.minTime);
    s.maxTime = s.maxTime === null ? maxTime : Math.max(s.maxTime, maxTime);
    s.lastPosition = this.lastPositionValue;
  }

  streamStats(): StreamStats[] {
    return [...this.streams.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([stream, s]) => ({ stream, ...s }));
  }

  /** The live lease currently governing a bucket: the newest-token lease covering it. */
  private governing(stream: string, bucket: number): Lease | undefined {
    const list = this.leases.get(stream);
    if (list === undefined) return undefined;
    for (let i = list.length - 1; i >= 0; i--) {
      const lease = list[i] as Lease;
      if (rangeContains(lease.range, bucket)) return lease;
    }
    return undefined;
  }

  private checkToken(stream: string, key: string, token: number | undefined): void {
    if (this.mutations.skipFencing) return;
    const lease = this.governing(stream, bucketOf(key));
    if (lease === undefined) {
      if (token !== undefined && token <= (this.lastTokens.get(stream) ?? 0)) {
        throw new FencedError(stream, token, undefined, `stream ${stream}: fencing token ${token} was released or superseded; shard ${key} has no lease`);
      }
      if (token !== undefined) throw new FencedError(stream, token, undefined, `stream ${stream}: fencing token ${token} was never issued`);
      return;
    }
    if (token !== lease.token) {
      throw new FencedError(
        stream,
        token,
        lease.token,
        token === undefined
          ? `stream ${stream}: shard ${key} is leased to ${lease.owner} (token ${lease.token}); an append needs the lease token`
          : undefined,
      );
    }
  }

  planAcquire(request: LeaseRequest, nowMs: number): Lease {
    for (const other of this.leases.get(request.stream) ?? []) {
      if (other.expiresAt > nowMs && other.owner !== request.owner && rangesOverlap(other.range, request.range)) {
        throw new LeaseHeldError(request.stream, other.owner, other.token, other.expiresAt);
      }
    }
    return {
      stream: request.stream,
      range: { from: request.range.from, to: request.range.to },
      owner: request.owner,
      token: (this.lastTokens.get(request.stream) ?? 0) + 1,
      expiresAt: nowMs + request.ttlMs,
    };
  }

  /** Grants (or, with the same token, renews) a lease. Leases fully covered by newer ones are dropped. */
  applyLease(lease: Lease): void {
    const list = this.leases.get(lease.stream) ?? [];
    const existing = list.findIndex((l) => l.token === lease.token);
    if (existing >= 0) {
      list[existing] = lease;
    } else {
      assert(lease.token > (this.lastTokens.get(lease.stream) ?? 0), 'applyLease: tokens increase');
      list.push(lease);
      this.lastTokens.set(lease.stream, lease.token);
    }
    this.leases.set(
      lease.stream,
      list.filter((l) => l.token === lease.token || !(lease.range.from <= l.range.from && l.range.to <= lease.range.to)),
    );
  }

  planRenew(lease: Lease, ttlMs: number, nowMs: number): Lease {
    const current = this.leases.get(lease.stream)?.find((l) => l.token === lease.token);
    if (current === undefined || this.isSuperseded(current)) {
      throw new FencedError(lease.stream, lease.token, this.lastTokens.get(lease.stream), `stream ${lease.stream}: lease token ${lease.token} was released or superseded`);
    }
    if (current.owner !== lease.owner) throw new InvalidInputError('lease.owner', `the owner ${current.owner}`, lease.owner);
    return { ...current, expiresAt: nowMs + ttlMs };
  }

  /** True when every bucket of the lease is governed by a newer token. */
  private isSuperseded(lease: Lease): boolean {
    for (const other of this.leases.get(lease.stream) ?? []) {
      if (other.token > lease.token && rangesOverlap(other.range, lease.range)) return true;
    }
    return false;
  }

  /**
   * Marks every lease as expired (keeping tokens and fencing as they are). Used when a store is
   * opened for exclusive writing: whoever held those leases no longer has the store open.
   */
  expireAllLeases(): number {
    let n = 0;
    for (const [stream, list] of this.leases) {
      this.leases.set(stream, list.map((l) => (n++, { ...l, expiresAt: Number.NEGATIVE_INFINITY })));
    }
    return n;
  }

  planRelease(lease: Lease): boolean {
    return (this.leases.get(lease.stream) ?? []).some((l) => l.token === lease.token);
  }

  applyRelease(stream: string, token: number): void {
    const list = this.leases.get(stream);
    if (list === undefined) return;
    this.leases.set(stream, list.filter((l) => l.token !== token));
  }
}

/**
 * Heads and positions of appends accepted into a commit group but not yet applied, so that several
 * appends to one shard in one group see each other.
 */
export class PendingAppends {
  private readonly heads = new Map<string, ShardHead>();
  lastPosition: number;
  constructor(private readonly state: StoreState) {
    this.lastPosition = state.lastPosition;
  }
  head(stream: string, key: string): ShardHead {
    return this.heads.get(shardId(stream, key)) ?? this.state.head(stream, key);
  }
  add(plan: PlannedAppend): void {
    this.heads.set(shardId(plan.stream, plan.key), { lastSeq: plan.firstSeq + plan.count - 1, lastTime: plan.lastTime });
    this.lastPosition = plan.firstPosition + plan.count - 1;
  }
}
