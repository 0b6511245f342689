/**
 * Which shards of a downstream process must follow a change (DESIGN.md §4: by lineage, not
 * wholesale). An input read as stored passes the affected keys through unchanged. A re-keyed input
 * is traced: its key function runs over the upstream's existing outputs of the affected shards
 * since the change, which names exactly the downstream shards those outputs reached. The new
 * version may reach other shards too; the replay engine re-derives lineage from the new outputs.
 */
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
    for (const k of [...up.keys].sort()) {
      for await (const batch of store.readShard(up.stream, k, up.since === null ? { batchSize: 4096 } : { fromTime: up.since, batchSize: 4096 })) {
        for (const e of batch) {
          if (e.type.startsWith('$')) continue;
          const out = input.key(e as never);
          if (typeof out === 'string') keys.add(out);
          else for (const o of out) keys.add(o);
        }
      }
    }
  }
  return via.length === 0 ? undefined : { keys, via, reason: null };
}

async function eventsSince(catalogue: StatsCatalogue, up: ChangedStream): Promise<number> {
  await catalogue.db.run('CREATE OR REPLACE TABLE plan_trace (key VARCHAR)');
  const appender = await catalogue.db.appender('plan_trace');
  for (const k of up.keys) {
    appender.appendVarchar(k);
    appender.endRow();
  }
  appender.closeSync();
  const [row] = await catalogue.db.rows<{ n: number | null }>(
    `SELECT sum(events) AS n FROM buckets WHERE stream = ${sqlString(up.stream)} AND key IN (SELECT key FROM plan_trace)${up.since === null ? '' : ` AND max_time >= ${up.since}`}`,
  );
  return row?.n ?? 0;
}
