/**
 * Leases in SQL. Each operation is one transaction holding the stream's lease lock exclusively;
 * appends hold it shared (see the append function in migrations.ts), so a lease is never granted,
 * renewed or released between an append's token check and its commit. Expiry is judged by the
 * store's Clock, whose time the caller passes in (tests drive it with a ManualClock).
 */
import type pg from 'pg';
import { FencedError, InvalidInputError, LeaseHeldError } from '../../model/errors.ts';
import type { Lease, LeaseRequest } from '../event-store.ts';

type LeaseRow = [string, number, number, number, number]; // owner, token, range_from, range_to, expires_at

async function inLeaseTransaction<T>(pool: pg.Pool, s: string, stream: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    try {
      await client.query(`SELECT pg_advisory_xact_lock(${s}.lease_lock($1))`, [stream]);
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
  } finally {
    client.release();
  }
}

export function acquireLease(pool: pg.Pool, s: string, request: LeaseRequest, nowMs: number): Promise<Lease> {
  const { stream, range, owner, ttlMs } = request;
  return inLeaseTransaction(pool, s, stream, async (client) => {
    const held = await client.query<LeaseRow>({
      text: `SELECT owner, token, range_from, range_to, expires_at FROM ${s}.leases
             WHERE stream = $1 AND expires_at > $2 AND owner <> $3 AND range_from < $5 AND $4 < range_to
             ORDER BY token LIMIT 1`,
      values: [stream, nowMs, owner, range.from, range.to],
      rowMode: 'array',
    });
    const other = held.rows[0];
    if (other !== undefined) throw new LeaseHeldError(stream, other[0], other[1], other[4]);
    const next = await client.query<[number]>({
      text: `INSERT INTO ${s}.lease_tokens AS t (stream, last_token) VALUES ($1, 1)
             ON CONFLICT (stream) DO UPDATE SET last_token = t.last_token + 1 RETURNING last_token`,
      values: [stream],
      rowMode: 'array',
    });
    const token = (next.rows[0] as [number])[0];
    const expiresAt = nowMs + ttlMs;
    await client.query(`INSERT INTO ${s}.leases (stream, token, owner, range_from, range_to, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`, [
      stream,
      token,
      owner,
      range.from,
      range.to,
      expiresAt,
    ]);
    // Older leases wholly inside the new range govern nothing any more.
    await client.query(`DELETE FROM ${s}.leases WHERE stream = $1 AND token <> $2 AND range_from >= $3 AND range_to <= $4`, [
      stream,
      token,
      range.from,
      range.to,
    ]);
    return { stream, range: { from: range.from, to: range.to }, owner, token, expiresAt };
  });
}

export function renewLease(pool: pg.Pool, s: string, lease: Lease, ttlMs: number, nowMs: number): Promise<Lease> {
  return inLeaseTransaction(pool, s, lease.stream, async (client) => {
    const found = await client.query<LeaseRow>({
      text: `SELECT owner, token, range_from, range_to, expires_at FROM ${s}.leases l WHERE stream = $1 AND token = $2
             AND NOT EXISTS (SELECT 1 FROM ${s}.leases n WHERE n.stream = l.stream AND n.token > l.token
                             AND n.range_from < l.range_to AND l.range_from < n.range_to)`,
      values: [lease.stream, lease.token],
      rowMode: 'array',
    });
    const row = found.rows[0];
    if (row === undefined) {
      const last = await client.query<[number]>({ text: `SELECT last_token FROM ${s}.lease_tokens WHERE stream = $1`, values: [lease.stream], rowMode: 'array' });
      throw new FencedError(lease.stream, lease.token, last.rows[0]?.[0], `stream ${lease.stream}: lease token ${lease.token} was released or superseded`);
    }
    if (row[0] !== lease.owner) throw new InvalidInputError('lease.owner', `the owner ${row[0]}`, lease.owner);
    const expiresAt = nowMs + ttlMs;
    await client.query(`UPDATE ${s}.leases SET expires_at = $3 WHERE stream = $1 AND token = $2`, [lease.stream, lease.token, expiresAt]);
    return { stream: lease.stream, range: { from: row[2], to: row[3] }, owner: row[0], token: row[1], expiresAt };
  });
}

export async function releaseLease(pool: pg.Pool, s: string, lease: Lease): Promise<void> {
  await inLeaseTransaction(pool, s, lease.stream, (client) =>
    client.query(`DELETE FROM ${s}.leases WHERE stream = $1 AND token = $2`, [lease.stream, lease.token]),
  );
}
