/**
 * One appended batch = one JetStream message on its shard's subject. A single message is the only
 * all-or-nothing write JetStream 2.9 has (atomic multi-message batches arrived in 2.12), so this is
 * what makes `append` atomic. Its cost: a batch must fit the server's max_payload (1 MiB by default),
 * and readers decode a whole message even when they start in its middle.
 *
 * Payload (JSON): `[firstPosition, firstSeq, stream, key, [[type, time, data], [type, time, data,
 * meta], ...]]`. The key rides in the payload because long keys reach the subject only as a hash
 * (subject-token.ts); the placement rides there too so that readers never parse headers (the NATS
 * client's header parsing cost a third of a read of small messages).
 * Headers: the placement again, so that writers and `stats` read heads and positions without payloads.
 */
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import { CorruptDataError, InvalidInputError } from '../../model/errors.ts';
import type { EventMeta, JsonValue, NewEvent, StoredEvent } from '../../model/event.ts';
import { encodeData } from '../validate.ts';

export const MESSAGE_FORMAT = '1';

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

/** The encoded batch, before it is placed: `body` is the payload after `[firstPosition,firstSeq,`. */
export interface EncodedBatch {
  readonly body: Uint8Array;
  readonly count: number;
  readonly lastTime: number;
  readonly minTime: number;
  readonly maxTime: number;
}

/** Serializes a batch; a value that is not JSON fails with INVALID_INPUT naming the event field. */
export function encodeBatch(stream: string, key: string, events: readonly NewEvent<unknown>[]): EncodedBatch {
  let minTime = Number.POSITIVE_INFINITY;
  let maxTime = Number.NEGATIVE_INFINITY;
  const parts = new Array<string>(events.length);
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as NewEvent<unknown>;
    if (e.time < minTime) minTime = e.time;
    if (e.time > maxTime) maxTime = e.time;
    const data = encodeData(e.data, `events[${i}].data`);
    const meta = e.meta === undefined ? '' : `,${encodeData(e.meta, `events[${i}].meta`)}`;
    parts[i] = `[${JSON.stringify(e.type)},${e.time},${data}${meta}]`;
  }
  const last = events[events.length - 1] as NewEvent<unknown>;
  const body = textEncoder.encode(`${JSON.stringify(stream)},${JSON.stringify(key)},[${parts.join(',')}]]`);
  return { body, count: events.length, lastTime: last.time, minTime, maxTime };
}

/** The payload of a batch placed at `firstPosition` / `firstSeq`. */
export function batchPayload(batch: EncodedBatch, firstPosition: number, firstSeq: number): Uint8Array {
  const head = textEncoder.encode(`[${firstPosition},${firstSeq},`);
  const out = new Uint8Array(head.length + batch.body.length);
  out.set(head, 0);
  out.set(batch.body, head.length);
  return out;
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
  if (h?.get(H.format) !== MESSAGE_FORMAT) {
    throw new CorruptDataError(subject, streamSeq, `message format ${JSON.stringify(h?.get(H.format) ?? null)} is not ${MESSAGE_FORMAT}`);
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

type WireEvent = [string, number, JsonValue] | [string, number, JsonValue, EventMeta];

/** Which events of a message a reader wants (events before any of these are skipped). */
export interface EventFilter {
  readonly fromPosition: number;
  readonly fromSeq: number;
  readonly fromTime: number;
}

export const ALL_EVENTS: EventFilter = Object.freeze({ fromPosition: 1, fromSeq: 1, fromTime: Number.NEGATIVE_INFINITY });

/** Decodes the wanted events of a message's payload into `out`; returns how many were added. */
export function decodeBatch(subject: string, streamSeq: number, payload: Uint8Array, filter: EventFilter, out: StoredEvent[]): number {
  let parsed: [number, number, string, string, WireEvent[]];
  try {
    parsed = JSON.parse(textDecoder.decode(payload)) as [number, number, string, string, WireEvent[]];
  } catch (e) {
    throw new CorruptDataError(subject, streamSeq, `payload is not JSON: ${String(e)}`);
  }
  const [firstPosition, firstSeq, stream, key, events] = parsed;
  if (!Array.isArray(events) || !Number.isSafeInteger(firstPosition) || !Number.isSafeInteger(firstSeq)) {
    throw new CorruptDataError(subject, streamSeq, 'payload is not [firstPosition, firstSeq, stream, key, events]');
  }
  const skip = Math.max(0, filter.fromPosition - firstPosition, filter.fromSeq - firstSeq);
  const fromTime = filter.fromTime;
  let added = 0;
  for (let i = skip; i < events.length; i++) {
    const e = events[i] as WireEvent;
    const time = e[1];
    if (time < fromTime) continue;
    const seq = firstSeq + i;
    const position = firstPosition + i;
    out.push(
      e.length === 4
        ? { stream, key, seq, position, type: e[0], time, data: e[2], meta: e[3] }
        : { stream, key, seq, position, type: e[0], time, data: e[2] },
    );
    added++;
  }
  return added;
}

const textDecoder = new TextDecoder();
const textEncoder = new TextEncoder();

/** Rejects a batch the server would refuse as too large, before it costs a round trip. */
export function checkSize(batch: EncodedBatch, maxPayloadBytes: number): void {
  // Headers and placement add well under 1 KiB.
  const bytes = batch.body.length + 1024;
  if (bytes > maxPayloadBytes) {
    throw new InvalidInputError('events', `a batch of at most ${maxPayloadBytes} bytes encoded (the NATS server's max_payload)`, `${bytes} bytes`);
  }
}
