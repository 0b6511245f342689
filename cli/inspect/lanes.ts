/**
 * Which lane a row belongs to, and what it means (its category), as SQL over a row's kind, actor and
 * stream. These are evaluated once per distinct (kind, actor, stream) — a few hundred combinations —
 * never per event: the per-event work is a plain GROUP BY on the raw columns.
 */

/**
 * Lanes: appends go to their stream's lane; runtime log rows and effects to the runner host
 * (`ledger-b#2` → `ledger-b`, so restarts stay on one row); scheduler steps to the host their label
 * names (`net.request ledger-b append` → `ledger-b`); faults and violations get a lane of their own so
 * they stand out.
 */
export const LANE_SQL = `CASE
  WHEN kind = 'append' THEN 'stream ' || stream
  WHEN kind = 'event' THEN stream
  WHEN kind = 'violation' THEN 'violations'
  WHEN kind LIKE 'fault.%' THEN 'faults'
  WHEN kind = 'step' THEN CASE
    WHEN actor LIKE 'fault%' THEN 'faults'
    WHEN actor LIKE 'gateway.%' THEN 'gateway ' || split_part(actor, ' ', 2)
    WHEN actor LIKE '% %' THEN split_part(actor, ' ', 2)
    ELSE split_part(actor, '.', 1) END
  ELSE split_part(actor, '#', 1) END`;

/** Categories (see types.ts): the loudest wins a cell. */
export const CATEGORY_SQL = `CASE
  WHEN kind = 'violation' THEN 'violation'
  WHEN kind IN ('fault.crash', 'fault.storeCrash', 'runner.failed') THEN 'crash'
  WHEN kind LIKE 'fault.%' THEN 'fault'
  WHEN kind LIKE '%.overdue' THEN 'overdue'
  WHEN kind IN ('runner.fault', 'workload.retry') OR (kind = 'step' AND (actor LIKE 'net.timeout%' OR actor = 'workload.retry')) THEN 'retry'
  WHEN kind LIKE 'lease.%' OR kind = 'runner.fenced' THEN 'lease'
  WHEN kind LIKE 'snapshot.%' OR (kind = 'step' AND actor LIKE '% putSnapshot') THEN 'snapshot'
  WHEN kind = 'runner.started' THEN 'start'
  WHEN kind = 'runner.live' THEN 'live'
  WHEN kind = 'effect.suppressed' THEN 'suppressed'
  WHEN kind LIKE 'effect.%' OR kind = 'gateway.recovered' THEN 'effect'
  ELSE 'event' END`;

/** Lanes in reading order: streams, then runners and the rest, then faults and violations last. */
export function laneRank(lane: string): number {
  if (lane.startsWith('stream ')) return 0;
  if (lane === 'faults') return 3;
  if (lane === 'violations') return 4;
  if (lane === 'workload' || lane === 'ingress' || lane.startsWith('gateway ')) return 2;
  return 1;
}

export function compareLanes(a: string, b: string): number {
  return laneRank(a) - laneRank(b) || (a < b ? -1 : a > b ? 1 : 0);
}
