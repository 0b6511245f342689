/**
 * Randomness is injected. Every consumer draws from its own *named stream* derived from one root seed
 * plus its name, so adding a consumer (say, a new fault) does not shift anyone else's draws.
 */
import { createHash } from 'node:crypto';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';

export interface Random {
  /** Uniform in [0, 1). */
  float(): number;
  /** Uniform integer in [from, to], both included. */
  int(from: number, to: number): number;
  /** True with probability `p`. */
  chance(p: number): boolean;
  /** A uniformly chosen element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
  /** An independent stream named `name`, derived from this stream's seed (not from its position). */
  stream(name: string): Random;
  /** The seed this stream was derived from (for reports). */
  readonly seed: number;
}

/** A 32-bit seed derived from a root seed and a name: stable across versions and platforms. */
export function deriveSeed(rootSeed: number, name: string): number {
  const digest = createHash('sha256').update(`${rootSeed}\u0000${name}`).digest();
  return digest.readInt32LE(0);
}

class SeededRandom implements Random {
  private readonly rng;
  constructor(readonly seed: number) {
    // Small seeds make weak xoroshiro states (a first float near 1): scramble the seed first.
    this.rng = xoroshiro128plus(scramble(seed));
  }
  float(): number {
    return uniformFloat64(this.rng);
  }
  int(from: number, to: number): number {
    return uniformInt(this.rng, from, to);
  }
  chance(p: number): boolean {
    return p > 0 && this.float() < p;
  }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty array');
    return items[this.int(0, items.length - 1)] as T;
  }
  stream(name: string): Random {
    return new SeededRandom(deriveSeed(this.seed, name));
  }
}

/** The root of all randomness in a run (simulation, tests, fuzzing). */
export function seededRandom(rootSeed: number): Random {
  if (!Number.isSafeInteger(rootSeed)) throw new RangeError(`seed must be a safe integer, got ${rootSeed}`);
  return new SeededRandom((rootSeed | 0) === rootSeed ? rootSeed : deriveSeed(rootSeed, 'root'));
}

/** A 32-bit finalizer (murmur3 fmix32): nearby seeds become unrelated states. */
function scramble(seed: number): number {
  let h = seed | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}
