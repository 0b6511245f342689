/**
 * Writes a stream's events of one sealed segment as Parquet through DuckDB, so the analyzer (and any
 * user) can query the history with plain SQL, `read_parquet` over `<store>/parquet/stream=NAME/NNNN.parquet`
 * with `hive_partitioning = true`. Parquet is a derived view; the WAL stays the source of truth.
 *
 * Rows go in as DuckDB data chunks of whole columns (2,048 rows, DuckDB's vector size), not value by
 * value through the appender: the numeric columns are copied into the chunk's vectors straight from
 * the batch's typed arrays, keys and types go in as their dictionary numbers (each distinct string
 * crosses into DuckDB once) and are looked up by the COPY. Only payload and meta are set per row —
 * from their UTF-8 bytes when the caller has them (a bulk load keeps them in the segment's bytes:
 * `SegmentTexts`), so no string is made and encoded again per event (that was most of a bulk load's
 * sealing in JavaScript, and much of its sink thread's garbage).
 *
 * One in-memory DuckDB instance and connection serve every write of a thread, one write at a time
 * (a bulk load seals thousands of stream segments; an instance each cost more than some writes). They
 * are closed by whoever finished writing (a store's close, a bulk load's end): closeParquetSession.
 */
import { createRequire } from 'node:module';
import type { ColumnBatch } from '../event-store.ts';
import { assert } from '../../util/assert.ts';

/** Columns of every Parquet file: `key, seq, position, time (ms), type, bytes (payload JSON size), data (JSON text), meta (JSON text or NULL)`. */
export const PARQUET_COLUMNS = ['key', 'seq', 'position', 'time', 'type', 'bytes', 'data', 'meta'] as const;

/** The events' payload and meta JSON, in the batch's row order. */
export interface EventTexts {
  readonly dataTexts: readonly string[];
  /** undefined: the event has no meta. */
  readonly metaTexts: ReadonlyArray<string | undefined>;
}

/**
 * The events' payload and meta JSON as UTF-8 in the bytes of a WAL segment (text-ranges.ts): the
 * segment as the pieces it was written in, in order, and per row (in the batch's order) data offset,
 * data length, meta offset, meta length (-1: no meta), in bytes of the segment. A text never spans
 * two pieces, and a batch's rows lie in increasing offsets.
 */
export interface SegmentTexts {
  readonly pieces: readonly Uint8Array[];
  readonly ranges: Float64Array;
}

/** Where `writeParquet` takes the texts from. */
export type ParquetTexts = EventTexts | SegmentTexts;

const CHUNK_ROWS = 2048;

type Api = typeof import('@duckdb/node-api');
type Bindings = typeof import('@duckdb/node-bindings');
type Vector = import('@duckdb/node-bindings').Vector;

interface Session {
  readonly api: Api;
  /**
   * The C API under `api` (package.json pins it to the version `api` depends on; resolved from `api`,
   * so it is the very instance `api` uses): vectors filled without a value object per cell.
   */
  readonly duckdb: Bindings;
  readonly instance: import('@duckdb/node-api').DuckDBInstance;
  readonly connection: import('@duckdb/node-api').DuckDBConnection;
}

let session: Promise<Session> | undefined;
/** Writes run one after another on the shared connection (they use the same scratch tables). */
let queue: Promise<unknown> = Promise.resolve();
let writing = 0;

