/**
 * One input stream of a runner, read through the store's subscription (catch up, then tail) with a
 * one-event lookahead, so the runner can merge several inputs by event time.
 */
import type { StoredEvent } from '../model/event.ts';
import type { EventStore } from '../store/event-store.ts';

export class InputCursor {
  private buffer: StoredEvent[] = [];
  private index = 0;
  private pending: Promise<void> | undefined;
  private ended = false;
  private readonly iterator: AsyncIterator<StoredEvent[]>;
  /** Position of the last event taken (0 before the first). */
  lastPosition: number;
  /** Event time of the last event taken, null before the first. */
  lastTime: number | null = null;
  /** Why reading stopped, when it stopped on an error (a store fault, say). */
  failure: unknown;
  /** Highest position buffered so far. */
  private seenPosition: number;

  constructor(
    store: EventStore,
    readonly stream: string,
    /** Position of the last event already consumed: reading starts after it. */
    consumedPosition: number,
    signal: AbortSignal,
    batchSize = 1000,
  ) {
    this.lastPosition = consumedPosition;
    this.seenPosition = consumedPosition;
    this.iterator = store.subscribe({ stream, fromPosition: consumedPosition + 1, signal, batchSize })[Symbol.asyncIterator]();
  }

  /** The next event, if one is buffered. */
  head(): StoredEvent | undefined {
    return this.buffer[this.index];
  }

  /** Position of the last event read from the store (taken or buffered). */
  get readPosition(): number {
    return this.seenPosition;
  }

  /** True when an app event (not a `$` platform event) is buffered and not yet taken. */
  hasBufferedWork(): boolean {
    for (let i = this.index; i < this.buffer.length; i++) if (!(this.buffer[i] as StoredEvent).type.startsWith('$')) return true;
    return false;
  }

  /** Takes the head. */
  take(): StoredEvent {
    const e = this.buffer[this.index++];
    if (e === undefined) throw new Error(`input ${this.stream}: take() without a head`);
    this.lastPosition = e.position;
    this.lastTime = e.time;
    return e;
  }

  get isEnded(): boolean {
    return this.ended && this.head() === undefined;
  }

  /** Resolves when more events are buffered or the subscription ended (aborted or store closed). */
  fill(): Promise<void> {
    if (this.head() !== undefined || this.ended) return Promise.resolve();
    this.pending ??= this.iterator.next().then(
      (r) => {
        this.pending = undefined;
        if (r.done) this.ended = true;
        else {
          // Deliveries may repeat (a retried read, a duplicated message): keep only what is new.
          // Batches come in position order, so a batch whose first event is new is all new, and is
          // kept as it is (the cursor only reads it): no copy per batch.
          const batch = r.value;
          const fresh = batch.length === 0 || (batch[0] as StoredEvent).position > this.seenPosition && ascending(batch) ? batch : batch.filter((e) => e.position > this.seenPosition);
          if (fresh.length > 0) this.seenPosition = (fresh[fresh.length - 1] as StoredEvent).position;
          this.buffer = fresh;
          this.index = 0;
        }
      },
      (e: unknown) => {
        // Reported through `failure`, so a race over several cursors never leaves a rejection unhandled.
        this.pending = undefined;
        this.ended = true;
        this.failure = e;
      },
    );
    return this.pending;
  }

  async close(): Promise<void> {
    await this.iterator.return?.();
  }
}

/** True when positions rise through `batch` (what a subscription delivers; checked, as it is cheap). */
function ascending(batch: readonly StoredEvent[]): boolean {
  for (let i = 1; i < batch.length; i++) if ((batch[i] as StoredEvent).position <= (batch[i - 1] as StoredEvent).position) return false;
  return true;
}
