/** Exponential backoff with full jitter, drawn from the injected Random. */
import type { Random } from '../random/random.ts';

export interface BackoffPolicy {
  /** First delay (ms). */
  readonly baseMs: number;
  /** Largest delay (ms). */
  readonly capMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 50, capMs: 30_000 };

/** Delay before retry number `attempt` (1-based): uniform in [d/2, d], d = min(cap, base·2^(attempt-1)). */
export function backoffDelayMs(policy: BackoffPolicy, attempt: number, random: Random): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt - 1, 40));
  return Math.round(ceiling / 2 + random.float() * (ceiling / 2));
}
