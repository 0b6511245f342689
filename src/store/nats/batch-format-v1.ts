/**
 * Format 1 of an event message's payload: JSON only, no longer written (format 2, batch-format.ts,
 * replaced it) but still read, so that stores written before keep replaying unchanged.
 *
 *   [firstPosition, firstSeq, stream, key, [[type, time, data], [type, time, data, meta], ...]]
 *
 * A format-1 payload starts with `[`, which is how event-message.ts tells it from format 2.
 */
import { CorruptDataError } from '../../model/errors.ts';
import type { EventMeta, JsonValue, StoredEvent } from '../../model/event.ts';
import type { EventFilter } from './batch-format.ts';

type WireEvent = [string, number, JsonValue] | [string, number, JsonValue, EventMeta];

const textDecoder = new TextDecoder();

/** Decodes the wanted events of a format-1 payload into `out`; returns how many were added. */
export function decodeBatchV1(subject: string, streamSeq: number, payload: Uint8Array, filter: EventFilter, out: StoredEvent[]): number {
  let parsed: [number, number, string, string, WireEvent[]];
  try {
    parsed = JSON.parse(textDecoder.decode(payload)) as [number, number, string, string, WireEvent[]];
  } catch (e) {
    throw new CorruptDataError(subject, streamSeq, `format 1 payload is not JSON: ${String(e)}`);
  }
  const [firstPosition, firstSeq, stream, key, events] = parsed;
  if (!Array.isArray(events) || !Number.isSafeInteger(firstPosition) || !Number.isSafeInteger(firstSeq)) {
    throw new CorruptDataError(subject, streamSeq, 'format 1 payload is not [firstPosition, firstSeq, stream, key, events]');
  }
  const skip = Math.max(0, filter.fromPosition - firstPosition, filter.fromSeq - firstSeq);
  let added = 0;
  for (let i = skip; i < events.length; i++) {
    const e = events[i] as WireEvent;
    const time = e[1];
    if (time < filter.fromTime) continue;
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
