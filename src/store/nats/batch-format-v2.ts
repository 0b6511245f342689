/**
 * Format 2 of an event message's payload, no longer written (format 3, batch-format.ts, replaced it)
 * but still read, so that stores written before keep replaying unchanged: what Spive itself needs
 * (placement, times, types) in fixed binary fields, and the app's data as one JSON text of its own.
 *
 *   offset        size       field (little-endian)
 *   0             4          magic: `SPV` and the format byte 2
 *   4             4          u32 CRC-32 of every byte after this field
 *   8             4          u32 count: events in the batch (>= 1)
 *   12            4          u32 bytes of the names JSON
 *   16            4          u32 bytes of the data JSON
 *   20            4          u32 bytes of the meta JSON (0: no event has meta)
 *   24            8          f64 first position
 *   32            8          f64 first seq
 *   40            8·count    f64 time of each event
 *   40+8·count    4·count    u32 type of each event, as an index into the names' type list
 *   40+12·count   names      UTF-8 JSON [stream, key, [type, ...]]
 *   then          data       UTF-8 JSON [data, ...], one per event
 *   then          meta       UTF-8 JSON [meta or null, ...], one per event; absent when 0 bytes
 * The three lengths must add up to exactly the rest of the payload.
 *
 * Readers check the lengths and the CRC, parse the data with one JSON.parse, and read times and types
 * from the bytes.
 */
import { crc32 } from 'node:zlib';
import { CorruptDataError } from '../../model/errors.ts';
import type { EventMeta, JsonValue, NewEvent, StoredEvent } from '../../model/event.ts';
import { encodeData } from '../validate.ts';
import { MAGIC, type EventFilter } from './batch-format.ts';

export const FORMAT_2 = 2;
const CRC_AT = 4;
const COUNT_AT = 8;
const NAMES_BYTES_AT = 12;
const DATA_BYTES_AT = 16;
const META_BYTES_AT = 20;
const POSITION_AT = 24;
const SEQ_AT = 32;
const TIMES_AT = 40;

/** Where a message's sections start; `count` and the lengths come from its head. */
function layout(count: number, namesBytes: number, dataBytes: number): { typesAt: number; namesAt: number; dataAt: number; metaAt: number } {
  const typesAt = TIMES_AT + 8 * count;
  const namesAt = typesAt + 4 * count;
  return { typesAt, namesAt, dataAt: namesAt + namesBytes, metaAt: namesAt + namesBytes + dataBytes };
}

/** A format-2 payload placed at `firstPosition` / `firstSeq`, as the versions that wrote format 2 did (for tests). */
export function encodeBatchV2(stream: string, key: string, events: readonly NewEvent<unknown>[], firstPosition: number, firstSeq: number): Uint8Array {
  const count = events.length;
  const typeIndex = new Map<string, number>();
  const datas = new Array<string>(count);
  let metas: string[] | undefined;
  for (let i = 0; i < count; i++) {
    const e = events[i] as NewEvent<unknown>;
    if (!typeIndex.has(e.type)) typeIndex.set(e.type, typeIndex.size);
    datas[i] = encodeData(e.data, `events[${i}].data`);
    if (e.meta !== undefined) (metas ??= new Array<string>(count).fill('null'))[i] = encodeData(e.meta, `events[${i}].meta`);
  }
  const names = JSON.stringify([stream, key, [...typeIndex.keys()]]);
  const data = `[${datas.join(',')}]`;
  const meta = metas === undefined ? '' : `[${metas.join(',')}]`;
  const namesBytes = Buffer.byteLength(names, 'utf8');
  const dataBytes = Buffer.byteLength(data, 'utf8');
  const metaBytes = Buffer.byteLength(meta, 'utf8');
  const at = layout(count, namesBytes, dataBytes);
  const payload = new Uint8Array(at.metaAt + metaBytes);
  const view = new DataView(payload.buffer);
  payload.set(MAGIC, 0);
  payload[3] = FORMAT_2;
  view.setUint32(COUNT_AT, count, true);
  view.setUint32(NAMES_BYTES_AT, namesBytes, true);
  view.setUint32(DATA_BYTES_AT, dataBytes, true);
  view.setUint32(META_BYTES_AT, metaBytes, true);
  for (let i = 0; i < count; i++) {
    const e = events[i] as NewEvent<unknown>;
    view.setFloat64(TIMES_AT + 8 * i, e.time, true);
    view.setUint32(at.typesAt + 4 * i, typeIndex.get(e.type) as number, true);
  }
  textEncoder.encodeInto(names, payload.subarray(at.namesAt));
  textEncoder.encodeInto(data, payload.subarray(at.dataAt));
  textEncoder.encodeInto(meta, payload.subarray(at.metaAt));
  view.setFloat64(POSITION_AT, firstPosition, true);
  view.setFloat64(SEQ_AT, firstSeq, true);
  view.setUint32(CRC_AT, crc32(payload.subarray(CRC_AT + 4)), true);
  return payload;
}

type Names = [string, string, string[]];

/**
 * Names already parsed, by their text: a stream has few shards next to its events, and decoding a few
 * bytes and one lookup cost less than a JSON.parse per message. Cleared when full: it only saves work.
 */
const namesCache = new Map<string, Names>();
const NAMES_CACHE_MAX = 4096;

