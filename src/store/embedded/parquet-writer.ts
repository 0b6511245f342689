/**
 * Writes a stream's events of one sealed segment as Parquet through DuckDB, so the analyzer (and any
 * user) can query the history with plain SQL, `read_parquet` over `<store>/parquet/stream=NAME/NNNN.parquet`
 * with `hive_partitioning = true`. Parquet is a derived view; the WAL stays the source of truth.
 *
 * Rows go in as DuckDB data chunks of whole columns (2,048 rows, DuckDB's vector size), not value by
 * value through the appender; keys and types go in as their dictionary numbers (each distinct string
 * crosses into DuckDB once) and are looked up by the COPY. Only payload and meta are strings per row.
 *
 * One in-memory DuckDB instance and connection serve every write of a thread, one write at a time
 * (a bulk load seals thousands of stream segments; an instance each cost more than some writes). They
 * are closed by whoever finished writing (a store's close, a bulk load's end): closeParquetSession.
 */
import type { ColumnBatch } from '../event-store.ts';

/** Columns of every Parquet file: `key, seq, position, time (ms), type, bytes (payload JSON size), data (JSON text), meta (JSON text or NULL)`. */
export const PARQUET_COLUMNS = ['key', 'seq', 'position', 'time', 'type', 'bytes', 'data', 'meta'] as const;

/** The events' payload and meta JSON, in the batch's row order. */
export interface EventTexts {
  readonly dataTexts: readonly string[];
  /** undefined: the event has no meta. */
  readonly metaTexts: ReadonlyArray<string | undefined>;
}

const CHUNK_ROWS = 2048;

type Api = typeof import('@duckdb/node-api');

interface Session {
  readonly api: Api;
  readonly instance: import('@duckdb/node-api').DuckDBInstance;
  readonly connection: import('@duckdb/node-api').DuckDBConnection;
}

let session: Promise<Session> | undefined;
/** Writes run one after another on the shared connection (they use the same scratch tables). */
let queue: Promise<unknown> = Promise.resolve();
let writing = 0;

async function openSession(): Promise<Session> {
  const api = await import('@duckdb/node-api');
  const instance = await api.DuckDBInstance.create(':memory:', { threads: '1' });
  return { api, instance, connection: await instance.connect() };
}

/** Closes the shared instance now if no write is running or waiting (the next write opens another). */
export async function closeParquetSession(): Promise<void> {
  const current = session;
  if (current === undefined || writing > 0) return;
  session = undefined;
  const { instance, connection } = await current;
  connection.closeSync();
  instance.closeSync();
}

export async function writeParquet(path: string, batch: ColumnBatch, texts: EventTexts): Promise<void> {
  writing++;
  const run = queue.then(async () => {
    const current = (session ??= openSession());
    try {
      await writeWith(await current, path, batch, texts);
    } catch (e) {
      // A failed write may leave the connection in any state: the next write starts afresh.
      if (session === current) session = undefined;
      await current.then((s) => (s.connection.closeSync(), s.instance.closeSync())).catch(() => undefined);
      throw e;
    }
  });
  queue = run.catch(() => undefined);
  try {
    await run;
  } finally {
    writing--;
  }
}

async function writeWith({ api, connection }: Session, path: string, batch: ColumnBatch, texts: EventTexts): Promise<void> {
  try {
    await connection.run('CREATE OR REPLACE TEMP TABLE keys (id INTEGER, key VARCHAR); CREATE OR REPLACE TEMP TABLE types (id INTEGER, type VARCHAR)');
    await appendColumns(api, connection, 'keys', [api.INTEGER, api.VARCHAR], [batch.keys.map((_, i) => i), batch.keys]);
    await appendColumns(api, connection, 'types', [api.INTEGER, api.VARCHAR], [batch.types.map((_, i) => i), batch.types]);
    await connection.run('CREATE OR REPLACE TEMP TABLE events (k INTEGER, seq DOUBLE, position DOUBLE, time DOUBLE, t INTEGER, bytes INTEGER, data VARCHAR, meta VARCHAR)');
    const types = [api.INTEGER, api.DOUBLE, api.DOUBLE, api.DOUBLE, api.INTEGER, api.INTEGER, api.VARCHAR, api.VARCHAR];
    const appender = await connection.createAppender('events');
    let sorted = true;
    for (let from = 0; from < batch.length; from += CHUNK_ROWS) {
      const n = Math.min(CHUNK_ROWS, batch.length - from);
      const bytes = new Array<number>(n);
      const data = new Array<string>(n);
      const meta = new Array<string | null>(n);
      for (let i = 0; i < n; i++) {
        const text = texts.dataTexts[from + i] as string;
        bytes[i] = Buffer.byteLength(text);
        data[i] = text;
        meta[i] = texts.metaTexts[from + i] ?? null;
      }
      const to = from + n;
      for (let i = Math.max(1, from); i < to; i++) if ((batch.position[i] as number) <= (batch.position[i - 1] as number)) sorted = false;
      const chunk = api.DuckDBDataChunk.create(types, n);
      chunk.setColumns([
        Array.from(batch.keyIndex.subarray(from, to)),
        Array.from(batch.seq.subarray(from, to)),
        Array.from(batch.position.subarray(from, to)),
        Array.from(batch.time.subarray(from, to)),
        Array.from(batch.typeIndex.subarray(from, to)),
        bytes,
        data,
        meta,
      ]);
      appender.appendDataChunk(chunk);
    }
    appender.closeSync();
    const target = path.replaceAll("'", "''");
    // Rows are in position order (a segment's WAL order) unless a caller breaks it; the lists look keys
    // and types up by number without a join, so the order stays as appended.
    await connection.run(
      `COPY (SELECT d.keys[e.k + 1] AS key, e.seq::BIGINT AS seq, e.position::BIGINT AS position, e.time::BIGINT AS time,
                    d.types[e.t + 1] AS type, e.bytes, e.data, e.meta
             FROM events e, (SELECT (SELECT list(key ORDER BY id) FROM keys) AS keys, (SELECT list(type ORDER BY id) FROM types) AS types) d
             ${sorted ? '' : 'ORDER BY e.position'}) TO '${target}' (FORMAT parquet, COMPRESSION zstd)`,
    );
  } finally {
    // Scratch tables go at once: their rows (a segment's payloads) need not wait for the next write.
    await connection.run('DROP TABLE IF EXISTS events; DROP TABLE IF EXISTS keys; DROP TABLE IF EXISTS types').catch(() => undefined);
  }
}

async function appendColumns(
  api: typeof import('@duckdb/node-api'),
  connection: import('@duckdb/node-api').DuckDBConnection,
  table: string,
  types: import('@duckdb/node-api').DuckDBType[],
  columns: ReadonlyArray<ReadonlyArray<string | number>>,
): Promise<void> {
  const appender = await connection.createAppender(table);
  const rows = columns[0]?.length ?? 0;
  for (let from = 0; from < rows; from += CHUNK_ROWS) {
    const n = Math.min(CHUNK_ROWS, rows - from);
    const chunk = api.DuckDBDataChunk.create(types, n);
    chunk.setColumns(columns.map((c) => c.slice(from, from + n)));
    appender.appendDataChunk(chunk);
  }
  appender.closeSync();
}
