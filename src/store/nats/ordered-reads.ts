/**
 * Reading a JetStream stream in order through an ordered consumer (ephemeral, flow-controlled, recreated
 * by the client at the right sequence if a message goes missing). Two modes:
 * - bounded: up to the newest message matching the filter when the read starts, then stop. The end is
 *   that message's stream sequence, not the consumer's `num_pending`: NATS 2.9 sometimes over-counts
 *   num_pending for filtered consumers started mid-stream (seen here: 3 pending, 2 delivered, and a
 *   read that never ended).
 * - live: then keep delivering new messages until the signal aborts or the store closes.
 * A read the reader did not abort never just stops short: a bounded read cut off by the store closing
 * fails with CLOSED, and any read whose connection closed under it with UNAVAILABLE.
 * Messages come out in chunks: whatever arrived since the reader last looked (at most `chunk`), so a
 * tailing reader gets each commit as it lands and a reader behind gets many messages per step. The
 * client hands messages to a callback, not an async iterator: the iterator costs a promise and a
 * generator step per message, a large share of a read of small messages. The iterator's flow control
 * goes with it, so reads pause and resume on their own (PAUSE_AT_MESSAGES).
 */
import { DeliverPolicy, type Consumer, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg, type OrderedConsumerOptions } from '@nats-io/jetstream';
import { ClosedError, UnavailableError } from '../../model/errors.ts';
import { unavailable } from './nats-errors.ts';

export interface OrderedRead {
  readonly stream: string;
  /** Subject filter (one: JetStream 2.9 has no multi-filter consumers). */
  readonly filter: string;
  /** First stream sequence to deliver (default 1). */
  readonly startSeq?: number;
  /** Only the newest message per subject (KV buckets). */
  readonly lastPerSubject?: boolean;
  /** Deliver headers (and `Nats-Msg-Size`) without payloads. */
  readonly headersOnly?: boolean;
  readonly live?: boolean;
  readonly signal?: AbortSignal;
  /** Largest chunk (default 1024 messages). */
  readonly chunk?: number;
  /** Pause when this many messages wait for the reader (default PAUSE_AT_MESSAGES; tests set it low). */
  readonly pauseAtMessages?: number;
  /**
   * Bounded reads: start the consumer while looking up the end, which saves a round trip. For reads
   * that are seldom empty (a whole stream): one with nothing to read still creates a consumer, and
   * deletes it in the background, server work that delays the reads after it (a read of one shard is
   * often of a shard not written yet, so shard reads look up first).
   */
  readonly eager?: boolean;
}

/**
 * The client's pull buffer: 1024 messages in flight per read, enough to stream without stalling on
 * round trips. (Counted in messages: the client's byte-bounded pulls measured about half as fast
 * here. Worst case, with every message at the 1 MiB max_payload, that is 1 GiB per reader.)
 */
export const PULL_BUFFER = { max_messages: 1024 } as const;

/** Live reads register here so that closing the store ends them. */
export class ReadRegistry {
  private readonly stops = new Set<() => void>();
  add(stop: () => void): () => void {
    this.stops.add(stop);
    return () => this.stops.delete(stop);
  }
  stopAll(): void {
    for (const stop of [...this.stops]) stop();
  }
}

/**
 * Most messages a read holds delivered but not yet handed out before it pauses. The client's callback
 * mode has no flow control of its own (it asks for more as messages arrive, not as they are used), so
 * a read whose reader falls behind stops its consumer here and starts a new one where the buffer
 * ends once the reader has caught up: memory stays bounded by this plus the pull buffer in flight.
 * A reader that keeps up rarely pauses: messages arrive only when the event loop turns. Each pause
 * deletes its consumer on the server (else it would linger there for the client's 5-minute
 * inactivity threshold, one per pause).
 */
export const PAUSE_AT_MESSAGES = 2 * PULL_BUFFER.max_messages;

/** One consumer of a read (a read that pauses has several, one after the other). */
interface Run {
  readonly consumer: Consumer;
  readonly messages: ConsumerMessages;
  /** Set when the consumer stopped: by us (pause, signal, close) or by a failure (`failure`). */
  ended: boolean;
  failure: unknown;
}

