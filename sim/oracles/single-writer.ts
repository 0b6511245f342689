/**
 * Never two writers on a shard: every append to a process's output carries a fencing token, and per
 * shard the tokens of committed appends never go down (a stale writer's append must be refused).
 */
import type { Commit } from '../world.ts';
import type { Violation } from './violation.ts';

export function checkSingleWriter(commits: readonly Commit[], outputStreams: ReadonlySet<string>): Violation[] {
  const violations: Violation[] = [];
  // Per stream, per shard key: the highest token that has written (no joined id string per commit).
  const last = new Map<string, Map<string, number>>();
  for (const c of commits) {
    if (!outputStreams.has(c.stream)) continue;
    if (c.token === undefined) {
      violations.push({ invariant: 'single writer', step: c.step, simulatedMs: c.simulatedMs, message: `${c.stream}/${c.key}: an output append was committed without a fencing token` });
      continue;
    }
    let byKey = last.get(c.stream);
    if (byKey === undefined) last.set(c.stream, (byKey = new Map()));
    const before = byKey.get(c.key) ?? 0;
    if (c.token < before) {
      violations.push({ invariant: 'single writer', step: c.step, simulatedMs: c.simulatedMs, message: `${c.stream}/${c.key}: an append with stale token ${c.token} was committed after token ${before} had written` });
    }
    if (c.token > before) byKey.set(c.key, c.token);
  }
  return violations;
}
