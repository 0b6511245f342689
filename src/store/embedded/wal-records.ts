/**
 * WAL record bodies: `[kind u8][metaLength u32][meta JSON][payload]`. The small meta part is enough
 * to rebuild every index on open without parsing event payloads.
 */
import type { SnapshotInfo } from '../../model/event.ts';
import type { Lease } from '../event-store.ts';

export const RecordKind = { Events: 1, Lease: 2, Release: 3, Snapshot: 4 } as const;
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind];

/** Meta of an events record: one atomic batch on one shard. */
export interface EventsMeta {
  readonly s: string; // stream
  readonly k: string; // key
  readonly q: number; // first seq
  readonly p: number; // first global position
  readonly n: number; // count
  readonly lo: number; // min event time
  readonly hi: number; // max event time
  readonly lt: number; // last event's time
}

export type WalRecord =
  | { readonly kind: typeof RecordKind.Events; readonly meta: EventsMeta; readonly payload: Uint8Array }
  | { readonly kind: typeof RecordKind.Lease; readonly meta: Lease }
  | { readonly kind: typeof RecordKind.Release; readonly meta: { readonly stream: string; readonly token: number } }
  | { readonly kind: typeof RecordKind.Snapshot; readonly meta: SnapshotInfo; readonly payload: Uint8Array };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeRecord(kind: RecordKind, meta: unknown, payload?: Uint8Array | string): Uint8Array {
  const metaBytes = encoder.encode(JSON.stringify(meta));
  const payloadBytes = payload === undefined ? new Uint8Array(0) : typeof payload === 'string' ? encoder.encode(payload) : payload;
  const body = new Uint8Array(5 + metaBytes.byteLength + payloadBytes.byteLength);
  body[0] = kind;
  new DataView(body.buffer).setUint32(1, metaBytes.byteLength, true);
  body.set(metaBytes, 5);
  body.set(payloadBytes, 5 + metaBytes.byteLength);
  return body;
}

/** Events payload: a JSON array of `[time, type, data(, meta)]`, built from already-serialized data. */
export function eventsPayload(
  events: ReadonlyArray<{ time: number; type: string }>,
  dataTexts: readonly string[],
  metaTexts: ReadonlyArray<string | undefined>,
): string {
  const parts = new Array<string>(events.length);
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as { time: number; type: string };
    const meta = metaTexts[i];
    parts[i] = `[${e.time},${JSON.stringify(e.type)},${dataTexts[i]}${meta === undefined ? '' : `,${meta}`}]`;
  }
  return `[${parts.join(',')}]`;
}

/** Decodes a body; throws (a SyntaxError or RangeError) on malformed bytes, which callers report as corruption. */
export function decodeRecord(body: Uint8Array): WalRecord {
  const kind = body[0];
  const metaLength = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(1, true);
  if (5 + metaLength > body.byteLength) throw new RangeError('record meta runs past the body');
  const meta = JSON.parse(decoder.decode(body.subarray(5, 5 + metaLength)));
  const payload = body.subarray(5 + metaLength);
  switch (kind) {
    case RecordKind.Events:
      return { kind, meta, payload };
    case RecordKind.Lease:
      return { kind, meta };
    case RecordKind.Release:
      return { kind, meta };
    case RecordKind.Snapshot:
      return { kind, meta, payload };
    default:
      throw new RangeError(`unknown record kind ${kind}`);
  }
}

export type EventTuple = [time: number, type: string, data: unknown, meta?: Record<string, unknown>];

export function decodeEventsPayload(payload: Uint8Array): EventTuple[] {
  return JSON.parse(decoder.decode(payload)) as EventTuple[];
}
