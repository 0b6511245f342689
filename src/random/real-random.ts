/**
 * Production randomness: a seeded stream whose root seed comes from the operating system, so that
 * production code uses the same `Random` interface as the simulator.
 */
import { randomInt } from 'node:crypto';
import { seededRandom, type Random } from './random.ts';

export function realRandom(): Random {
  return seededRandom(randomInt(1, 2 ** 31 - 1));
}
