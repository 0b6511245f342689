/**
 * One Spive stream's leases as a value: the same rules as StoreState's (docs/event-store.md, "Fencing
 * rules"), as pure functions from a table to a new table. The NATS store keeps the table as the newest
 * message on the stream's lease subject and replaces it with a conditional publish (nats-store.ts).
 */
import { CorruptDataError, FencedError, InvalidInputError, LeaseHeldError } from '../../model/errors.ts';
import { bucketOf, rangeContains, rangesOverlap } from '../../model/shard.ts';
import type { Lease, LeaseRequest } from '../event-store.ts';

export const LEASE_TABLE_FORMAT = 1;

export interface LeaseTable {
  readonly format: typeof LEASE_TABLE_FORMAT;
  /** The newest token ever granted for the stream (tokens are never reused, even after release). */
  readonly lastToken: number;
  /** Granted and not released, in token order; leases fully covered by a newer one are dropped. */
  readonly leases: readonly Lease[];
}

export const EMPTY_LEASE_TABLE: LeaseTable = Object.freeze({ format: LEASE_TABLE_FORMAT, lastToken: 0, leases: [] });

/** The lease governing a bucket: the newest-token lease covering it. */
function governing(table: LeaseTable, bucket: number): Lease | undefined {
  for (let i = table.leases.length - 1; i >= 0; i--) {
    const lease = table.leases[i] as Lease;
    if (rangeContains(lease.range, bucket)) return lease;
  }
  return undefined;
}

/** Throws FENCED unless `token` is exactly what an append to `key` needs under `table`. */
export function checkToken(table: LeaseTable, stream: string, key: string, token: number | undefined): void {
  const lease = governing(table, bucketOf(key));
  if (lease === undefined) {
    if (token === undefined) return;
    throw new FencedError(
      stream,
      token,
      undefined,
      token <= table.lastToken
        ? `stream ${stream}: fencing token ${token} was released or superseded; shard ${key} has no lease`
        : `stream ${stream}: fencing token ${token} was never issued`,
    );
  }
  if (token !== lease.token) {
    throw new FencedError(
      stream,
      token,
      lease.token,
      token === undefined ? `stream ${stream}: shard ${key} is leased to ${lease.owner} (token ${lease.token}); an append needs the lease token` : undefined,
    );
  }
}

export function acquire(table: LeaseTable, request: LeaseRequest, nowMs: number): { table: LeaseTable; lease: Lease } {
  for (const other of table.leases) {
    if (other.expiresAt > nowMs && other.owner !== request.owner && rangesOverlap(other.range, request.range)) {
      throw new LeaseHeldError(request.stream, other.owner, other.token, other.expiresAt);
    }
  }
  const lease: Lease = {
    stream: request.stream,
    range: { from: request.range.from, to: request.range.to },
    owner: request.owner,
    token: table.lastToken + 1,
    expiresAt: nowMs + request.ttlMs,
  };
  const kept = table.leases.filter((l) => !(lease.range.from <= l.range.from && l.range.to <= lease.range.to));
  return { table: { format: LEASE_TABLE_FORMAT, lastToken: lease.token, leases: [...kept, lease] }, lease };
}

export function renew(table: LeaseTable, lease: Lease, ttlMs: number, nowMs: number): { table: LeaseTable; lease: Lease } {
  const current = table.leases.find((l) => l.token === lease.token);
  const superseded = current !== undefined && table.leases.some((o) => o.token > lease.token && rangesOverlap(o.range, lease.range));
  if (current === undefined || superseded) {
    throw new FencedError(lease.stream, lease.token, table.lastToken, `stream ${lease.stream}: lease token ${lease.token} was released or superseded`);
  }
  if (current.owner !== lease.owner) throw new InvalidInputError('lease.owner', `the owner ${current.owner}`, lease.owner);
  const renewed = { ...current, expiresAt: nowMs + ttlMs };
  return { table: { ...table, leases: table.leases.map((l) => (l.token === lease.token ? renewed : l)) }, lease: renewed };
}

/** The table without the lease, or undefined when it holds no such lease (nothing to write). */
export function release(table: LeaseTable, lease: Lease): LeaseTable | undefined {
  if (!table.leases.some((l) => l.token === lease.token)) return undefined;
  return { ...table, leases: table.leases.filter((l) => l.token !== lease.token) };
}

/** Parses a lease table message; CORRUPT (naming the subject) when it is not one. */
export function decodeLeaseTable(subject: string, text: string): LeaseTable {
  let table: LeaseTable;
  try {
    table = JSON.parse(text) as LeaseTable;
  } catch (e) {
    throw new CorruptDataError(subject, 0, `lease table is not JSON: ${String(e)}`);
  }
  if (table?.format !== LEASE_TABLE_FORMAT || !Array.isArray(table.leases)) {
    throw new CorruptDataError(subject, 0, `lease table format ${JSON.stringify(table?.format)} is not ${LEASE_TABLE_FORMAT}`);
  }
  return table;
}
