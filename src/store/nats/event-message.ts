/**
 * One appended batch = one JetStream message on its shard's subject. A single message is the only
 * all-or-nothing write JetStream 2.9 has (atomic multi-message batches arrived in 2.12), so this is
 * what makes `append` atomic. Its cost: a batch must fit the server's max_payload (1 MiB by default),
 * and readers decode a whole message even when they start in its middle.
 *
 * Payload: format 3 (batch-format.ts) is written; formats 2 and 1 (batch-format-v2.ts, -v1.ts) are
 * still read, so a store may hold all three, in any order. Readers use the payload only. Headers: the placement again, so that writers and `stats` read heads and
 * positions without payloads, and `Spive-Format`, the payload's format.
 */
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import { CorruptDataError } from '../../model/errors.ts';
import type { StoredEvent } from '../../model/event.ts';
import { decodeBatchV3, FORMAT_3, hasMagic, type EncodedBatch, type EventFilter, type MessageAt } from './batch-format.ts';
import { decodeBatchV1 } from './batch-format-v1.ts';
import { decodeBatchV2, FORMAT_2 } from './batch-format-v2.ts';

export { ALL_EVENTS, batchPayload, checkSize, encodeBatch, type EncodedBatch, type EventFilter, type MessageAt } from './batch-format.ts';

/** The format new messages are written in (`Spive-Format`); READ_FORMATS are those this version reads. */
export const MESSAGE_FORMAT = String(FORMAT_3);
const READ_FORMATS: readonly string[] = ['1', String(FORMAT_2), MESSAGE_FORMAT];

/** Header names. `Spive-Pos`/`Spive-Count` on a lease message: the next position, and 0. */
export const H = {
  format: 'Spive-Format',
  /** Global position of the first event (contiguous across the whole store). */
  position: 'Spive-Pos',
  /** Shard seq of the first event. */
  seq: 'Spive-Seq',
  count: 'Spive-Count',
  /** Event time of the batch's last event (the shard head's lastTime). */
  lastTime: 'Spive-Last-Time',
  minTime: 'Spive-Min-Time',
  maxTime: 'Spive-Max-Time',
} as const;

/** What the headers of a message say about where it sits; `count` is 0 for a lease table. */
export interface Placement {
  /** JetStream stream sequence of the message. */
  readonly streamSeq: number;
  readonly firstPosition: number;
  readonly firstSeq: number;
  readonly count: number;
  readonly lastTime: number | null;
  readonly minTime: number | null;
  readonly maxTime: number | null;
}

/** Headers of a batch placed at `firstPosition` / `firstSeq`. */
export function batchHeaders(batch: EncodedBatch, firstPosition: number, firstSeq: number): MsgHdrs {
  const h = natsHeaders();
  h.set(H.format, MESSAGE_FORMAT);
  h.set(H.position, String(firstPosition));
  h.set(H.seq, String(firstSeq));
  h.set(H.count, String(batch.count));
  h.set(H.lastTime, String(batch.lastTime));
  h.set(H.minTime, String(batch.minTime));
  h.set(H.maxTime, String(batch.maxTime));
  return h;
}

/** Headers of a message that holds no events (a lease table): it only carries the position forward. */
export function controlHeaders(nextPosition: number): MsgHdrs {
  const h = natsHeaders();
  h.set(H.format, MESSAGE_FORMAT);
  h.set(H.position, String(nextPosition));
  h.set(H.count, '0');
  return h;
}

/** Reads a message's placement from its headers; CORRUPT when they are missing or malformed. */
export function readPlacement(subject: string, streamSeq: number, h: MsgHdrs | undefined): Placement {
  const format = h?.get(H.format) ?? '';
  if (h === undefined || !READ_FORMATS.includes(format)) {
    throw new CorruptDataError(subject, streamSeq, `message format ${JSON.stringify(format)} is not one this version of Spive reads (${READ_FORMATS.join(', ')})`);
  }
  const count = headerInt(h, H.count, subject, streamSeq) as number;
  return {
    streamSeq,
    firstPosition: headerInt(h, H.position, subject, streamSeq) as number,
    firstSeq: count === 0 ? 0 : (headerInt(h, H.seq, subject, streamSeq) as number),
    count,
    lastTime: headerInt(h, H.lastTime, subject, streamSeq, true),
    minTime: headerInt(h, H.minTime, subject, streamSeq, true),
    maxTime: headerInt(h, H.maxTime, subject, streamSeq, true),
  };
}

function headerInt(h: MsgHdrs, name: string, subject: string, streamSeq: number, optional = false): number | null {
  const text = h.get(name);
  if (text === '') {
    if (optional) return null;
    throw new CorruptDataError(subject, streamSeq, `header ${name} is missing`);
  }
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new CorruptDataError(subject, streamSeq, `header ${name} is not an integer: ${text}`);
  return value;
}

/**
 * Decodes the wanted events of a message's payload into `out` from index `n` on; returns the index
 * after the last one added. `out` may be longer than `n` (a read fills arrays allocated at their
 * batch's size: growing an array push by push allocated a tenth of a read's memory) and grows past
 * its length as needed. `where` names the message in errors (a NATS message itself will do: its
 * subject is only decoded then). The format comes from the payload itself (readers never parse
 * headers): formats 2 and 3 start with the magic and their format byte, format 1 with `[`; anything
 * else is CORRUPT.
 */
export function decodeBatch(where: MessageAt, payload: Uint8Array, filter: EventFilter, out: StoredEvent[], n: number): number {
  if (hasMagic(payload)) {
    if (payload[3] === FORMAT_3) return decodeBatchV3(where, payload, filter, out, n);
    if (payload[3] === FORMAT_2) return copied(decodeBatchV2, where, payload, filter, out, n);
    throw new CorruptDataError(where.subject, where.seq, `payload format ${String(payload[3])} is not one this version of Spive reads (${READ_FORMATS.join(', ')})`);
  }
  if (payload[0] === 0x5b) return copied(decodeBatchV1, where, payload, filter, out, n);
  throw new CorruptDataError(where.subject, where.seq, `payload of ${payload.length} bytes is in no format Spive knows (it starts with byte ${String(payload[0])})`);
}

type PushDecoder = (subject: string, streamSeq: number, payload: Uint8Array, filter: EventFilter, out: StoredEvent[]) => number;

/** Formats 1 and 2 (no longer written, rarely read) append with push: into a fresh array, copied over. */
function copied(decode: PushDecoder, where: MessageAt, payload: Uint8Array, filter: EventFilter, out: StoredEvent[], n: number): number {
  const events: StoredEvent[] = [];
  decode(where.subject, where.seq, payload, filter, events);
  for (let i = 0; i < events.length; i++) out[n++] = events[i] as StoredEvent;
  return n;
}
