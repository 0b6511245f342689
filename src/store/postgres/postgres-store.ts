/**
 * The PostgreSQL event store (`postgres://…?schema=<name>`): many processes, on many machines, share
 * one store. The schema is Spive's (created and migrated on open, see migrations.ts); the rules that
 * must hold across processes — appendIf, fencing, the order of global positions — are enforced by
 * the database inside the append function, not by this client. See docs/postgres-store.md.
 */
import type pg from 'pg';
import { ClosedError, InvalidInputError } from '../../model/errors.ts';
import type { NewEvent, ShardHead, Snapshot, SnapshotInfo, StoredEvent } from '../../model/event.ts';
import { realClock, type Clock } from '../../time/clock.ts';
import { realTimers, type Timers } from '../../time/timers.ts';
import { columnsFromEvents } from '../columns.ts';
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
  SealedHistoryFile,
  SnapshotFilter,
  SnapshotQuery,
  StoreStats,
  StreamStats,
  SubscribeOptions,
} from '../event-store.ts';
import { snapshotInfo } from '../memory/memory-store.ts';
import {
  encodeData,
  validateAppendOptions,
  validateBatchSize,
  validateEvents,
  validateKey,
  validateRange,
  validateStream,
  validateTtl,
} from '../validate.ts';
import { CommitWatch } from './commit-watch.ts';
import { copyEvents, sqlLiteral, type CopyMode } from './copy-rows.ts';
import { EVENT_COLUMNS, keysetPages } from './event-rows.ts';
import { HistoryExport, type HistoryExportOptions, type HistoryExportReport } from './history-export.ts';
import * as leases from './leases.ts';
import { parsePostgresLocation, quoteIdent, type PostgresLocation } from './location.ts';
import { migratePool } from './migrate.ts';
import { commitChannel } from './migrations.ts';
import { clientConfig, createPool } from './pool.ts';
import * as snapshots from './snapshots.ts';
import { appendError, storeError } from './sql-errors.ts';

export interface PostgresStoreOptions {
  /** Time source for lease expiry, passed to SQL as a parameter (default: the real clock). */
  readonly clock?: Clock;
  /** Timers for the subscriptions' polling fallback (default: real timers). */
  readonly timers?: Timers;
  /** How often a waiting subscription re-reads even without a notification, in ms (default 1000). */
  readonly pollMs?: number;
  /** Connections in the store's pool (default 8). */
  readonly poolSize?: number;
  /** The option name bad locations are reported under (default `--store`). */
  readonly field?: string;
}

const DEFAULT_POLL_MS = 1000;
const DEFAULT_POOL_SIZE = 8;

/** Events per query when scanning columns (the replay engine's batches). */
const SCAN_BATCH = 8192;
/**
 * Rows per page of a streamed read: one COPY streams up to this many rows (or the batch size, if
 * larger), handed out in batches as they arrive. Large pages amortise the per-statement cost
 * (measured: pages of 8k rows cost up to a third of the raw rate); each page is its own snapshot.
 */
const PAGE_ROWS = 65536;

export class PostgresStore implements EventStore {
  readonly location: string;
  /** The schema this store lives in. */
  readonly schema: string;
  private readonly s: string;
  private readonly server: string;
  private readonly clock: Clock;
  private readonly watch: CommitWatch;
  private closing: Promise<void> | undefined;
  private history: HistoryExport | undefined;

  private constructor(
    location: PostgresLocation,
    private readonly pool: pg.Pool,
    options: PostgresStoreOptions,
  ) {
    this.location = location.display;
    this.schema = location.schema;
    this.s = quoteIdent(location.schema);
    this.server = location.server;
    this.clock = options.clock ?? realClock;
    const pollMs = options.pollMs ?? DEFAULT_POLL_MS;
    this.watch = new CommitWatch(clientConfig(location.connectionString), commitChannel(location.schema), options.timers ?? realTimers, pollMs);
  }