async function openSession(): Promise<Session> {
  const api = await import('@duckdb/node-api');
  const require = createRequire(import.meta.url);
  const duckdb = createRequire(require.resolve('@duckdb/node-api'))('@duckdb/node-bindings') as Bindings;
  const instance = await api.DuckDBInstance.create(':memory:', { threads: '1' });
  return { api, duckdb, instance, connection: await instance.connect() };
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

export async function writeParquet(path: string, batch: ColumnBatch, texts: ParquetTexts): Promise<void> {
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

async function writeWith(session: Session, path: string, batch: ColumnBatch, texts: ParquetTexts): Promise<void> {
  const { api, connection } = session;
  const rows = batch.length;
  // The columns are copied into DuckDB's memory unchecked (copy_data_to_vector): they must hold every row.
  for (const column of [batch.keyIndex, batch.seq, batch.position, batch.time, batch.typeIndex]) assert(column.length >= rows, `writeParquet: a column of ${column.length} values for ${rows} rows`);
  if ('ranges' in texts) assert(texts.ranges.length === 4 * rows, `writeParquet: ${texts.ranges.length / 4} text ranges for ${rows} rows`);
  else assert(texts.dataTexts.length === rows && texts.metaTexts.length === rows, `writeParquet: ${texts.dataTexts.length} payloads and ${texts.metaTexts.length} metas for ${rows} rows`);
  try {
    await connection.run('CREATE OR REPLACE TEMP TABLE keys (id INTEGER, key VARCHAR); CREATE OR REPLACE TEMP TABLE types (id INTEGER, type VARCHAR)');
    await appendColumns(api, connection, 'keys', [api.INTEGER, api.VARCHAR], [batch.keys.map((_, i) => i), batch.keys]);
    await appendColumns(api, connection, 'types', [api.INTEGER, api.VARCHAR], [batch.types.map((_, i) => i), batch.types]);
    await connection.run('CREATE OR REPLACE TEMP TABLE events (k INTEGER, seq DOUBLE, position DOUBLE, time DOUBLE, t INTEGER, bytes INTEGER, data VARCHAR, meta VARCHAR)');
    const appender = await connection.createAppender('events');
    const chunk = api.DuckDBDataChunk.create(EVENT_COLUMNS.map((c) => api[c]));
    const fill = new ChunkFiller(session.duckdb, chunk.chunk, texts);
    for (let from = 0; from < rows; from += CHUNK_ROWS) {
      const n = Math.min(CHUNK_ROWS, rows - from);
      chunk.reset();
      fill.rows(batch, from, n);
      chunk.rowCount = n;
      appender.appendDataChunk(chunk);
    }
    appender.closeSync();
    let sorted = true;
    for (let i = 1; i < rows; i++) if ((batch.position[i] as number) <= (batch.position[i - 1] as number)) sorted = false;
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

/** The scratch table's columns, in order (`api` type names): k, seq, position, time, t, bytes, data, meta. */
const EVENT_COLUMNS = ['INTEGER', 'DOUBLE', 'DOUBLE', 'DOUBLE', 'INTEGER', 'INTEGER', 'VARCHAR', 'VARCHAR'] as const;

/**
 * Fills the vectors of one data chunk (reused for every 2,048 rows) with a batch's rows: numbers copied
 * from its typed arrays, texts set one by one, meta NULLs in the validity mask.
 */
class ChunkFiller {
  private readonly vectors: Vector[];
  private readonly bytes = new Int32Array(CHUNK_ROWS);
  /** Validity of the meta column: a bit per row, set when the row has one (DuckDB's 64-bit words, little-endian). */
  private readonly metaValid = new Uint8Array(CHUNK_ROWS / 8);
  /** SegmentTexts: the piece holding the current row's texts and its first byte in the segment. */
  private piece = 0;
  private pieceStart = 0;
  private readonly pieces: Uint8Array[] = [];

  constructor(
    private readonly duckdb: Bindings,
    chunk: import('@duckdb/node-bindings').DataChunk,
    private readonly texts: ParquetTexts,
  ) {
    this.vectors = EVENT_COLUMNS.map((_, i) => duckdb.data_chunk_get_vector(chunk, i));
    // Plain Uint8Array views: subarray per text is then the cheapest view (a Buffer's makes a Buffer).
    if ('pieces' in texts) for (const p of texts.pieces) this.pieces.push(new Uint8Array(p.buffer, p.byteOffset, p.byteLength));
  }

  rows(batch: ColumnBatch, from: number, n: number): void {
    const { duckdb } = this;
    const vectors = this.vectors as [Vector, Vector, Vector, Vector, Vector, Vector, Vector, Vector];
    copy(duckdb, vectors[0], batch.keyIndex, from, n);
    copy(duckdb, vectors[1], batch.seq, from, n);
    copy(duckdb, vectors[2], batch.position, from, n);
    copy(duckdb, vectors[3], batch.time, from, n);
    copy(duckdb, vectors[4], batch.typeIndex, from, n);
    const valid = this.metaValid;
    valid.fill(0);
    if ('ranges' in this.texts) this.segmentTexts(this.texts.ranges, from, n);
    else this.stringTexts(this.texts, from, n);
    copy(duckdb, vectors[5], this.bytes, 0, n);
    const meta = vectors[7];
    duckdb.vector_ensure_validity_writable(meta);
    duckdb.copy_data_to_vector_validity(meta, 0, valid.buffer, valid.byteOffset, Math.ceil(n / 64) * 8);
  }

  private stringTexts(texts: EventTexts, from: number, n: number): void {
    const { duckdb, bytes, metaValid } = this;
    const data = this.vectors[6] as Vector;
    const meta = this.vectors[7] as Vector;
    for (let i = 0; i < n; i++) {
      const text = texts.dataTexts[from + i] as string;
      bytes[i] = Buffer.byteLength(text);
      duckdb.vector_assign_string_element(data, i, text);
      const m = texts.metaTexts[from + i];
      if (m !== undefined) {
        duckdb.vector_assign_string_element(meta, i, m);
        metaValid[i >> 3] = (metaValid[i >> 3] as number) | (1 << (i & 7));
      }
    }
  }

  private segmentTexts(ranges: Float64Array, from: number, n: number): void {
    const { duckdb, bytes, metaValid } = this;
    const data = this.vectors[6] as Vector;
    const meta = this.vectors[7] as Vector;
    for (let i = 0; i < n; i++) {
      const r = 4 * (from + i);
      const dataOffset = ranges[r] as number;
      const dataLength = ranges[r + 1] as number;
      bytes[i] = dataLength;
      duckdb.vector_assign_string_element_len(data, i, this.at(dataOffset, dataLength));
      const metaLength = ranges[r + 3] as number;
      if (metaLength >= 0) {
        duckdb.vector_assign_string_element_len(meta, i, this.at(ranges[r + 2] as number, metaLength));
        metaValid[i >> 3] = (metaValid[i >> 3] as number) | (1 << (i & 7));
      }
    }
  }

  /** The bytes [offset, offset + length) of the segment (offsets only grow: the pieces are walked once). */
  private at(offset: number, length: number): Uint8Array {
    const pieces = this.pieces;
    let bytes = pieces[this.piece];
    while (bytes !== undefined && offset >= this.pieceStart + bytes.byteLength) {
      this.pieceStart += bytes.byteLength;
      bytes = pieces[++this.piece];
    }
    const start = offset - this.pieceStart;
    if (bytes === undefined || start < 0 || start + length > bytes.byteLength) throw new RangeError(`writeParquet: text at ${offset} (${length} bytes) is not within one piece of the segment`);
    return bytes.subarray(start, start + length);
  }
}

/** Copies `n` numbers of `from` (starting at `at`) into the start of a vector of the same number type. */
function copy(duckdb: Bindings, vector: Vector, from: Int32Array | Float64Array, at: number, n: number): void {
  const size = from.BYTES_PER_ELEMENT;
  duckdb.copy_data_to_vector(vector, 0, from.buffer as ArrayBuffer, from.byteOffset + at * size, n * size);
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
