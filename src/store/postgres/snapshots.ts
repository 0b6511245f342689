/** Snapshots in SQL: one row per (process, version, shard, position), the state as bytea. */
import type pg from 'pg';
import type { Snapshot, SnapshotInfo } from '../../model/event.ts';
import type { SnapshotFilter, SnapshotQuery } from '../event-store.ts';

type InfoRow = [string, string, string, number, number, number]; // process, version, shard, position, time, size

const INFO = 'process, version, shard, position, time, octet_length(data)::bigint';
/** Byte order, like the other stores' string comparison (not the database's collation). */
const ORDER = 'process COLLATE "C", version COLLATE "C", shard COLLATE "C", position';

function toInfo(r: InfoRow): SnapshotInfo {
  return { process: r[0], version: r[1], shard: r[2], position: r[3], time: r[4], sizeBytes: r[5] };
}

export async function putSnapshot(pool: pg.Pool, s: string, info: SnapshotInfo, data: Uint8Array): Promise<void> {
  await pool.query(
    `INSERT INTO ${s}.snapshots (process, version, shard, position, time, data) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (process, version, shard, position) DO UPDATE SET time = EXCLUDED.time, data = EXCLUDED.data`,
    [info.process, info.version, info.shard, info.position, info.time, Buffer.from(data.buffer, data.byteOffset, data.byteLength)],
  );
}

export async function getSnapshot(pool: pg.Pool, s: string, query: SnapshotQuery): Promise<Snapshot | undefined> {
  const result = await pool.query<[...InfoRow, Buffer]>({
    text: `SELECT ${INFO}, data FROM ${s}.snapshots
           WHERE process = $1 AND version = $2 AND shard = $3 AND ($4::double precision IS NULL OR position <= $4)
           ORDER BY position DESC LIMIT 1`,
    values: [query.process, query.version, query.shard, query.atOrBefore ?? null],
    rowMode: 'array',
  });
  const row = result.rows[0];
  if (row === undefined) return undefined;
  return { ...toInfo(row.slice(0, 6) as InfoRow), data: new Uint8Array(row[6]) };
}

export async function listSnapshots(pool: pg.Pool, s: string, filter: SnapshotFilter | undefined): Promise<SnapshotInfo[]> {
  const where = `($1::text IS NULL OR process = $1) AND ($2::text IS NULL OR version = $2) AND ($3::double precision IS NULL OR time <= $3)`;
  // newestPerShard: the newest matching snapshot per (process, version, shard), like SnapshotIndex.list.
  const text =
    filter?.newestPerShard === true
      ? `SELECT * FROM (SELECT DISTINCT ON (process, version, shard) ${INFO} FROM ${s}.snapshots WHERE ${where}
                        ORDER BY process, version, shard, position DESC) newest
         ORDER BY ${ORDER}`
      : `SELECT ${INFO} FROM ${s}.snapshots WHERE ${where} ORDER BY ${ORDER}`;
  const result = await pool.query<InfoRow>({
    text,
    values: [filter?.process ?? null, filter?.version ?? null, filter?.maxTime ?? null],
    rowMode: 'array',
  });
  return result.rows.map(toInfo);
}