  /** Connects, creates or migrates the schema, and returns the store. */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const location = parsePostgresLocation(url, options.field ?? '--store');
    const poolSize = options.poolSize ?? DEFAULT_POOL_SIZE;
    if (!(Number.isSafeInteger(poolSize) && poolSize >= 1)) throw new InvalidInputError('poolSize', 'a positive integer', poolSize);
    const pollMs = options.pollMs ?? DEFAULT_POLL_MS;
    if (!(Number.isFinite(pollMs) && pollMs > 0)) throw new InvalidInputError('pollMs', 'a positive number of milliseconds', pollMs);
    const pool = createPool(location.connectionString, poolSize);
    try {
      await migratePool(pool, location.schema);
      return new PostgresStore(location, pool, options);
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw storeError(e, location.server);
    }
  }

  private ensureOpen(): void {
    if (this.closing !== undefined) throw new ClosedError();
  }

  /** Runs a query, mapping connection failures and the like to Spive's errors. */
  private async query<R extends unknown[]>(name: string | undefined, text: string, values: unknown[]): Promise<R[]> {
    this.ensureOpen();
    try {
      const result = await this.pool.query<R>({ name: name === undefined ? undefined : `${this.schema}.${name}`, text, values, rowMode: 'array' });
      return result.rows;
    } catch (e) {
      throw storeError(e, this.server);
    }
  }

  async append(stream: string, key: string, events: readonly NewEvent<unknown>[], options?: AppendOptions): Promise<AppendResult> {
    this.ensureOpen();
    validateStream(stream);
    validateKey(key);
    validateEvents(events);
    validateAppendOptions(options);
    // Encoded first: a value that is not JSON fails with INVALID_INPUT before any CONFLICT or FENCED.
    const batch = encodeBatch(events);
    const expect = options?.expect;
    const token = options?.token;
    let rows: Array<[number, number]>;
    try {
      const result = await this.pool.query<[number, number]>({
        name: `${this.schema}.append`,
        text: `SELECT first_seq, first_position FROM ${this.s}.append($1, $2, $3::jsonb, $4, $5, $6, $7)`,
        values: [stream, key, batch, expect?.lastSeq ?? null, expect?.lastTime !== undefined, expect?.lastTime ?? null, token ?? null],
        rowMode: 'array',
      });
      rows = result.rows;
    } catch (e) {
      throw appendError(e, this.server, stream, key, expect, token);
    }
    const [firstSeq, firstPosition] = rows[0] as [number, number];
    const n = events.length;
    return { firstSeq, lastSeq: firstSeq + n - 1, firstPosition, lastPosition: firstPosition + n - 1 };
  }

  /**
   * Appends batches to several shards in one transaction, all or none: the same rules as `append`
   * (one call of the append function each), one commit for all. For bulk loads such as
   * `spive store copy`, where a commit per batch would bound the rate (~2 ms each here); the log
   * head stays locked for the whole transaction, so keep transactions to a few thousand events.
   */
  async appendAll(batches: ReadonlyArray<{ readonly stream: string; readonly key: string; readonly events: readonly NewEvent<unknown>[] }>): Promise<AppendResult[]> {
    this.ensureOpen();
    const encoded = batches.map((b) => {
      validateStream(b.stream);
      validateKey(b.key);
      validateEvents(b.events);
      return encodeBatch(b.events);
    });
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw storeError(e, this.server);
    }
    const results: AppendResult[] = [];
    let current = 0;
    try {
      await client.query('BEGIN');
      for (; current < batches.length; current++) {
        const b = batches[current] as (typeof batches)[number];
        const result = await client.query<[number, number]>({
          name: `${this.schema}.append`,
          text: `SELECT first_seq, first_position FROM ${this.s}.append($1, $2, $3::jsonb, $4, $5, $6, $7)`,
          values: [b.stream, b.key, encoded[current], null, false, null, null],
          rowMode: 'array',
        });
        const [firstSeq, firstPosition] = result.rows[0] as [number, number];
        const n = b.events.length;
        results.push({ firstSeq, lastSeq: firstSeq + n - 1, firstPosition, lastPosition: firstPosition + n - 1 });
      }
      await client.query('COMMIT');
      return results;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      const b = batches[Math.min(current, batches.length - 1)];
      throw appendError(e, this.server, b?.stream ?? '', b?.key ?? '', undefined, undefined);
    } finally {
      client.release();
    }
  }

  async head(stream: string, key: string): Promise<ShardHead> {
    validateStream(stream);
    validateKey(key);
    const rows = await this.query<[number, number | null]>('head', `SELECT last_seq, last_time FROM ${this.s}.shards WHERE stream = $1 AND key = $2`, [stream, key]);
    const row = rows[0];
    return row === undefined ? { lastSeq: 0, lastTime: null } : { lastSeq: row[0], lastTime: row[1] };
  }

  readShard(stream: string, key: string, options?: ReadShardOptions): AsyncIterable<StoredEvent[]> {
    validateStream(stream);
    validateKey(key);
    const byTime = timeFilter(options?.fromTime);
    return this.pages(`stream = ${sqlLiteral(stream)} AND key = ${sqlLiteral(key)}${byTime}`, 'seq', startAt(options?.fromSeq, 'fromSeq'), validateBatchSize(options?.batchSize), 'stream');
  }

  readStream(stream: string, options?: ReadStreamOptions): AsyncIterable<StoredEvent[]> {
    validateStream(stream);
    const byTime = timeFilter(options?.fromTime);
    return this.pages(`stream = ${sqlLiteral(stream)}${byTime}`, 'position', startAt(options?.fromPosition, 'fromPosition'), validateBatchSize(options?.batchSize), 'stream');
  }

  readAll(options?: { fromPosition?: number; batchSize?: number }): AsyncIterable<StoredEvent[]> {
    return this.pages('true', 'position', startAt(options?.fromPosition, 'fromPosition'), validateBatchSize(options?.batchSize), 'stream');
  }

  /**
   * Events matching `where` (SQL with only numbers and escaped literals inlined: COPY takes no
   * parameters) from `first` on, in `order` (seq or position), through COPY pages (copy-rows.ts).
   * `stream` mode streams large pages, holding a connection while the caller works on a batch
   * (replays, scans); `buffered` mode reads pages of one batch whole and frees the connection before
   * handing them out, so a subscriber that appends from inside its loop can never wait on a pool its
   * own reads hold.
   */
  private pages(where: string, order: 'seq' | 'position', first: number, batchSize: number, mode: CopyMode): AsyncIterable<StoredEvent[]> {
    const page = mode === 'stream' ? Math.max(batchSize, PAGE_ROWS) : batchSize;
    const server = this.server;
    const pool = this.pool;
    const table = `${this.s}.events`;
    const ensureOpen = () => this.ensureOpen();
    return keysetPages(
      first,
      page,
      async function* (from) {
        ensureOpen();
        try {
          yield* copyEvents(pool, `COPY (SELECT ${EVENT_COLUMNS} FROM ${table} WHERE ${where} AND ${order} >= ${from} ORDER BY ${order} LIMIT ${page}) TO STDOUT`, batchSize, mode);
        } catch (e) {
          throw storeError(e, server);
        }
      },
      order === 'seq' ? (e) => e.seq + 1 : (e) => e.position + 1,
    );
  }

  /**
   * Catch up, then wait for a commit notification (or the poll interval) and read again. Reading by
   * position is enough to never skip an event: appends commit in position order (see the append
   * function), so once position p is visible every position before it is too.
   */
  async *subscribe(options?: SubscribeOptions): AsyncIterable<StoredEvent[]> {
    this.ensureOpen();
    const stream = options?.stream;
    if (stream !== undefined) validateStream(stream);
    const batchSize = validateBatchSize(options?.batchSize);
    const signal = options?.signal;
    let next = startAt(options?.fromPosition, 'fromPosition');
    let committed = false;
    let wake: () => void = () => undefined;
    const unwatch = this.watch.watch(() => {
      committed = true;
      wake();
    });
    try {
      while (!signal?.aborted && !this.watch.isClosed) {
        committed = false;
        const where = stream === undefined ? 'true' : `stream = ${sqlLiteral(stream)}`;
        const read = this.pages(where, 'position', next, batchSize, 'buffered');
        for await (const batch of read) {
          if (signal?.aborted) return;
          next = (batch[batch.length - 1] as StoredEvent).position + 1;
          yield batch;
        }
        // A commit notified while we were reading may not have been in what we read: read again.
        if (committed) continue;
        await this.watch.sleep(signal, (w) => {
          wake = w;
        });
      }
    } finally {
      unwatch();
    }
  }

  async *scanColumns(stream: string, options?: ScanColumnsOptions): AsyncIterable<ColumnBatch> {
    validateStream(stream);
    for await (const events of this.readStream(stream, { batchSize: SCAN_BATCH })) {
      yield columnsFromEvents(stream, events, options?.fields);
    }
  }

  async acquireLease(request: LeaseRequest): Promise<Lease> {
    this.ensureOpen();
    validateStream(request.stream, 'request.stream');
    validateRange(request.range, 'request.range');
    validateTtl(request.ttlMs);
    if (typeof request.owner !== 'string' || request.owner === '') {
      throw new InvalidInputError('request.owner', 'a non-empty owner name', request.owner);
    }
    return this.mapped(leases.acquireLease(this.pool, this.s, request, this.clock.nowMs()));
  }

  async renewLease(lease: Lease, ttlMs: number): Promise<Lease> {
    this.ensureOpen();
    validateTtl(ttlMs);
    return this.mapped(leases.renewLease(this.pool, this.s, lease, ttlMs, this.clock.nowMs()));
  }

  async releaseLease(lease: Lease): Promise<void> {
    this.ensureOpen();
    return this.mapped(leases.releaseLease(this.pool, this.s, lease));
  }

  async putSnapshot(snapshot: Omit<Snapshot, 'sizeBytes'>): Promise<void> {
    this.ensureOpen();
    const info = snapshotInfo(snapshot);
    return this.mapped(snapshots.putSnapshot(this.pool, this.s, info, snapshot.data));
  }

  async getSnapshot(query: SnapshotQuery): Promise<Snapshot | undefined> {
    this.ensureOpen();
    return this.mapped(snapshots.getSnapshot(this.pool, this.s, query));
  }

  async listSnapshots(filter?: SnapshotFilter): Promise<SnapshotInfo[]> {
    this.ensureOpen();
    return this.mapped(snapshots.listSnapshots(this.pool, this.s, filter));
  }

  async stats(): Promise<StoreStats> {
    // One statement, one snapshot: the figures agree with each other even while appends run.
    const rows = await this.query<[number, number, StreamStats[]]>(
      'stats',
      `SELECT (SELECT last_position FROM ${this.s}.log_head),
              (SELECT count(*) FROM ${this.s}.snapshots),
              (SELECT coalesce(json_agg(x ORDER BY x.stream COLLATE "C"), '[]'::json) FROM (
                 SELECT stream, sum(last_seq)::bigint AS events, count(*) AS shards, min(min_time) AS "minTime",
                        max(max_time) AS "maxTime", max(last_position) AS "lastPosition"
                 FROM ${this.s}.shards WHERE last_seq > 0 GROUP BY stream) x)`,
      [],
    );
    const [lastPosition, snapshotCount, streams] = rows[0] as [number, number, StreamStats[]];
    return { events: streams.reduce((sum, s) => sum + s.events, 0), lastPosition, streams, snapshots: snapshotCount };
  }

  /**
   * Brings a local Parquet export of the sealed history up to date (history-export.ts), so that
   * `sealedHistory()` returns it: what the analyzer reads with DuckDB instead of through the store.
   */
  async exportHistory(options: HistoryExportOptions): Promise<HistoryExportReport> {
    this.ensureOpen();
    const history = HistoryExport.at(options);
    const report = await history.update(
      {
        identity: async () => {
          // The schema's and database's object ids change when either is dropped and made again.
          const rows = await this.query<[string, string]>(
            undefined,
            `SELECT (SELECT oid FROM pg_database WHERE datname = current_database())::text, (SELECT oid FROM pg_namespace WHERE nspname = $1)::text`,
            [this.schema],
          );
          const [database, schema] = rows[0] as [string, string];
          return `${this.server}?schema=${this.schema} (database oid ${database}, schema oid ${schema})`;
        },
        head: async () => Number((await this.query<[number]>('log-head', `SELECT last_position FROM ${this.s}.log_head`, []))[0]?.[0] ?? 0),
        readPositions: (from, to) => this.pages(`position <= ${Math.floor(to)}`, 'position', startAt(from, 'from'), PAGE_ROWS, 'stream'),
      },
      this.clock,
    );
    this.history = history;
    return report;
  }

  /** The history exported by `exportHistory` (none before it is called). */
  sealedHistory(): readonly SealedHistoryFile[] {
    return this.history?.files() ?? [];
  }

  async close(): Promise<void> {
    this.closing ??= (async () => {
      await this.watch.close();
      await this.pool.end();
    })();
    return this.closing;
  }

  private async mapped<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (e) {
      throw storeError(e, this.server);
    }
  }
}

