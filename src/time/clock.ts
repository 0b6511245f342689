/**
 * Time is injected. Production wires `realClock`; the simulator wires its scheduler's clock.
 * Nothing in src/ or sim/ reads the wall clock except through this interface.
 */
export interface Clock {
  /** Current time in ms since the epoch (wall time for timestamps, leases, status lines). */
  nowMs(): number;
  /** Monotonic time in ms from an arbitrary origin (for measuring durations). */
  monotonicMs(): number;
}

export const realClock: Clock = {
  nowMs: () => Date.now(),
  monotonicMs: () => performance.now(),
};

/** A clock that only moves when told to: for tests. */
export class ManualClock implements Clock {
  constructor(private timeMs = 0) {}
  nowMs(): number {
    return this.timeMs;
  }
  monotonicMs(): number {
    return this.timeMs;
  }
  advance(ms: number): void {
    this.timeMs += ms;
  }
  set(ms: number): void {
    this.timeMs = ms;
  }
}
