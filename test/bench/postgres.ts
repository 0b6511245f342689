/**
 * PostgreSQL store benchmarks (issue #9). Needs the server (SPIVE_BENCH_POSTGRES, default
 * postgres://postgres@127.0.0.1:5432/test); when it is unreachable the suite says so on stderr and
 * emits nothing. Each run uses a fresh schema and drops it at the end.
 *
 * - postgres.append.batched (events/s; higher is better). `events` events appended through the
 *   store's API in batches of 100 by 16 concurrent appenders over 1000 shards, each awaiting its
 *   commit (durable: synchronous_commit as the server has it). Median of 3. Baseline: the same
 *   batches, same concurrency, inserted by the raw client into a plain table with the same columns
 *   and indexes, positions from a sequence: what the store's rules cost (fencing check, shard head
 *   lock, appendIf, positions handed out in commit order).
 *
 * - postgres.read.stream (events/s; higher is better). `readStream` of the whole stream, every
 *   event decoded to a StoredEvent (payload parsed). Median of 9, measured in alternating order with
 *   the baseline after a warm-up of each. Baseline: the raw
 *   client reading the very same rows with `COPY (SELECT …) TO STDOUT` through pg-copy-streams,
 *   counting rows and parsing nothing. Target: ratio >= 0.7.
 */
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { reachable, SERVICES } from '../helpers/services.ts';
import { fmt, info, makeBatch, median, STREAM, type BenchResult } from './util.ts';

const BATCH = 100;
const APPENDERS = 16;
const SHARDS = 1000;
const READ_REPS = 9;

export function postgresAppend(events: number, results: (r: BenchResult) => void): Promise<void> {
  return withServer('append', (url, admin, schema) => appendBench(url, admin, schema, events, results));
}

export function postgresRead(events: number, results: (r: BenchResult) => void): Promise<void> {
  return withServer('read', (url, admin, schema) => readBench(url, admin, schema, events, results));
}

/** Runs `fn` with an admin connection and a schema name of its own, dropped afterwards; skips (saying why) without a server. */
async function withServer(label: string, fn: (url: string, admin: pg.Client, schema: string) => Promise<void>): Promise<void> {
  const url = process.env.SPIVE_BENCH_POSTGRES ?? `postgres://postgres@${SERVICES.postgres.host}:${SERVICES.postgres.port}/test`;
  const where = new URL(url);
  if (!(await reachable(where.hostname, Number(where.port || 5432)))) {
    info(`skipping postgres.${label}: PostgreSQL is not reachable at ${where.host} (start it with: ${SERVICES.postgres.start}, or set SPIVE_BENCH_POSTGRES)`);
    return;
  }
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  const schema = `spive_bench_${label}_${process.pid}`;
  try {
    await fn(url, admin, schema);
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.query(`DROP SCHEMA IF EXISTS ${schema}_raw CASCADE`);
    await admin.end();
  }
}

/** Runs `appenders` loops that together take every batch index in [0, batches) once. */
async function inParallel(batches: number, appenders: number, one: (batch: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: appenders }, async () => {
      for (let b = next++; b < batches; b = next++) await one(b);
    }),
  );
}

async function appendBench(url: string, admin: pg.Client, schema: string, events: number, results: (r: BenchResult) => void): Promise<void> {
  const batches = Math.ceil(events / BATCH);
  const storeRates: number[] = [];
  const rawRates: number[] = [];
  for (let rep = 0; rep < 3; rep++) {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    const store = await PostgresStore.open(`${url}?schema=${schema}`, { poolSize: APPENDERS });
    let t = performance.now();
    await inParallel(batches, APPENDERS, async (b) => {
      await store.append(STREAM, `acc-${b % SHARDS}`, makeBatch(b * BATCH, BATCH, b % SHARDS));
    });
    storeRates.push((batches * BATCH) / ((performance.now() - t) / 1000));
    await store.close();

    const raw = await rawTable(admin, `${schema}_raw`);
    const pool = new pg.Pool({ connectionString: url, max: APPENDERS });
    t = performance.now();
    await inParallel(batches, APPENDERS, async (b) => {
      const batch = makeBatch(b * BATCH, BATCH, b % SHARDS);
      await pool.query(
        `INSERT INTO ${raw} (stream, key, seq, time, type, data)
         SELECT $1, $2, $3 + e.i, (e.v ->> 1)::bigint, e.v ->> 0, e.v -> 2 FROM jsonb_array_elements($4::jsonb) WITH ORDINALITY AS e(v, i)`,
        [STREAM, `acc-${b % SHARDS}`, b * BATCH, JSON.stringify(batch.map((e) => [e.type, e.time, e.data]))],
      );
    });
    rawRates.push((batches * BATCH) / ((performance.now() - t) / 1000));
    await pool.end();
    info(`postgres.append.batched run ${rep + 1}: store ${fmt(storeRates[rep] as number)} events/s, raw INSERT ${fmt(rawRates[rep] as number)} events/s`);
  }
  results({ bench: 'postgres.append.batched', value: median(storeRates), unit: 'events/s', baseline: median(rawRates) });
}

