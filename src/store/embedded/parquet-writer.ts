/**
 * Writes a stream's events of one sealed segment as Parquet through DuckDB, so the analyzer (and any
 * user) can query the history with plain SQL, `read_parquet` over `<store>/parquet/stream=NAME/NNNN.parquet`
 * with `hive_partitioning = true`. Parquet is a derived view; the WAL stays the source of truth.
 */
import type { StoredEvent } from '../../model/event.ts';

/** Columns of every Parquet file: `key, seq, position, time (ms), type, bytes (payload JSON size), data (JSON text), meta (JSON text or NULL)`. */
export const PARQUET_COLUMNS = ['key', 'seq', 'position', 'time', 'type', 'bytes', 'data', 'meta'] as const;

export async function writeParquet(path: string, events: readonly StoredEvent[]): Promise<void> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
  const connection = await instance.connect();
  try {
    await connection.run(
      'CREATE TABLE events (key VARCHAR, seq DOUBLE, position DOUBLE, time DOUBLE, type VARCHAR, bytes INTEGER, data VARCHAR, meta VARCHAR)',
    );
    const appender = await connection.createAppender('events');
    for (const e of events) {
      const data = JSON.stringify(e.data);
      appender.appendVarchar(e.key);
      appender.appendDouble(e.seq);
      appender.appendDouble(e.position);
      appender.appendDouble(e.time);
      appender.appendVarchar(e.type);
      appender.appendInteger(Buffer.byteLength(data));
      appender.appendVarchar(data);
      if (e.meta === undefined) appender.appendNull();
      else appender.appendVarchar(JSON.stringify(e.meta));
      appender.endRow();
    }
    appender.closeSync();
    const target = path.replaceAll("'", "''");
    await connection.run(
      `COPY (SELECT key, seq::BIGINT AS seq, position::BIGINT AS position, time::BIGINT AS time, type, bytes, data, meta
             FROM events ORDER BY position) TO '${target}' (FORMAT parquet, COMPRESSION zstd)`,
    );
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}
