/**
 * The statistics catalogue: per stream, shard and time bucket, how many events and payload bytes
 * there are, how many distinct inputs they reflect, and which process versions wrote them. Planning
 * queries this, never the raw history.
 *
 * Incremental: sealed history (immutable Parquet files) is aggregated once per file, by DuckDB, and
 * remembered by file; only the unsealed tail is re-aggregated on each update (it is at most one WAL
 * segment). A sealed file that changed or vanished (the store was rebuilt) rebuilds the catalogue.
 */
import type { StoredEvent } from '../../src/model/event.ts';
import type { SealedHistoryFile } from '../../src/store/event-store.ts';
import { realClock, type Clock } from '../../src/time/clock.ts';
import { assert } from '../../src/util/assert.ts';
import { engineFigures, parseEngineFigures } from '../cost/engine-figures.ts';
import { Duck, sqlString } from '../duckdb.ts';
import type { CostModel } from '../types.ts';

/** Where a catalogue's history comes from (an event store, or a bare folder of Parquet files for benchmarks). */
export interface HistorySource {
  readonly location: string;
  sealedFiles(): readonly SealedHistoryFile[];
  /** Events per stream and the stream's last global position: what the catalogue must add up to. */
  streamTotals(): Promise<ReadonlyMap<string, { readonly events: number; readonly lastPosition: number }>>;
  /** A stream's events from a global position on, in position order. */
  readStream(stream: string, fromPosition: number): AsyncIterable<StoredEvent[]>;
}

export interface CatalogueOptions {
  /** Width of a time bucket in ms (default one hour). Changing it rebuilds the catalogue. */
  readonly bucketMs?: number;
}

export interface UpdateReport {
  readonly filesAdded: number;
  readonly rowsFromFiles: number;
  readonly tailEvents: number;
  readonly rebuilt: boolean;
  /** Why it was rebuilt, if it was. */
  readonly reason: string | null;
  /** Wall time per step (ms): files, tail, totals. */
  readonly timings: Readonly<Record<string, number>>;
}

/**
 * One day: a bucket row per (stream, key, day) bounds the catalogue by keys × days, whatever the
 * event count (hourly buckets made it almost as large as the log itself for cold keys).
 */
