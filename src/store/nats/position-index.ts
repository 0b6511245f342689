/**
 * From a global position to the stream sequence of the message holding it. Every message carries its
 * first position in a header, positions grow with sequences and messages are never deleted (the stream
 * denies deletes), so a binary search over sequences finds it in log2(messages) direct reads.
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import { readPlacement } from './event-message.ts';
import { unavailable } from './nats-errors.ts';

/**
 * The largest sequence whose message starts at or before `position` (1 when `position` <= 1; the
 * sequence after the last when `position` is past the end). Reading from it and dropping events
 * before `position` reads exactly from `position`.
 */
export async function sequenceOfPosition(jsm: JetStreamManager, stream: string, position: number): Promise<number> {
  if (position <= 1) return 1;
  const firstPositionAt = async (seq: number): Promise<{ first: number; last: number } | undefined> => {
    let msg;
    try {
      msg = await jsm.streams.getMessage(stream, { seq });
    } catch (e) {
      throw unavailable(`locating position ${position} in JetStream stream ${stream}`, e);
    }
    if (msg === null) return undefined;
    const p = readPlacement(msg.subject, msg.seq, msg.header);
    return { first: p.firstPosition, last: p.firstPosition + p.count - 1 };
  };
  let lastSeq: number;
  try {
    lastSeq = (await jsm.streams.info(stream)).state.last_seq;
  } catch (e) {
    throw unavailable(`locating position ${position} in JetStream stream ${stream}`, e);
  }
  if (lastSeq === 0) return 1;
  const tail = await firstPositionAt(lastSeq);
  if (tail === undefined || tail.last < position) return lastSeq + 1;
  // Invariant: first(lo) <= position (seq 1 starts at position 1), and hi is past the answer.
  let lo = 1;
  // Not min(lastSeq, position): lease-table messages hold no events, so sequences can outrun positions.
  let hi = lastSeq + 1;
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const at = await firstPositionAt(mid);
    if (at !== undefined && at.first <= position) lo = mid;
    else hi = mid;
  }
  return lo;
}