/** A plain events table with the store's columns and indexes, and no rules. */
async function rawTable(admin: pg.Client, schema: string): Promise<string> {
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.query(`CREATE TABLE ${schema}.events (
    position bigserial PRIMARY KEY, stream text NOT NULL, key text NOT NULL, seq bigint NOT NULL, time bigint NOT NULL,
    type text NOT NULL, data jsonb NOT NULL, meta jsonb, recorded_at timestamptz NOT NULL DEFAULT now(), UNIQUE (stream, key, seq))`);
  await admin.query(`CREATE INDEX ON ${schema}.events (stream, position)`);
  await admin.query(`CREATE INDEX ON ${schema}.events (stream, time)`);
  return `${schema}.events`;
}

async function readBench(url: string, admin: pg.Client, schema: string, events: number, results: (r: BenchResult) => void): Promise<void> {
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  const store = await PostgresStore.open(`${url}?schema=${schema}`, { poolSize: 8 });
  const batches = Math.ceil(events / BATCH);
  // Bigger batches to build the data quickly; the read does not care how it was written.
  await inParallel(Math.ceil(batches / 10), 8, async (b) => {
    await store.append(STREAM, `acc-${b % SHARDS}`, makeBatch(b * BATCH * 10, BATCH * 10, b % SHARDS));
  });
  await admin.query(`VACUUM ANALYZE ${schema}.events`);
  const total = (await store.stats()).events;
  const copySql = `COPY (SELECT position, stream, key, seq, time, type, data, meta FROM ${schema}.events WHERE stream = '${STREAM}' ORDER BY position) TO STDOUT`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const storeRates: number[] = [];
    const rawRates: number[] = [];
    const readStore = async (): Promise<number> => {
      const t = performance.now();
      let n = 0;
      let check = 0;
      for await (const batch of store.readStream(STREAM)) {
        n += batch.length;
        check += (batch[batch.length - 1]?.data as { amount: number }).amount;
      }
      if (n !== total || !Number.isFinite(check)) throw new Error(`readStream returned ${n} of ${total} events`);
      return n / ((performance.now() - t) / 1000);
    };
    const readRaw = async (): Promise<number> => {
      const t = performance.now();
      const rows = await copyRows(client, copySql);
      if (rows !== total) throw new Error(`COPY returned ${rows} of ${total} rows`);
      return rows / ((performance.now() - t) / 1000);
    };
    // A warm-up of each, then READ_REPS pairs in alternating order (the machine's load drifts).
    await readStore();
    await readRaw();
    for (let rep = 0; rep < READ_REPS; rep++) {
      if (rep % 2 === 0) {
        storeRates.push(await readStore());
        rawRates.push(await readRaw());
      } else {
        rawRates.push(await readRaw());
        storeRates.push(await readStore());
      }
    }
    info(`postgres.read.stream over ${fmt(total)} events: store ${fmt(median(storeRates))} events/s, raw COPY ${fmt(median(rawRates))} rows/s`);
    results({ bench: 'postgres.read.stream', value: median(storeRates), unit: 'events/s', baseline: median(rawRates) });
  } finally {
    await client.end();
    await store.close();
  }
}

/** Rows of a COPY … TO STDOUT (text format: one line per row), counted as they stream in. */
async function copyRows(client: pg.Client, sql: string): Promise<number> {
  const stream = client.query(copyTo(sql));
  let rows = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) rows++;
  }
  return rows;
}