export const DEFAULT_BUCKET_MS = 86_400_000;
const FORMAT = 'spive-stats-3';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS info (name VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS sources (id INTEGER, stream VARCHAR, source VARCHAR, rows DOUBLE, first_position DOUBLE, last_position DOUBLE);
CREATE TABLE IF NOT EXISTS buckets (
  stream VARCHAR, source INTEGER, key VARCHAR, bucket DOUBLE,
  events DOUBLE, bytes DOUBLE, inputs DOUBLE,
  min_time DOUBLE, max_time DOUBLE, min_position DOUBLE, max_position DOUBLE);
CREATE TABLE IF NOT EXISTS versions (stream VARCHAR, source INTEGER, version VARCHAR, events DOUBLE, min_time DOUBLE, max_time DOUBLE, last_position DOUBLE);
CREATE TABLE IF NOT EXISTS key_totals (stream VARCHAR, key VARCHAR, events DOUBLE, bytes DOUBLE, inputs DOUBLE, min_time DOUBLE, max_time DOUBLE, last_position DOUBLE);
CREATE TABLE IF NOT EXISTS stream_totals (stream VARCHAR, events DOUBLE, shards DOUBLE, min_time DOUBLE, max_time DOUBLE, last_position DOUBLE);
CREATE TABLE IF NOT EXISTS calibration (
  process VARCHAR, version VARCHAR, source VARCHAR, ns_per_event DOUBLE, ns_per_byte DOUBLE,
  ns_per_snapshot_byte DOUBLE, ns_per_snapshot DOUBLE, ns_per_shard DOUBLE, samples DOUBLE, recorded_at DOUBLE);
`;

/** The tail's rows carry this source id; they are replaced on every update. */
const TAIL = 0;

export class StatsCatalogue {
  private constructor(
    readonly db: Duck,
    readonly bucketMs: number,
  ) {}

  /** Opens (or creates) a catalogue; `path` null keeps it in memory. */
  static async open(path: string | null, options: CatalogueOptions = {}): Promise<StatsCatalogue> {
    const bucketMs = options.bucketMs ?? DEFAULT_BUCKET_MS;
    assert(Number.isSafeInteger(bucketMs) && bucketMs > 0, 'bucketMs is a positive integer');
    const db = await Duck.open(path ?? ':memory:');
    await db.run('CREATE TABLE IF NOT EXISTS info (name VARCHAR PRIMARY KEY, value VARCHAR)');
    const info = new Map((await db.rows<{ name: string; value: string }>('SELECT name, value FROM info')).map((r) => [r.name, r.value]));
    if (info.get('format') !== FORMAT || info.get('bucketMs') !== String(bucketMs)) {
      // Another format or bucket width: everything is derived, so start over (tables may differ in shape).
      for (const table of ['sources', 'buckets', 'versions', 'key_totals', 'stream_totals', 'calibration', 'plan_snapshots', 'plan_keys', 'plan_trace']) {
        await db.run(`DROP TABLE IF EXISTS ${table}`);
      }
      await db.run(`DELETE FROM info; INSERT INTO info VALUES ('format', ${sqlString(FORMAT)}), ('bucketMs', ${sqlString(String(bucketMs))})`);
    }
    await db.run(SCHEMA);
    // Added after spive-stats-3 shipped: older catalogues gain the column (0: not measured) and keep their statistics.
    await db.run('ALTER TABLE calibration ADD COLUMN IF NOT EXISTS ns_per_read_event DOUBLE DEFAULT 0');
    // Likewise the replay engine's own figures (analyzer/cost/engine-figures.ts), as JSON (NULL: not measured).
    await db.run('ALTER TABLE calibration ADD COLUMN IF NOT EXISTS engine VARCHAR DEFAULT NULL');
    return new StatsCatalogue(db, bucketMs);
  }

  /** Brings the catalogue up to date with the source: new sealed files, then the tail. */
  async update(source: HistorySource, clock: Clock = realClock): Promise<UpdateReport> {
    const timings: Record<string, number> = {};
    let mark = clock.monotonicMs();
    const step = (name: string) => {
      const now = clock.monotonicMs();
      timings[name] = Math.round(now - mark);
      mark = now;
    };
    const files = source.sealedFiles();
    const known = new Map(
      (await this.db.rows<{ source: string; stream: string; rows: number; first_position: number; last_position: number }>(`SELECT * FROM sources WHERE id <> ${TAIL}`)).map((r) => [r.source, r]),
    );
    let reason: string | null = null;
    const current = new Set(files.map((f) => f.path));
    for (const f of files) {
      const k = known.get(f.path);
      if (k !== undefined && (k.rows !== f.rows || k.first_position !== f.firstPosition || k.last_position !== f.lastPosition || k.stream !== f.stream)) {
        reason = `sealed file ${f.path} changed since it was catalogued`;
      }
    }
    for (const path of known.keys()) if (!current.has(path)) reason ??= `catalogued file ${path} is no longer in the store`;
    if (reason !== null) {
      await clear(this.db);
      known.clear();
    }
    const fresh = files.filter((f) => !known.has(f.path));
    let rowsFromFiles = 0;
    for (const stream of [...new Set(fresh.map((f) => f.stream))].sort()) {
      const batch = fresh.filter((f) => f.stream === stream);
      await this.ingestFiles(stream, batch);
      rowsFromFiles += batch.reduce((n, f) => n + f.rows, 0);
    }
    step('files');
    const tailEvents = await this.refreshTail(source);
    step('tail');
    // Per-key and per-stream totals, kept aside so that planning never re-aggregates every bucket for them.
    await this.db.run(`CREATE OR REPLACE TABLE key_totals AS
      SELECT stream, key, sum(events) AS events, sum(bytes) AS bytes, sum(inputs) AS inputs, min(min_time) AS min_time, max(max_time) AS max_time, max(max_position) AS last_position
      FROM buckets GROUP BY stream, key`);
    await this.db.run(`CREATE OR REPLACE TABLE stream_totals AS
      SELECT stream, sum(events) AS events, count(*)::DOUBLE AS shards, min(min_time) AS min_time, max(max_time) AS max_time, max(last_position) AS last_position
      FROM key_totals GROUP BY stream`);
    step('totals');
    return { filesAdded: fresh.length, rowsFromFiles, tailEvents, rebuilt: reason !== null, reason, timings };
  }

  /** Streams the catalogue knows, with totals (as of the last update). */
  async streams(): Promise<Array<{ stream: string; events: number; shards: number; minTime: number | null; maxTime: number | null; lastPosition: number }>> {
    return this.db.rows(
      `SELECT stream, events, shards, min_time AS "minTime", max_time AS "maxTime", last_position AS "lastPosition" FROM stream_totals ORDER BY stream`,
    );
  }

  /** Versions that wrote a stream, oldest first by their last position. */
  async versions(stream: string): Promise<Array<{ version: string; events: number; minTime: number; maxTime: number; lastPosition: number }>> {
    return this.db.rows(
      `SELECT version, sum(events) AS events, min(min_time) AS "minTime", max(max_time) AS "maxTime", max(last_position) AS "lastPosition"
       FROM versions WHERE stream = ${sqlString(stream)} AND version IS NOT NULL GROUP BY version ORDER BY "lastPosition"`,
    );
  }

  /** Records a process version's measured cost model (e.g. `source: 'replay'` after a real replay). */
  async recordCalibration(model: CostModel, version: string, recordedAt: number): Promise<void> {
    await this.db.run(
      `DELETE FROM calibration WHERE process = ${sqlString(model.process)} AND version = ${sqlString(version)} AND source = ${sqlString(model.source)};
       INSERT INTO calibration (process, version, source, ns_per_event, ns_per_byte, ns_per_snapshot_byte, ns_per_snapshot, ns_per_shard, samples, recorded_at, ns_per_read_event, engine)
       VALUES (${sqlString(model.process)}, ${sqlString(version)}, ${sqlString(model.source)}, ${model.nsPerEvent}, ${model.nsPerByte},
         ${model.nsPerSnapshotByte}, ${model.nsPerSnapshot}, ${model.nsPerShard}, ${model.samples}, ${recordedAt}, ${model.nsPerReadEvent ?? 0}, ${sqlString(JSON.stringify(engineFigures(model)))})`,
    );
  }

  /**
   * A replay run's fixed cost on this store (what its processes' shards do not account for), as the
   * last real replay measured it. Kept in the calibration table as the one-shard cost of the pseudo
   * process `$replay`.
   */
  async recordReplayFixedMs(ms: number, recordedAt: number): Promise<void> {
    await this.recordCalibration({ process: REPLAY_RUN, nsPerEvent: 0, nsPerByte: 0, nsPerSnapshotByte: 0, nsPerSnapshot: 0, nsPerShard: ms * 1e6, source: 'replay', samples: 1 }, REPLAY_RUN, recordedAt);
  }

  async replayFixedMs(): Promise<number | undefined> {
    const model = await this.calibrationFor(REPLAY_RUN, REPLAY_RUN, 'replay');
    return model === undefined ? undefined : model.nsPerShard / 1e6;
  }

  /** The newest recorded cost model of a process version from `source`, if any. */
  async calibrationFor(process: string, version: string, source: CostModel['source']): Promise<CostModel | undefined> {
    const [row] = await this.db.rows<{ ns_per_event: number; ns_per_read_event: number | null; ns_per_byte: number; ns_per_snapshot_byte: number; ns_per_snapshot: number; ns_per_shard: number; samples: number; engine: string | null }>(
      `SELECT * FROM calibration WHERE process = ${sqlString(process)} AND version = ${sqlString(version)} AND source = ${sqlString(source)} ORDER BY recorded_at DESC LIMIT 1`,
    );
    if (row === undefined) return undefined;
    return {
      process,
      nsPerEvent: row.ns_per_event,
      nsPerReadEvent: row.ns_per_read_event ?? 0,
      nsPerByte: row.ns_per_byte,
      nsPerSnapshotByte: row.ns_per_snapshot_byte,
      nsPerSnapshot: row.ns_per_snapshot,
      nsPerShard: row.ns_per_shard,
      ...parseEngineFigures(row.engine),
      source,
      samples: row.samples,
    };
  }

  close(): void {
    this.db.close();
  }

  private async ingestFiles(stream: string, files: readonly SealedHistoryFile[]): Promise<void> {
    const b = this.bucketMs;
    const s = sqlString(stream);
    for (const f of files) {
      const [next] = await this.db.rows<{ id: number }>('SELECT (coalesce(max(id), 0) + 1)::DOUBLE AS id FROM sources');
      const id = next?.id as number;
      const file = `read_parquet(${sqlString(f.path)})`;
      // `$`-types are platform events: `$idle` moves watermarks only; `$progress` reflects an input but carries no output.
      await this.db.run(`
        INSERT INTO buckets
        SELECT ${s}, ${id}, key, (time // ${b}) * ${b},
          count(*) FILTER (WHERE type NOT LIKE '$%'),
          coalesce(sum(bytes) FILTER (WHERE type NOT LIKE '$%'), 0),
          CASE WHEN count(meta) = 0 THEN count(*) FILTER (WHERE type NOT LIKE '$%')
               ELSE count(DISTINCT json_extract(meta, '$.m')::DOUBLE) END,
          min(time), max(time), min(position), max(position)
        FROM ${file}
        WHERE type <> '$idle'
        GROUP BY key, (time // ${b}) * ${b}`);
      await this.db.run(`
        INSERT INTO versions
        SELECT ${s}, ${id}, json_extract_string(meta, '$.v') AS version, count(*), min(time), max(time), max(position)
        FROM ${file}
        WHERE meta IS NOT NULL AND type <> '$idle'
        GROUP BY version`);
      await this.db.run(`INSERT INTO sources VALUES (${id}, ${s}, ${sqlString(f.path)}, ${f.rows}, ${f.firstPosition}, ${f.lastPosition})`);
    }
  }

  /** Re-aggregates every event not covered by a sealed file. Returns how many it read. */
  private async refreshTail(source: HistorySource): Promise<number> {
    await this.db.run(`DELETE FROM buckets WHERE source = ${TAIL}; DELETE FROM versions WHERE source = ${TAIL}`);
    const covered = await this.db.rows<{ stream: string; rows: number; first_position: number; last_position: number }>(
      'SELECT stream, rows, first_position, last_position FROM sources ORDER BY stream, first_position',
    );
    const totals = await source.streamTotals();
    const agg = new TailAggregate(this.bucketMs);
    for (const [stream, total] of [...totals].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const ranges = covered.filter((c) => c.stream === stream);
      const coveredRows = ranges.reduce((n, r) => n + r.rows, 0);
      if (coveredRows >= total.events) continue;
      const maxCovered = ranges.reduce((m, r) => Math.max(m, r.last_position), 0);
      let read = 0;
      // Fast path: everything past the last sealed file. If that does not add up (a segment sealed
      // out of order), read the whole stream and skip what the files cover.
      const tail: StoredEvent[] = [];
      for await (const batch of source.readStream(stream, maxCovered + 1)) for (const e of batch) tail.push(e);
      if (coveredRows + tail.length === total.events) {
        for (const e of tail) agg.add(stream, e);
        read = tail.length;
      } else {
        let i = 0;
        for await (const batch of source.readStream(stream, 1)) {
          for (const e of batch) {
            while (i < ranges.length && (ranges[i] as { last_position: number }).last_position < e.position) i++;
            const r = ranges[i];
            if (r !== undefined && r.first_position <= e.position && e.position <= r.last_position) continue;
            agg.add(stream, e);
            read++;
          }
        }
        assert(coveredRows + read === total.events, `catalogue of ${stream}: ${coveredRows} sealed + ${read} tail events must add up to the store's ${total.events}`);
      }
    }
    await agg.writeTo(this.db);
    return agg.events;
  }
}

