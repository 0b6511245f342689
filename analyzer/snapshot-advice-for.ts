/**
 * Snapshot cadence advice for one process (`replay-plan --advise-snapshots`): Young's and Daly's
 * optimal interval with δ = the CPU cost of one snapshot round (the process's current state bytes,
 * at the measured per-byte snapshot cost) and M = the CPU time of input processing between two
 * changes that need a replay (observed from the versions that wrote its output, or assumed).
 */
import { isRoundShard } from '../src/runtime/runner.ts';
import type { EventStore } from '../src/store/event-store.ts';
import type { StatsCatalogue } from './catalogue/catalogue.ts';
import { sqlString } from './duckdb.ts';
import type { AnyProcess } from './graph.ts';
import { dalyInterval, youngInterval } from './snapshot-advice.ts';
import type { CostModel, SnapshotAdvice } from './types.ts';

export interface AdviceRequest {
  readonly store: EventStore;
  readonly catalogue: StatsCatalogue;
  readonly process: AnyProcess;
  readonly cost: CostModel;
  /** Assumed mean event time between changes when the store shows fewer than two versions. */
  readonly changeEveryMs: number;
}

export async function adviseSnapshots(r: AdviceRequest): Promise<SnapshotAdvice | (Omit<SnapshotAdvice, 'youngIntervalMs' | 'dalyIntervalMs' | 'everyEvents'> & { reason: string })> {
  const p = r.process;
  const inputs = p.inputs.map((i) => sqlString(i.stream.name)).join(', ');
  const [row] = await r.catalogue.db.rows<{ events: number | null; bytes: number | null; span: number | null }>(
    `SELECT sum(events) AS events, sum(bytes) AS bytes, max(max_time) - min(min_time) AS span FROM buckets WHERE stream IN (${inputs})`,
  );
  const events = row?.events ?? 0;
  const perEventNs = r.cost.nsPerEvent + (events > 0 ? ((row?.bytes ?? 0) / events) * r.cost.nsPerByte : 0);
  // δ: a round writes every shard's newest state; writing costs about what restoring does.
  const newest = new Map<string, number>();
  for (const s of await r.store.listSnapshots({ process: p.name })) if (!isRoundShard(s.shard)) newest.set(`${s.version}\u0000${s.shard}`, s.sizeBytes);
  const roundBytes = [...newest.values()].reduce((n, b) => n + b, 0);
  const snapshotCostMs = (roundBytes * r.cost.nsPerSnapshotByte + r.cost.nsPerShard * newest.size) / 1e6;
  // M: inputs between changes, turned into processing time.
  const versions = await r.catalogue.versions(p.output.name);
  const span = row?.span ?? 0;
  const changes = versions.length - 1;
  const eventsBetween = changes >= 1 ? events / changes : span > 0 ? (events * r.changeEveryMs) / span : events;
  const source = changes >= 1 ? `observed: ${versions.length} versions wrote ${p.output.name}` : `assumed: one change every ${Math.round(r.changeEveryMs / 3_600_000)} h of event time (--change-every)`;
  const meanMs = (eventsBetween * perEventNs) / 1e6;
  const base = { process: p.name, snapshotCostMs, meanTimeBetweenChangesMs: meanMs, changeIntervalSource: source, currentEveryEvents: p.snapshots.everyEvents };
  if (!(snapshotCostMs > 0) || !(meanMs > 0)) {
    return { ...base, reason: snapshotCostMs > 0 ? 'no input events to measure the time between changes' : 'the store holds no snapshots of this process to measure a round’s cost' };
  }
  const daly = dalyInterval(snapshotCostMs, meanMs);
  return { ...base, youngIntervalMs: youngInterval(snapshotCostMs, meanMs), dalyIntervalMs: daly, everyEvents: Math.max(1, Math.round(daly / (perEventNs / 1e6))) };
}
