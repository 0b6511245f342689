/**
 * Inside a simulation, app code (handlers, workloads) that reaches for ambient time or randomness
 * would silently break replay. While a simulation runs, the ambient sources throw a
 * DeterminismViolationError naming the call and who made it; the simulation reports it as a violation.
 */

export class DeterminismViolationError extends Error {
  override name = 'DeterminismViolationError';
  constructor(
    readonly call: string,
    readonly actor: string,
  ) {
    super(`${actor} called ${call} during simulation: use ctx.time / ctx.random (handlers) or the workload's random, never ambient time or randomness`);
  }
}

/** Who is running app code right now (set around handler and workload calls). */
export const currentActor = { name: 'the platform' };

export interface Guard {
  /** The first violation seen (also thrown at the call site). */
  readonly violation: DeterminismViolationError | undefined;
  /** The real monotonic clock (ms), for timing phases from outside the simulated world. */
  wallMs(): number;
  uninstall(): void;
}

export function installDeterminismGuard(): Guard {
  const state: { violation: DeterminismViolationError | undefined } = { violation: undefined };
  const trap = (call: string) => () => {
    const error = new DeterminismViolationError(call, currentActor.name);
    state.violation ??= error;
    throw error;
  };
  const g = globalThis as unknown as Record<string, unknown>;
  const OriginalDate = Date;
  const saved = {
    DateNow: Date.now,
    random: Math.random,
    setTimeout: g.setTimeout,
    setInterval: g.setInterval,
    performanceNow: performance.now,
    randomUUID: globalThis.crypto?.randomUUID,
    Date: g.Date,
  };
  const GuardedDate = function (this: unknown, ...args: unknown[]) {
    if (args.length === 0) trap('new Date()')();
    return new (OriginalDate as unknown as new (...a: unknown[]) => Date)(...args);
  } as unknown as DateConstructor;
  Object.setPrototypeOf(GuardedDate, OriginalDate);
  (GuardedDate as unknown as { prototype: Date }).prototype = OriginalDate.prototype;
  GuardedDate.now = trap('Date.now()');
  Math.random = trap('Math.random()');
  g.setTimeout = trap('setTimeout()');
  g.setInterval = trap('setInterval()');
  performance.now = trap('performance.now()');
  if (globalThis.crypto !== undefined) (globalThis.crypto as { randomUUID: unknown }).randomUUID = trap('crypto.randomUUID()');
  g.Date = GuardedDate;
  return {
    get violation() {
      return state.violation;
    },
    wallMs: () => saved.performanceNow.call(performance),
    uninstall() {
      Date.now = saved.DateNow;
      Math.random = saved.random;
      g.setTimeout = saved.setTimeout;
      g.setInterval = saved.setInterval;
      performance.now = saved.performanceNow;
      if (globalThis.crypto !== undefined) (globalThis.crypto as { randomUUID: unknown }).randomUUID = saved.randomUUID;
      g.Date = saved.Date;
    },
  };
}
