/**
 * Tailing, shared by stores that notify on commit: catch up by reading, then sleep until the next
 * commit (or abort/close) and read again. No polling, no timers.
 */
import type { GlobalPosition, StoredEvent } from '../model/event.ts';
import type { SubscribeOptions } from './event-store.ts';
import { validateBatchSize, validateStream } from './validate.ts';

export class CommitSignal {
  private waiters: Array<() => void> = [];
  private closed = false;

  /** Wakes every waiter; called after each durable commit and on close. */
  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  close(): void {
    this.closed = true;
    this.notify();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Calls `wake` once, on the next notify (at once when closed). Cheaper than `next` for a loop that waits many times. */
  wait(wake: () => void): void {
    if (this.closed) wake();
    else this.waiters.push(wake);
  }

  /** Resolves on the next notify, or at once when closed or aborted. */
  next(signal?: AbortSignal): Promise<void> {
    if (this.closed || signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.waiters.push(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}

export type ReadFrom = (fromPosition: GlobalPosition, batchSize: number) => AsyncIterable<StoredEvent[]>;

export async function* subscribeWith(
  options: SubscribeOptions | undefined,
  signal: CommitSignal,
  lastPosition: () => GlobalPosition,
  readFrom: (stream: string | undefined) => ReadFrom,
): AsyncIterable<StoredEvent[]> {
  if (options?.stream !== undefined) validateStream(options.stream);
  const batchSize = validateBatchSize(options?.batchSize);
  const read = readFrom(options?.stream);
  let next = options?.fromPosition ?? 1;
  const abort = options?.signal;
  // One abort listener for the whole subscription, not one per wait: a tailing reader waits once per commit.
  let wake: (() => void) | undefined;
  const onAbort = () => wake?.();
  abort?.addEventListener('abort', onAbort, { once: true });
  try {
    while (!abort?.aborted && !signal.isClosed) {
      // Register interest before reading, so a commit landing mid-read still wakes us.
      const woken = new Promise<void>((resolve) => {
        wake = resolve;
        signal.wait(resolve);
      });
      const upTo = lastPosition();
      if (next <= upTo) {
        for await (const batch of read(next, batchSize)) {
          if (abort?.aborted) return;
          if (batch.length > 0) {
            next = (batch[batch.length - 1] as StoredEvent).position + 1;
            yield batch;
          }
        }
        next = Math.max(next, upTo + 1);
        continue;
      }
      await woken;
    }
  } finally {
    abort?.removeEventListener('abort', onAbort);
  }
}
