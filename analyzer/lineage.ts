/**
 * Which shards of a downstream process must follow a change (DESIGN.md §4: by lineage, not
 * wholesale). An input read as stored passes the affected keys through unchanged. A re-keyed input
 * is traced: its key function runs over the upstream's existing outputs of the affected shards
 * since the change, which names exactly the downstream shards those outputs reached. The new
 * version may reach other shards too; the replay engine re-derives lineage from the new outputs.
 */
import type { StoredEvent } from '../src/model/event.ts';
import type { EventStore } from '../src/store/event-store.ts';
import { sqlString } from './duckdb.ts';
import type { StatsCatalogue } from './catalogue/catalogue.ts';
import type { AnyProcess } from './graph.ts';

/** A stream whose content changes: for these keys, from this event time on. */
export interface ChangedStream {
  readonly stream: string;
  readonly keys: ReadonlySet<string>;
  readonly since: number | null;
}

export interface Lineage {
  /** The downstream shards that must follow, or 'all' (every shard with inputs since the change). */
  readonly keys: ReadonlySet<string> | 'all';
  readonly via: string[];
  readonly reason: string | null;
}

/** Tracing reads upstream events one by one; past this many, every shard follows instead. */
export const LINEAGE_TRACE_BUDGET = 1_000_000;

export async function lineageOf(store: EventStore, catalogue: StatsCatalogue, d: AnyProcess, changed: ReadonlyMap<string, ChangedStream>, budget = LINEAGE_TRACE_BUDGET): Promise<Lineage | undefined> {
  const keys = new Set<string>();
  const via: string[] = [];
  for (const input of d.inputs) {
    const up = changed.get(input.stream.name);
    if (up === undefined) continue;
    via.push(input.stream.name);
    if (input.key === undefined) {
      for (const k of up.keys) keys.add(k);
      continue;
    }
    const toTrace = await eventsSince(catalogue, up);
    if (toTrace > budget) {
      return { keys: 'all', via, reason: `tracing ${toTrace} changed events of ${up.stream} through ${d.name}'s key function exceeds the budget of ${budget}: every shard with inputs since the change follows` };
    }
    for await (const e of changedEvents(store, catalogue, up)) {
      const out = input.key(e as never);
      if (typeof out === 'string') keys.add(out);
      else for (const o of out) keys.add(o);
    }
  }
  return via.length === 0 ? undefined : { keys, via, reason: null };
}

/**
 * The upstream's existing events of the changed shards since the change: from its sealed Parquet
 * files through DuckDB (one query), then from the unsealed tail through the store.
 */
async function* changedEvents(store: EventStore, catalogue: StatsCatalogue, up: ChangedStream): AsyncIterable<Pick<StoredEvent, 'stream' | 'key' | 'type' | 'time' | 'position' | 'data'>> {
  const files = await catalogue.db.rows<{ source: string; last_position: number }>(`SELECT source, last_position FROM sources WHERE stream = ${sqlString(up.stream)}`);
  let covered = 0;
  if (files.length > 0) {
    covered = Math.max(...files.map((f) => f.last_position));
    const { length, columns } = await catalogue.db.columns(
      `SELECT key, type, time::DOUBLE AS time, position::DOUBLE AS position, data FROM read_parquet([${files.map((f) => sqlString(f.source)).join(', ')}])
       WHERE key IN (SELECT key FROM plan_trace) AND type NOT LIKE '$%'${up.since === null ? '' : ` AND time >= ${up.since}`} ORDER BY position`,
    );
    const [key, type, time, position, data] = ['key', 'type', 'time', 'position', 'data'].map((c) => columns[c] as unknown[]);
    for (let i = 0; i < length; i++) {
      yield { stream: up.stream, key: key?.[i] as string, type: type?.[i] as string, time: time?.[i] as number, position: position?.[i] as number, data: JSON.parse(data?.[i] as string) };
    }
  }
  for await (const batch of store.readStream(up.stream, { fromPosition: covered + 1, batchSize: 4096 })) {
    for (const e of batch) {
      if (e.type.startsWith('$') || !up.keys.has(e.key) || (up.since !== null && e.time < up.since)) continue;
      yield e;
    }
  }
}

async function eventsSince(catalogue: StatsCatalogue, up: ChangedStream): Promise<number> {
  await catalogue.db.run('CREATE OR REPLACE TABLE plan_trace (key VARCHAR)');
  await catalogue.db.insertColumns('plan_trace', ['varchar'], [[...up.keys]]);
  const [row] = await catalogue.db.rows<{ n: number | null }>(
    `SELECT sum(events) AS n FROM buckets WHERE stream = ${sqlString(up.stream)} AND key IN (SELECT key FROM plan_trace)${up.since === null ? '' : ` AND max_time >= ${up.since}`}`,
  );
  return row?.n ?? 0;
}