async function clear(db: Duck): Promise<void> {
  await db.run('DELETE FROM sources; DELETE FROM buckets; DELETE FROM versions');
}

interface BucketAgg {
  stream: string;
  key: string;
  bucket: number;
  events: number;
  bytes: number;
  inputs: Set<number> | number;
  minTime: number;
  maxTime: number;
  minPosition: number;
  maxPosition: number;
}

/** The unsealed tail, aggregated in JS the same way the SQL above aggregates sealed files. */
class TailAggregate {
  readonly rows = new Map<string, BucketAgg>();
  readonly versions = new Map<string, { stream: string; version: string; events: number; minTime: number; maxTime: number; lastPosition: number }>();
  events = 0;

  constructor(private readonly bucketMs: number) {}

  add(stream: string, e: StoredEvent): void {
    if (e.type === '$idle') return;
    this.events++;
    const bucket = Math.floor(e.time / this.bucketMs) * this.bucketMs;
    const id = `${stream}\u0000${e.key}\u0000${bucket}`;
    let row = this.rows.get(id);
    if (row === undefined) {
      row = { stream, key: e.key, bucket, events: 0, bytes: 0, inputs: 0, minTime: e.time, maxTime: e.time, minPosition: e.position, maxPosition: e.position };
      this.rows.set(id, row);
    }
    const platform = e.type.startsWith('$');
    if (!platform) {
      row.events++;
      row.bytes += Buffer.byteLength(JSON.stringify(e.data ?? null));
    }
    const m = e.meta?.m;
    if (typeof m === 'number') {
      if (typeof row.inputs === 'number') row.inputs = new Set<number>();
      row.inputs.add(m);
    } else if (typeof row.inputs === 'number' && !platform) row.inputs++;
    row.minTime = Math.min(row.minTime, e.time);
    row.maxTime = Math.max(row.maxTime, e.time);
    row.minPosition = Math.min(row.minPosition, e.position);
    row.maxPosition = Math.max(row.maxPosition, e.position);
    const v = e.meta?.v;
    if (typeof v === 'string') {
      const vid = `${stream}\u0000${v}`;
      const known = this.versions.get(vid);
      if (known === undefined) this.versions.set(vid, { stream, version: v, events: 1, minTime: e.time, maxTime: e.time, lastPosition: e.position });
      else {
        known.events++;
        known.minTime = Math.min(known.minTime, e.time);
        known.maxTime = Math.max(known.maxTime, e.time);
        known.lastPosition = Math.max(known.lastPosition, e.position);
      }
    }
  }

