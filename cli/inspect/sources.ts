/**
 * Sources the inspector reads, each registered as one DuckDB view `ev` with the same columns:
 * id, t (ms), step, kind, actor, stream, key, position, count, cause, detail, type.
 *
 * - A simulation trace (`spive simulate --trace run.parquet`): read in place by DuckDB.
 * - An embedded store folder: its sealed history straight from its Parquet files, plus the unsealed
 *   tail read through the store (readStream) into a small table. One lane per stream.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Duck, sqlString } from '../../analyzer/duckdb.ts';
import { EmbeddedStore } from '../../src/store/embedded/embedded-store.ts';
import { UsageError } from '../exit-codes.ts';
import { TimelineData } from './timeline-data.ts';

const TRACE_REQUIRED = ['step', 'simulated_ms', 'kind', 'actor', 'stream', 'key', 'position', 'detail'];

/** Opens a trace file or a store folder; a wrong path is a UsageError naming it. */
export interface SourceOptions {
  /** See TimelineData.build: sources smaller than this are counted exactly on every view. */
  readonly exactBelowRows?: number;
}

export async function openSource(path: string, options: SourceOptions = {}): Promise<TimelineData> {
  if (!existsSync(path)) throw new UsageError(`<trace-or-store>: no such file or folder: ${path}`);
  if (statSync(path).isDirectory()) return openStoreSource(path, options);
  return openTraceSource(path, options);
}

export async function openTraceSource(path: string, options: SourceOptions = {}): Promise<TimelineData> {
  const duck = await Duck.open(':memory:');
  try {
    let columns: string[];
    try {
      columns = (await duck.rows<{ column_name: string }>(`DESCRIBE SELECT * FROM read_parquet(${sqlString(path)})`)).map((r) => r.column_name);
    } catch (e) {
      throw new UsageError(`<trace-or-store>: ${path} is not a Parquet trace (written by spive simulate --trace): ${firstLine(e)}`);
    }
    const missing = TRACE_REQUIRED.filter((c) => !columns.includes(c));
    if (missing.length > 0) throw new UsageError(`<trace-or-store>: ${path} is not a spive trace: it lacks the column(s) ${missing.join(', ')}`);
    // Traces written before the `cause` column existed still open; they just have no causal links.
    const cause = columns.includes('cause') ? 'cause' : '0::BIGINT AS cause';
    await duck.run(`CREATE VIEW ev AS SELECT file_row_number AS id, simulated_ms AS t, step, kind, actor, stream, key, position, ${cause}, detail,
      CASE WHEN kind = 'append' THEN split_part(detail, ' ', 2) ELSE '' END AS type,
      CASE WHEN kind = 'append' THEN coalesce(TRY_CAST(split_part(detail, ' ', 1) AS BIGINT), 1) ELSE 1 END AS count
      FROM read_parquet(${sqlString(path)}, file_row_number = true)`);
    return await TimelineData.build(duck, 'trace', path, options);
  } catch (e) {
    duck.close();
    throw e;
  }
}

export async function openStoreSource(dir: string, options: SourceOptions = {}): Promise<TimelineData> {
  if (!existsSync(join(dir, 'FORMAT'))) throw new UsageError(`<trace-or-store>: ${dir} is a folder but not an embedded store (no FORMAT file); expected a trace .parquet file or a store folder`);
  const store = await EmbeddedStore.open(dir, { readOnly: true });
  const duck = await Duck.open(':memory:');
  try {
    const sealed = store.sealedHistory();
    const parts: string[] = [];
    const sealedUpTo = new Map<string, number>();
    for (const stream of new Set(sealed.map((f) => f.stream))) {
      const files = sealed.filter((f) => f.stream === stream);
      sealedUpTo.set(stream, Math.max(...files.map((f) => f.lastPosition)));
      parts.push(`SELECT ${sqlString(stream)} AS stream, key, time::DOUBLE AS t, position, type, data::VARCHAR AS data, 0::BIGINT AS cause FROM read_parquet([${files.map((f) => sqlString(f.path)).join(', ')}])`);
    }
    await duck.run('CREATE TABLE tail (stream VARCHAR, key VARCHAR, t DOUBLE, position DOUBLE, type VARCHAR, data VARCHAR, cause DOUBLE)');
    for (const s of (await store.stats()).streams) {
      const columns: [string[], string[], number[], number[], string[], string[], number[]] = [[], [], [], [], [], [], []];
      for await (const batch of store.readStream(s.stream, { fromPosition: (sealedUpTo.get(s.stream) ?? 0) + 1, batchSize: 8192 })) {
        for (const e of batch) {
          const input = e.meta?.in;
          columns[0].push(e.stream);
          columns[1].push(e.key);
          columns[2].push(e.time);
          columns[3].push(e.position);
          columns[4].push(e.type);
          columns[5].push(JSON.stringify(e.data));
          columns[6].push(Array.isArray(input) && typeof input[1] === 'number' ? input[1] : 0);
        }
      }
      if (columns[0].length > 0) await duck.insertColumns('tail', ['varchar', 'varchar', 'double', 'double', 'varchar', 'varchar', 'double'], columns);
    }
    parts.push('SELECT stream, key, t, position::BIGINT AS position, type, data, cause::BIGINT AS cause FROM tail');
    await duck.run(`CREATE VIEW ev AS SELECT position AS id, t, position AS step, 'event' AS kind, '' AS actor, stream, key, position, cause, type || ' ' || data AS detail, type, 1::BIGINT AS count
      FROM (${parts.join(' UNION ALL ')})`);
    return await TimelineData.build(duck, 'store', dir, options);
  } catch (e) {
    duck.close();
    throw e;
  } finally {
    await store.close();
  }
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0] as string;
}
