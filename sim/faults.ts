/**
 * The fault plan: one typed, documented object. Every probability is per operation; every interval
 * is a mean in simulated ms (exponentially distributed, each kind from its own random stream). Faults
 * are injected only within a window of the workload's arrival period — from `startFraction` to
 * `untilFraction` of it; after that the system must heal and quiesce (liveness is checked then). Presets: `none`, `default`, `swarm` (the seed also draws which faults
 * are on and how often, as TigerBeetle's VOPR does).
 */
import type { Random } from '../src/random/random.ts';

export interface RangeMs {
  readonly min: number;
  readonly max: number;
}

export interface FaultOptions {
  /** One-way latency of every call between a node and the store. */
  readonly latencyMs: RangeMs;
  /** A call is answered late by this much extra, with this probability ("slow store"). */
  readonly slow: { readonly probability: number; readonly extraMs: RangeMs };
  /** A request is lost: the caller gets UNAVAILABLE after `timeoutMs`; nothing happened. */
  readonly requestLost: number;
  /** The store did the work but the reply was lost: the caller gets UNAVAILABLE after `timeoutMs`. */
  readonly replyLost: number;
  /** A subscription batch is delivered twice (readers must ignore what they have seen). */
  readonly duplicateDelivery: number;
  /** How long a caller waits for a lost request or reply before it gives up. */
  readonly timeoutMs: number;
  /** The whole store is unavailable for a while (every call fails). */
  readonly storeOutage: { readonly meanIntervalMs: number; readonly durationMs: RangeMs } | null;
  /** The store's machine loses power (embedded store only): unsynced writes are lost or torn; it restarts. */
  readonly storeCrash: { readonly meanIntervalMs: number; readonly downtimeMs: RangeMs } | null;
  /** One runner is cut off from the store for a while (its calls fail). */
  readonly partition: { readonly meanIntervalMs: number; readonly durationMs: RangeMs } | null;
  /** A runner crashes (loses its memory, keeps nothing but what the store has) and restarts later. */
  readonly crash: { readonly meanIntervalMs: number; readonly downtimeMs: RangeMs } | null;
  /** A runner freezes (a long GC pause): its lease may expire and a standby take over, fencing it. */
  readonly pause: { readonly meanIntervalMs: number; readonly durationMs: RangeMs } | null;
  /** Per runner: a fixed clock offset in [-maxSkewMs, maxSkewMs] and a rate error in [-maxDriftPpm, maxDriftPpm]. */
  readonly clock: { readonly maxSkewMs: number; readonly maxDriftPpm: number };
  /** Gateway calls: fail with an error, time out without effect, or take effect but lose the reply. */
  readonly gateway: { readonly error: number; readonly timeout: number; readonly replyLost: number; readonly latencyMs: RangeMs };
  /** When faults begin, as a fraction of the workload's arrival period (0: from the start). */
  readonly startFraction: number;
  /** When faults stop, as a fraction of the arrival period (1: at the last arrival); then the system heals. */
  readonly untilFraction: number;
}

export const NO_FAULTS: FaultOptions = {
  latencyMs: { min: 1, max: 5 },
  slow: { probability: 0, extraMs: { min: 0, max: 0 } },
  requestLost: 0,
  replyLost: 0,
  duplicateDelivery: 0,
  timeoutMs: 1000,
  storeOutage: null,
  storeCrash: null,
  partition: null,
  crash: null,
  pause: null,
  clock: { maxSkewMs: 0, maxDriftPpm: 0 },
  gateway: { error: 0, timeout: 0, replyLost: 0, latencyMs: { min: 1, max: 20 } },
  startFraction: 0,
  untilFraction: 1,
};