  async writeTo(db: Duck): Promise<void> {
    const buckets = await db.appender('buckets');
    for (const r of this.rows.values()) {
      buckets.appendVarchar(r.stream);
      buckets.appendInteger(TAIL);
      buckets.appendVarchar(r.key);
      buckets.appendDouble(r.bucket);
      buckets.appendDouble(r.events);
      buckets.appendDouble(r.bytes);
      buckets.appendDouble(typeof r.inputs === 'number' ? r.inputs : r.inputs.size);
      buckets.appendDouble(r.minTime);
      buckets.appendDouble(r.maxTime);
      buckets.appendDouble(r.minPosition);
      buckets.appendDouble(r.maxPosition);
      buckets.endRow();
    }
    buckets.closeSync();
    const versions = await db.appender('versions');
    for (const v of this.versions.values()) {
      versions.appendVarchar(v.stream);
      versions.appendInteger(TAIL);
      versions.appendVarchar(v.version);
      versions.appendDouble(v.events);
      versions.appendDouble(v.minTime);
      versions.appendDouble(v.maxTime);
      versions.appendDouble(v.lastPosition);
      versions.endRow();
    }
    versions.closeSync();
  }
}

/** The pseudo process (and version) under which a replay run's fixed cost is recorded. */
const REPLAY_RUN = '$replay';