export async function* orderedChunks(js: JetStreamClient, jsm: JetStreamManager, read: OrderedRead, registry: ReadRegistry): AsyncIterable<JsMsg[]> {
  const what = `reading ${read.filter} from JetStream stream ${read.stream}`;
  if (read.signal?.aborted) return;
  let endSeq = Number.POSITIVE_INFINITY;
  /** Delivered, not yet handed out; swapped for a fresh array at each hand-out. */
  let buffered: JsMsg[] = [];
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  /** The stream sequence to resume from after a pause: the one after the last message delivered. */
  let nextSeq = read.startSeq ?? 1;
  /** Last-per-subject reads cannot resume mid-way (they are small: KV listings); they never pause. */
  const canPause = read.lastPerSubject !== true;
  const pauseAt = read.pauseAtMessages ?? PAUSE_AT_MESSAGES;
  let paused = false;
  let stopped = false;
  let storeClosed = false;

  const start = async (): Promise<Run> => {
    const options: Partial<OrderedConsumerOptions> = {
      filter_subjects: read.filter,
      deliver_policy: read.lastPerSubject ? DeliverPolicy.LastPerSubject : nextSeq <= 1 ? DeliverPolicy.All : DeliverPolicy.StartSequence,
      ...(read.lastPerSubject || nextSeq <= 1 ? {} : { opt_start_seq: nextSeq }),
      ...(read.headersOnly ? { headers_only: true } : {}),
    };
    const consumer = await js.consumers.get(read.stream, options);
    let active = true;
    let messages: ConsumerMessages | undefined;
    messages = await consumer.consume({
      ...PULL_BUFFER,
      callback: (msg) => {
        // After a pause, stragglers of the stopped consumer are dropped: the next one delivers them again.
        if (!active) return;
        buffered.push(msg);
        nextSeq = msg.seq + 1;
        if (canPause && buffered.length >= pauseAt) {
          active = false;
          paused = true;
          // Not from inside the client's callback: it still has bookkeeping (and maybe a pull) to do.
          queueMicrotask(() => messages?.stop());
        }
        notify();
      },
    });
    const run: Run = { consumer, messages, ended: false, failure: undefined };
    const end = (e: unknown): void => {
      run.ended = true;
      run.failure = e ?? undefined;
      notify();
    };
    void messages.closed().then(end, end);
    return run;
  };

  let run: Run;
  try {
    if (read.live === true) run = await start();
    else if (read.eager !== true) {
      const last = await jsm.streams.getMessage(read.stream, { last_by_subj: read.filter });
      if (last === null || last.seq < nextSeq) return;
      endSeq = last.seq;
      run = await start();
    } else {
      // Eager: the end and the consumer asked for at once (the end first, so that an empty read is
      // answered as soon). Messages the consumer delivers meanwhile wait in `buffered`; any past the
      // end are dropped.
      const lastMessage = jsm.streams.getMessage(read.stream, { last_by_subj: read.filter });
      const starting = start();
      // Handled here too: it may fail while the end is awaited (an unhandled rejection ends the process).
      void starting.catch(() => undefined);
      let last;
      try {
        last = await lastMessage;
      } catch (e) {
        discard(starting);
        throw e;
      }
      if (last === null || last.seq < nextSeq) {
        discard(starting);
        return;
      }
      endSeq = last.seq;
      run = await starting;
    }
  } catch (e) {
    throw unavailable(what, e);
  }
  const stop = (): void => {
    stopped = true;
    run.messages.stop();
  };
  const unregister = registry.add(() => {
    storeClosed = true;
    stop();
  });
  read.signal?.addEventListener('abort', stop, { once: true });
  const chunkMax = read.chunk ?? 1024;
  try {
    for (;;) {
      if (buffered.length === 0) {
        if (paused && !stopped) {
          // The reader caught up: resume where the buffer ended.
          await run.messages.close().catch(() => undefined);
          await run.consumer.delete().catch(() => undefined);
          paused = false;
          try {
            run = await start();
          } catch (e) {
            throw unavailable(what, e);
          }
          if (stopped) run.messages.stop();
          continue;
        }
        if (run.ended) break;
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      const taken = buffered;
      buffered = [];
      // Messages past the end of a bounded read are dropped (the consumer is stopped right after).
      let end = taken.length;
      let done = false;
      if ((taken[end - 1] as JsMsg).seq >= endSeq) {
        end = taken.findIndex((m) => m.seq >= endSeq) + 1;
        done = true;
      }
      for (let from = 0; from < end; from += chunkMax) {
        yield from === 0 && end === taken.length && end <= chunkMax ? taken : taken.slice(from, Math.min(end, from + chunkMax));
        if (read.signal?.aborted) return;
      }
      if (done) return;
    }
    // The consumer never ends by itself: it was stopped before the end of a bounded read, or under a
    // live one by something other than its reader. Either way the reader must not take it for the end.
    if (run.failure !== undefined) throw unavailable(what, run.failure);
    if (read.signal?.aborted || (storeClosed && read.live === true)) return;
    if (storeClosed) throw new ClosedError(`the store was closed while ${what}`);
    throw new UnavailableError(what, 'the connection closed before the read ended');
  } finally {
    read.signal?.removeEventListener('abort', stop);
    unregister();
    run.messages.stop();
    await run.messages.close().catch(() => undefined);
  }
}

/**
 * Stops and deletes, in the background, a consumer a read started but does not need (nothing to read,
 * or the end could not be found): the reader is not kept waiting for it, and it does not linger on the
 * server until its inactivity threshold.
 */
function discard(starting: Promise<Run>): void {
  void starting
    .then(async (run) => {
      run.messages.stop();
      await run.consumer.delete();
    })
    .catch(() => undefined);
}
