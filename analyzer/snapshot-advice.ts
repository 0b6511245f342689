/**
 * The optimal checkpoint interval, as the anchor for snapshot cadence (DESIGN.md §4).
 *
 * A snapshot costs δ; a change that needs a replay arrives every M on average (in the same units:
 * processing time) and loses the work since the last snapshot. Young (1974): τ ≈ √(2δM). Daly
 * (2006, "A higher order estimate of the optimum checkpoint interval for restart dumps", FGCS 22)
 * adds the higher-order terms: τ = √(2δM)·[1 + ⅓√(δ/2M) + (1/9)(δ/2M)] − δ for δ < 2M, else τ = M.
 */
import { assert } from '../src/util/assert.ts';

export function youngInterval(deltaMs: number, meanMs: number): number {
  check(deltaMs, meanMs);
  return Math.sqrt(2 * deltaMs * meanMs);
}

export function dalyInterval(deltaMs: number, meanMs: number): number {
  check(deltaMs, meanMs);
  if (deltaMs >= 2 * meanMs) return meanMs;
  const x = deltaMs / (2 * meanMs);
  return Math.sqrt(2 * deltaMs * meanMs) * (1 + Math.sqrt(x) / 3 + x / 9) - deltaMs;
}

function check(deltaMs: number, meanMs: number): void {
  assert(Number.isFinite(deltaMs) && deltaMs > 0, 'the snapshot cost δ is positive');
  assert(Number.isFinite(meanMs) && meanMs > 0, 'the mean time between changes M is positive');
}
