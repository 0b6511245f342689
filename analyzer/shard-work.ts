/**
 * Per shard of a process: how much input it would replay from scratch, and how much from its
 * snapshot on (a time ray), computed by DuckDB from the catalogue's time buckets.
 *
 * A shard's inputs are known exactly when the process reads its inputs as stored (same key): they
 * are the input shards' buckets. When an input is re-keyed (a key function, e.g. a fan-out), the
 * input shard does not say which process shard an event reaches; then the inputs a shard reflected
 * are counted from the process's own output (distinct input numbers `meta.m` per output bucket),
 * with payload bytes at the input streams' average. Events after a snapshot's time inside a bucket
 * are interpolated linearly between the bucket's first and last event time.
 */
import { sqlString, type Duck } from './duckdb.ts';
import type { StatsCatalogue } from './catalogue/catalogue.ts';
import { inputsOf, type AnyProcess } from './graph.ts';

export interface ShardSnapshot {
  readonly version: string;
  /** Input number m the state reflects. */
  readonly position: number;
  readonly time: number;
  readonly sizeBytes: number;
}

export interface ShardWork {
  readonly key: string;
  readonly affected: boolean;
  /** All inputs of the shard (from scratch). */
  readonly events: number;
  readonly bytes: number;
  /** Event time of the shard's last input. */
  readonly maxTime: number;
  /** Inputs with time ≥ the snapshot's time (a time ray), when the shard has a usable snapshot. */
  readonly snapshot: ShardSnapshot | null;
  readonly rayEvents: number;
  readonly rayBytes: number;
}

export interface ShardWorkQuery {
  readonly process: AnyProcess;
  /** Shards with an input at or after this time are affected (null: every shard). */
  readonly since: number | null;
  /** SQL condition on `key` (validated by the caller), or null. */
  readonly keysExpr: string | null;
  /** Only these keys are affected (downstream lineage), or null. */
  readonly keySet: ReadonlySet<string> | null;
  /** The usable snapshot per shard. */
  readonly snapshots: ReadonlyMap<string, ShardSnapshot>;
}

export interface ShardWorkResult {
  readonly shards: ShardWork[];
  /** How the inputs per shard were counted. */
  readonly counting: 'input-shards' | 'output-lineage';
  /** Re-keyed input streams that a replay must scan whole (from the earliest start) to find a shard's events. */
  readonly scans: ReadonlyArray<{ readonly stream: string }>;
}

export async function shardWork(catalogue: StatsCatalogue, q: ShardWorkQuery): Promise<ShardWorkResult> {
  const db = catalogue.db;
  const inputs = inputsOf(q.process);
  const rekeyed = inputs.filter((i) => i.rekeyed);
  await loadTemp(db, q);
  const inputList = inputs.map((i) => sqlString(i.stream)).join(', ');
  const avgBytes = `(SELECT coalesce(sum(bytes) / nullif(sum(events), 0), 0) FROM key_totals WHERE stream IN (${inputList}))`;
  // Where a shard's inputs are counted: the input shards, or (re-keyed) the process's own output lineage.
  const [totals, buckets, events, bytes] =
    rekeyed.length === 0
      ? [`key_totals WHERE stream IN (${inputList})`, `buckets b WHERE b.stream IN (${inputList})`, 'events', 'bytes']
      : [`key_totals WHERE stream = ${sqlString(q.process.output.name)}`, `buckets b WHERE b.stream = ${sqlString(q.process.output.name)}`, 'inputs', `inputs * ${avgBytes}`];
  const frac = `CASE WHEN b.min_time >= s.time THEN 1 ELSE (b.max_time - s.time + 1) / (b.max_time - b.min_time + 1) END`;
  const affected = [
    q.since === null ? 'true' : `"maxTime" >= ${q.since}`,
    q.keysExpr === null ? 'true' : `(${q.keysExpr})`,
    q.keySet === null ? 'true' : 'key IN (SELECT key FROM plan_keys)',
  ].join(' AND ');
  // Totals come from the per-key summary; only buckets after a shard's snapshot are read for rays.
  // The user's --keys condition sees one column, `key`: it is applied outside the joins.
  const { length, columns } = await db.columns(`
    WITH tot AS (
      SELECT key, sum(${events}) AS events, sum(${bytes}) AS bytes, max(max_time) AS "maxTime" FROM ${totals} GROUP BY key),
    ray AS (
      SELECT b.key AS key, sum(b.${events} * ${frac}) AS "rayEvents", sum((${bytes.replace('inputs', 'b.inputs')}) * ${frac}) AS "rayBytes"
      FROM ${buckets.replace(' WHERE ', ' JOIN plan_snapshots s ON s.key = b.key WHERE ')}
        AND b.max_time >= s.time AND b.max_time >= (SELECT coalesce(min(time), 0) FROM plan_snapshots)
      GROUP BY b.key),
    per AS (
      SELECT tot.key AS key, tot.events AS events, tot.bytes AS bytes, tot."maxTime" AS "maxTime",
        ray."rayEvents" AS "rayEvents", ray."rayBytes" AS "rayBytes", s.key IS NOT NULL AS "hasSnap"
      FROM tot LEFT JOIN ray ON ray.key = tot.key LEFT JOIN plan_snapshots s ON s.key = tot.key)
    SELECT key, (${affected}) AS affected, events, bytes, "maxTime", "rayEvents", "rayBytes", "hasSnap" FROM per`);
  const [key, aff, ev, by, max, rayEv, rayBy, has] = ['key', 'affected', 'events', 'bytes', 'maxTime', 'rayEvents', 'rayBytes', 'hasSnap'].map((c) => columns[c] as unknown[]) as [
    string[], boolean[], number[], number[], number[], (number | null)[], (number | null)[], boolean[],
  ];
  const shards: ShardWork[] = new Array(length);
  for (let i = 0; i < length; i++) {
    const k = key[i] as string;
    shards[i] = {
      key: k,
      affected: aff[i] === true,
      events: ev[i] as number,
      bytes: by[i] as number,
      maxTime: max[i] as number,
      snapshot: has[i] === true ? (q.snapshots.get(k) ?? null) : null,
      rayEvents: Math.ceil(rayEv[i] ?? 0),
      rayBytes: Math.ceil(rayBy[i] ?? 0),
    };
  }
  return { shards, counting: rekeyed.length === 0 ? 'input-shards' : 'output-lineage', scans: rekeyed.map((i) => ({ stream: i.stream })) };
}

async function loadTemp(db: Duck, q: ShardWorkQuery): Promise<void> {
  await db.run('CREATE OR REPLACE TABLE plan_snapshots (key VARCHAR, time DOUBLE); CREATE OR REPLACE TABLE plan_keys (key VARCHAR)');
  const keys = [...q.snapshots.keys()];
  await db.insertColumns('plan_snapshots', ['varchar', 'double'], [keys, keys.map((k) => (q.snapshots.get(k) as ShardSnapshot).time)]);
  if (q.keySet !== null) await db.insertColumns('plan_keys', ['varchar'], [[...q.keySet]]);
}
