/**
 * Timers are injected, like the clock: the simulator fires them in simulated time.
 */
export interface TimerHandle {
  cancel(): void;
}

export interface Timers {
  /** Calls `fn` once after `delayMs`. */
  after(delayMs: number, fn: () => void): TimerHandle;
  /** Resolves after `delayMs`, or rejects with the signal's reason when aborted first. */
  sleep(delayMs: number, signal?: AbortSignal): Promise<void>;
}

export const realTimers: Timers = timersFrom((delayMs, fn) => {
  const t = setTimeout(fn, delayMs);
  return { cancel: () => clearTimeout(t) };
});

/** Timers from a one-shot `after`: `sleep` is the same for every implementation (real, manual, simulated). */
export function timersFrom(after: (delayMs: number, fn: () => void) => TimerHandle): Timers {
  return {
    after,
    sleep(delayMs: number, signal?: AbortSignal): Promise<void> {
      return new Promise((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        const onAbort = () => {
          handle.cancel();
          reject(signal?.reason);
        };
        const handle = after(delayMs, () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        });
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
  };
}