/** Decodes the wanted events of a format-2 payload into `out`; returns how many were added. */
export function decodeBatchV2(subject: string, streamSeq: number, payload: Uint8Array, filter: EventFilter, out: StoredEvent[]): number {
  // No closures in here: every one is an allocation per message (and under tsx a defineProperty too).
  if (payload.length < TIMES_AT) throw corrupt(subject, streamSeq, `${payload.length} bytes, shorter than its ${TIMES_AT}-byte head`);
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const count = view.getUint32(COUNT_AT, true);
  const namesBytes = view.getUint32(NAMES_BYTES_AT, true);
  const dataBytes = view.getUint32(DATA_BYTES_AT, true);
  const metaBytes = view.getUint32(META_BYTES_AT, true);
  const at = layout(count, namesBytes, dataBytes);
  if (at.metaAt + metaBytes !== payload.length) {
    throw corrupt(subject, streamSeq, `${payload.length} bytes, but its head says ${at.metaAt + metaBytes} (${count} events, ${namesBytes} + ${dataBytes} + ${metaBytes} bytes of JSON): torn or altered`);
  }
  const crc = crc32(section(payload, CRC_AT + 4, payload.length));
  if (crc !== view.getUint32(CRC_AT, true)) throw corrupt(subject, streamSeq, `CRC-32 is ${crc}, the message says ${view.getUint32(CRC_AT, true)}: torn or altered`);
  const firstPosition = view.getFloat64(POSITION_AT, true);
  const firstSeq = view.getFloat64(SEQ_AT, true);
  if (count === 0 || !(Number.isSafeInteger(firstPosition) && firstPosition >= 1) || !(Number.isSafeInteger(firstSeq) && firstSeq >= 1)) {
    throw corrupt(subject, streamSeq, `head says ${count} events from position ${firstPosition}, seq ${firstSeq}`);
  }
  const [stream, key, types] = decodeNames(subject, streamSeq, section(payload, at.namesAt, at.dataAt));
  const datas = parseJson(subject, streamSeq, 'data', section(payload, at.dataAt, at.metaAt));
  const metas = metaBytes === 0 ? undefined : parseJson(subject, streamSeq, 'meta', section(payload, at.metaAt, payload.length));
  if (!Array.isArray(datas) || datas.length !== count || (metas !== undefined && !(Array.isArray(metas) && metas.length === count))) {
    throw corrupt(subject, streamSeq, `data or meta JSON is not an array of ${count}`);
  }
  const skip = Math.max(0, filter.fromPosition - firstPosition, filter.fromSeq - firstSeq);
  const fromTime = filter.fromTime;
  let added = 0;
  for (let i = skip; i < count; i++) {
    const time = view.getFloat64(TIMES_AT + 8 * i, true);
    if (time < fromTime) continue;
    const type = types[view.getUint32(at.typesAt + 4 * i, true)];
    if (type === undefined || !Number.isSafeInteger(time)) throw corrupt(subject, streamSeq, `event ${i} has type ${String(type)} and time ${time}`);
    const seq = firstSeq + i;
    const position = firstPosition + i;
    const data = datas[i] as JsonValue;
    const meta = metas === undefined ? null : (metas as unknown[])[i];
    if (meta === null) out.push({ stream, key, seq, position, type, time, data });
    else if (typeof meta === 'object' && !Array.isArray(meta)) out.push({ stream, key, seq, position, type, time, data, meta: meta as EventMeta });
    else throw corrupt(subject, streamSeq, `event ${i} has meta ${JSON.stringify(meta)}, not an object`);
    added++;
  }
  return added;
}

function decodeNames(subject: string, streamSeq: number, bytes: Uint8Array): Names {
  const text = textDecoder.decode(bytes);
  const cached = namesCache.get(text);
  if (cached !== undefined) return cached;
  let names: Names;
  try {
    names = JSON.parse(text) as Names;
  } catch (e) {
    throw corrupt(subject, streamSeq, `names JSON does not parse: ${String(e)}`);
  }
  if (!Array.isArray(names) || names.length !== 3 || typeof names[0] !== 'string' || typeof names[1] !== 'string' || !Array.isArray(names[2]) || !allStrings(names[2])) {
    throw corrupt(subject, streamSeq, 'names JSON is not [stream, key, [type, ...]]');
  }
  if (namesCache.size >= NAMES_CACHE_MAX) namesCache.clear();
  namesCache.set(text, names);
  return names;
}

function parseJson(subject: string, streamSeq: number, what: string, bytes: Uint8Array): unknown {
  try {
    return JSON.parse(textDecoder.decode(bytes));
  } catch (e) {
    throw corrupt(subject, streamSeq, `${what} JSON does not parse: ${String(e)}`);
  }
}

function corrupt(subject: string, streamSeq: number, reason: string): CorruptDataError {
  return new CorruptDataError(subject, streamSeq, `format 2 payload: ${reason}`);
}

/** `payload.subarray(from, to)`, but a plain Uint8Array even when `payload` is a Buffer (whose subarray costs more). */
function section(payload: Uint8Array, from: number, to: number): Uint8Array {
  return new Uint8Array(payload.buffer, payload.byteOffset + from, to - from);
}

function allStrings(xs: readonly unknown[]): boolean {
  for (let i = 0; i < xs.length; i++) if (typeof xs[i] !== 'string') return false;
  return true;
}

const textDecoder = new TextDecoder();
const textEncoder = new TextEncoder();
