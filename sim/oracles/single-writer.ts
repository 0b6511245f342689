/**
 * Never two writers on a shard: every append to a process's output carries a fencing token, and per
 * shard the tokens of committed appends never go down (a stale writer's append must be refused).
 */
import type { Commit } from '../world.ts';
import type { Violation } from './violation.ts';

export function checkSingleWriter(commits: readonly Commit[], outputStreams: ReadonlySet<string>): Violation[] {
  const violations: Violation[] = [];
  const last = new Map<string, number>();
  for (const c of commits) {
    if (!outputStreams.has(c.stream)) continue;
    const id = `${c.stream}/${c.key}`;
    if (c.token === undefined) {
      violations.push({ invariant: 'single writer', step: c.step, simulatedMs: c.simulatedMs, message: `${id}: an output append was committed without a fencing token` });
      continue;
    }
    const before = last.get(id) ?? 0;
    if (c.token < before) {
      violations.push({ invariant: 'single writer', step: c.step, simulatedMs: c.simulatedMs, message: `${id}: an append with stale token ${c.token} was committed after token ${before} had written` });
    }
    last.set(id, Math.max(before, c.token));
  }
  return violations;
}
