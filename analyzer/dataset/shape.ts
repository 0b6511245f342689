/**
 * The shape of generated event logs, as production logs have it: key popularity following a Zipf law
 * (YCSB's default skew 0.99), event times following a daily rate cycle (busy afternoons, quiet
 * nights), and payload sizes with a heavy tail (log-normal). Everything draws from an injected
 * `Random`, so a dataset is a function of its seed.
 */
import type { Random } from '../../src/random/random.ts';

export const DAY_MS = 86_400_000;

export interface DailyCycle {
  /** First instant of the span (ms since the epoch). */
  readonly startMs: number;
  /** Length of the span (ms). */
  readonly spanMs: number;
  /** Relative swing of the rate around its mean, in [0, 1): 0.6 → the peak is 4× the trough. */
  readonly amplitude: number;
  /** Hour of the day (UTC) at which the rate peaks. */
  readonly peakHour: number;
}

/** Samples ranks 0..n-1 with P(rank k) ∝ 1/(k+1)^skew; skew 0 is uniform. */
export class ZipfSampler {
  private readonly cdf: Float64Array;

  constructor(
    readonly n: number,
    readonly skew: number,
  ) {
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`Zipf: n must be a positive integer, got ${n}`);
    if (!Number.isFinite(skew) || skew < 0) throw new RangeError(`Zipf: skew must be a finite number >= 0, got ${skew}`);
    this.cdf = new Float64Array(n);
    let total = 0;
    for (let k = 0; k < n; k++) this.cdf[k] = total += (k + 1) ** -skew;
    for (let k = 0; k < n; k++) this.cdf[k] = (this.cdf[k] as number) / total;
  }

  /** Probability of rank k (for tests and reports). */
  probability(k: number): number {
    return (this.cdf[k] as number) - (k === 0 ? 0 : (this.cdf[k - 1] as number));
  }

  sample(random: Random): number {
    const u = random.float();
    let lo = 0;
    let hi = this.n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.cdf[mid] as number) <= u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/**
 * `count` event times in [startMs, startMs + spanMs), non-decreasing, as a Poisson process whose rate
 * follows `1 + amplitude·cos(2π(t − peak)/day)`: uniform order statistics (normalised exponential
 * gaps) mapped through the inverse of the cumulative rate, so the daily shape holds at any count.
 */
export function dailyCycleTimes(count: number, cycle: DailyCycle, random: Random): Float64Array {
  const { startMs, spanMs, amplitude } = cycle;
  if (!(amplitude >= 0 && amplitude < 1)) throw new RangeError(`daily cycle: amplitude must be in [0, 1), got ${amplitude}`);
  const times = new Float64Array(count);
  // Order statistics of `count` uniforms: cumulative exponential gaps, normalised by one more gap.
  let sum = 0;
  for (let i = 0; i < count; i++) times[i] = sum += -Math.log(1 - random.float());
  const norm = sum - Math.log(1 - random.float());
  const phase = ((startMs - cycle.peakHour * 3_600_000) % DAY_MS) / DAY_MS; // day fraction at start, from the peak
  const w = (2 * Math.PI) / DAY_MS;
  const a = amplitude / w;
  // Cumulative rate from the start: Λ(t) = t + a·(sin(w·t + θ) − sin θ); Λ is strictly increasing.
  const theta = 2 * Math.PI * phase;
  const cumulative = (t: number) => t + a * (Math.sin(w * t + theta) - Math.sin(theta));
  const total = cumulative(spanMs);
  let t = 0;
  for (let i = 0; i < count; i++) {
    const target = ((times[i] as number) / norm) * total;
    // Newton from the previous solution (targets increase); Λ' ≥ 1 − amplitude > 0, so it converges fast.
    for (let step = 0; step < 8; step++) {
      const f = cumulative(t) - target;
      const next = t - f / (1 + amplitude * Math.cos(w * t + theta));
      if (Math.abs(next - t) < 0.25) {
        t = next;
        break;
      }
      t = next;
    }
    t = Math.min(Math.max(t, 0), spanMs - 1);
    times[i] = startMs + Math.floor(t);
    if (i > 0 && (times[i] as number) < (times[i - 1] as number)) times[i] = times[i - 1] as number;
  }
  return times;
}

/** A standard normal draw (Box–Muller). */
export function normal(random: Random): number {
  const u = 1 - random.float();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random.float());
}

/** A log-normal length with the given median and shape σ, clamped to [min, max]: a few events are much larger. */
export function logNormalLength(random: Random, median: number, sigma: number, min: number, max: number): number {
  const x = Math.round(median * Math.exp(sigma * normal(random)));
  return x < min ? min : x > max ? max : x;
}

/**
 * Filler text of a given length, cut from one fixed pseudo-random corpus at a random offset: cheap
 * (no per-character draws) and not trivially compressible.
 */
export class FillerText {
  private readonly corpus: string;

  constructor(random: Random, readonly maxLength: number) {
    const words = ['ledger', 'order', 'refund', 'coffee', 'rent', 'salary', 'gift', 'invoice', 'split', 'bill', 'travel', 'fee', 'book', 'repair', 'lunch', 'tax', 'ticket', 'q3', 'march', 'thanks'];
    const parts: string[] = [];
    let length = 0;
    while (length < 2 * maxLength + 64) {
      const w = words[random.int(0, words.length - 1)] as string;
      parts.push(w);
      length += w.length + 1;
    }
    this.corpus = parts.join(' ');
  }

  take(random: Random, length: number): string {
    const n = Math.min(length, this.maxLength);
    const at = random.int(0, this.corpus.length - n);
    return this.corpus.slice(at, at + n);
  }
}