export const DEFAULT_FAULTS: FaultOptions = {
  latencyMs: { min: 1, max: 10 },
  slow: { probability: 0.01, extraMs: { min: 50, max: 500 } },
  requestLost: 0.002,
  replyLost: 0.002,
  duplicateDelivery: 0.01,
  timeoutMs: 1000,
  storeOutage: { meanIntervalMs: 20_000, durationMs: { min: 500, max: 5000 } },
  storeCrash: { meanIntervalMs: 15_000, downtimeMs: { min: 100, max: 3000 } },
  partition: { meanIntervalMs: 15_000, durationMs: { min: 500, max: 8000 } },
  crash: { meanIntervalMs: 8000, downtimeMs: { min: 100, max: 5000 } },
  pause: { meanIntervalMs: 15_000, durationMs: { min: 2000, max: 12_000 } },
  clock: { maxSkewMs: 2000, maxDriftPpm: 200 },
  gateway: { error: 0.05, timeout: 0.02, replyLost: 0.02, latencyMs: { min: 5, max: 100 } },
  startFraction: 0,
  untilFraction: 1,
};

export type FaultPreset = 'none' | 'default' | 'swarm';

/** Swarm testing: each seed turns each fault on or off and draws how often it fires. */
export function swarmFaults(random: Random): FaultOptions {
  const on = () => random.chance(0.5);
  const p = (max: number) => (on() ? random.float() * max : 0);
  const every = (minMs: number, maxMs: number) => random.int(minMs, maxMs);
  return {
    latencyMs: { min: 1, max: random.int(2, 50) },
    slow: { probability: p(0.05), extraMs: { min: 10, max: random.int(100, 3000) } },
    requestLost: p(0.02),
    replyLost: p(0.02),
    duplicateDelivery: p(0.05),
    timeoutMs: random.int(200, 3000),
    storeOutage: on() ? { meanIntervalMs: every(2000, 30_000), durationMs: { min: 100, max: random.int(500, 10_000) } } : null,
    storeCrash: on() ? { meanIntervalMs: every(2000, 30_000), downtimeMs: { min: 50, max: random.int(200, 5000) } } : null,
    partition: on() ? { meanIntervalMs: every(1000, 20_000), durationMs: { min: 100, max: random.int(500, 15_000) } } : null,
    crash: on() ? { meanIntervalMs: every(1000, 20_000), downtimeMs: { min: 10, max: random.int(100, 10_000) } } : null,
    pause: on() ? { meanIntervalMs: every(1000, 20_000), durationMs: { min: 100, max: random.int(1000, 20_000) } } : null,
    clock: { maxSkewMs: on() ? random.int(0, 10_000) : 0, maxDriftPpm: on() ? random.int(0, 2000) : 0 },
    gateway: { error: p(0.2), timeout: p(0.1), replyLost: p(0.1), latencyMs: { min: 1, max: random.int(10, 1000) } },
    startFraction: 0,
    untilFraction: 1,
  };
}

/** Fault names counted in a run's result. */
export const FAULT_KINDS = [
  'slow',
  'requestLost',
  'replyLost',
  'duplicateDelivery',
  'storeOutage',
  'storeCrash',
  'partition',
  'crash',
  'pause',
  'gatewayError',
  'gatewayTimeout',
  'gatewayReplyLost',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * Resolves `--faults`: a preset name, or a (partial) FaultOptions object as JSON; fields not given
 * keep the default preset's values (or `none`'s, when `"base": "none"` is given). Throws naming the field.
 */
export function resolveFaults(spec: FaultPreset | Partial<FaultOptions> & { base?: FaultPreset }, random: Random): FaultOptions {
  if (spec === 'none') return NO_FAULTS;
  if (spec === 'default') return DEFAULT_FAULTS;
  if (spec === 'swarm') return swarmFaults(random);
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new TypeError('faults: expected none, default, swarm or a JSON object');
  const { base, ...rest } = spec;
  const start = base === undefined ? DEFAULT_FAULTS : resolveFaults(base, random);
  for (const key of Object.keys(rest)) {
    if (!(key in NO_FAULTS)) throw new TypeError(`faults.${key}: unknown fault option (known: ${Object.keys(NO_FAULTS).join(', ')})`);
  }
  return { ...start, ...rest } as FaultOptions;
}

/** A value in [min, max]. */
export function draw(random: Random, range: RangeMs): number {
  return range.min + random.float() * (range.max - range.min);
}

/** An exponentially distributed interval with the given mean. */
export function exponential(random: Random, meanMs: number): number {
  return -Math.log(1 - random.float()) * meanMs;
}