/** The batch as the append function takes it: one JSON array of [type, time, data(, meta)]. */
function encodeBatch(events: readonly NewEvent<unknown>[]): string {
  const parts = new Array<string>(events.length);
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as NewEvent<unknown>;
    const data = encodeData(e.data, `events[${i}].data`);
    parts[i] =
      e.meta === undefined
        ? `[${JSON.stringify(e.type)},${e.time},${data}]`
        : `[${JSON.stringify(e.type)},${e.time},${data},${encodeData(e.meta, `events[${i}].meta`)}]`;
  }
  return `[${parts.join(',')}]`;
}

/**
 * A fromTime bound as SQL (event times are integers, so the bound is rounded up), or '' for none.
 * Only a number ever reaches the SQL text.
 */
function timeFilter(fromTime: number | undefined): string {
  if (fromTime === undefined || fromTime === Number.NEGATIVE_INFINITY) return '';
  if (typeof fromTime !== 'number' || Number.isNaN(fromTime)) throw new InvalidInputError('fromTime', 'a time in ms since the epoch', fromTime);
  return ` AND time >= ${Math.min(Math.ceil(fromTime), Number.MAX_SAFE_INTEGER)}`;
}

/** A 1-based start (fromSeq, fromPosition) as an integer to inline into SQL. */
function startAt(value: number | undefined, field: string): number {
  if (value === undefined) return 1;
  if (typeof value !== 'number' || Number.isNaN(value)) throw new InvalidInputError(field, 'a 1-based integer position', value);
  return Math.max(1, Math.min(Math.ceil(value), Number.MAX_SAFE_INTEGER));
}
