/**
 * Format 3 of an event message's payload: what Spive itself needs (placement, times, types) in fixed
 * binary fields, and the app's data in Spive's binary value encoding (value-writer.ts), with the
 * message's object shapes and distinct strings each written once.
 *
 * Why: in format 2 (batch-format-v2.ts) the data was one JSON text, and its JSON.parse was over four
 * fifths of a read of 100-event messages, several times what receiving them cost. Now a reader hashes
 * the names (stream, key, types, shapes: parsed once per distinct text), decodes the strings as one
 * text, and builds each object straight from the bytes with a function made for its shape; events
 * whose data has a shape used often go through a loop compiled for it, data and event built inline
 * (event-runs.ts). Events go into the caller's array by index (reads allocate their batches at size).
 *
 *   offset        size       field (little-endian)
 *   0             4          magic: `SPV` and the format byte 3
 *   4             4          u32 CRC-32 of every byte after this field
 *   8             4          u32 count: events in the batch (>= 1)
 *   12            4          u32 bytes of the names JSON
 *   16            4          u32 bytes of the string table (0: no strings)
 *   20            4          u32 bytes of the values
 *   24            4          u32 bytes of the meta JSON (0: no event has meta)
 *   28            8          f64 first position
 *   36            8          f64 first seq
 *   44            8·count    f64 time of each event
 *   44+8·count    4·count    u32 type of each event, as an index into the names' type list
 *   44+12·count   names      UTF-8 JSON [stream, key, [type, ...], [[key, ...], ...]]: the last, the
 *                            object shapes the values refer to
 *   then          strings    the string table the values refer to (value-writer.ts)
 *   then          values     `count` values (value-writer.ts), each event's data
 *   then          meta       UTF-8 JSON [meta or null, ...], one per event; absent when 0 bytes
 * The four lengths must add up to exactly the rest of the payload, and the values must end exactly
 * where their section does.
 *
 * The stream and key ride in the payload because long keys reach the subject only as a hash
 * (subject-token.ts); the placement rides there so that readers never parse headers (the NATS client's
 * header parsing cost a third of a read of small messages). The CRC makes a torn or altered message a
 * CORRUPT error instead of wrong events; the lengths are checked too, so the error says what is off.
 * (The CRC is about a fifth of the CPU of decoding a 100-event message, 6.7 of 33 ns per event measured
 * here; crc32.ts.)
 */
import { CorruptDataError, InvalidInputError } from '../../model/errors.ts';
import type { EventMeta, JsonValue, NewEvent, StoredEvent } from '../../model/event.ts';
import { encodeData } from '../validate.ts';
import { crc32 } from './crc32.ts';
import { eventLoopOf, type EventRun } from './event-runs.ts';
import { readStringTable, shapeOf, utf8, ValueError, ValueReader, type Shape } from './value-reader.ts';
import { TAG, ValueWriter } from './value-writer.ts';

/** Which events of a message a reader wants (events before any of these are skipped). */
export interface EventFilter {
  readonly fromPosition: number;
  readonly fromSeq: number;
  readonly fromTime: number;
}

export const ALL_EVENTS: EventFilter = Object.freeze({ fromPosition: 1, fromSeq: 1, fromTime: Number.NEGATIVE_INFINITY });

/** The encoded batch, before it is placed: `payload` has zeros where the placement and CRC go. */
export interface EncodedBatch {
  readonly payload: Uint8Array;
  readonly count: number;
  readonly lastTime: number;
  readonly minTime: number;
  readonly maxTime: number;
}

/** `SPV`: the first three bytes of every payload since format 2 (a format-1 payload starts with `[`). */
export const MAGIC = [0x53, 0x50, 0x56] as const;
export const FORMAT_3 = 3;
const CRC_AT = 4;
const COUNT_AT = 8;
const NAMES_BYTES_AT = 12;
const STRINGS_BYTES_AT = 16;
const VALUES_BYTES_AT = 20;
const META_BYTES_AT = 24;
const POSITION_AT = 28;
const SEQ_AT = 36;
const TIMES_AT = 44;

interface Layout {
  readonly typesAt: number;
  readonly namesAt: number;
  readonly stringsAt: number;
  readonly valuesAt: number;
  readonly metaAt: number;
}

/** Where a message's sections start; `count` and the lengths come from its head. */
function layout(count: number, namesBytes: number, stringsBytes: number, valuesBytes: number): Layout {
  const typesAt = TIMES_AT + 8 * count;
  const namesAt = typesAt + 4 * count;
  const stringsAt = namesAt + namesBytes;
  const valuesAt = stringsAt + stringsBytes;
  return { typesAt, namesAt, stringsAt, valuesAt, metaAt: valuesAt + valuesBytes };
}

/** Serializes a batch; a value that is not JSON fails with INVALID_INPUT naming the event field. */
export function encodeBatch(stream: string, key: string, events: readonly NewEvent<unknown>[]): EncodedBatch {
  const count = events.length;
  const typeIndex = new Map<string, number>();
  const writer = new ValueWriter();
  let metas: string[] | undefined;
  let minTime = Number.POSITIVE_INFINITY;
  let maxTime = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < count; i++) {
    const e = events[i] as NewEvent<unknown>;
    if (e.time < minTime) minTime = e.time;
    if (e.time > maxTime) maxTime = e.time;
    if (!typeIndex.has(e.type)) typeIndex.set(e.type, typeIndex.size);
    if (!writer.tryWrite(e.data)) writer.writeJson(encodeData(e.data, `events[${i}].data`));
    if (e.meta !== undefined) (metas ??= new Array<string>(count).fill('null'))[i] = encodeData(e.meta, `events[${i}].meta`);
  }
  const { values, strings, shapes } = writer.finish();
  const names = textEncoder.encode(JSON.stringify([stream, key, [...typeIndex.keys()], shapes]));
  const meta = metas === undefined ? EMPTY : textEncoder.encode(`[${metas.join(',')}]`);
  const at = layout(count, names.length, strings.length, values.length);
  const payload = new Uint8Array(at.metaAt + meta.length);
  const view = new DataView(payload.buffer);
  payload.set(MAGIC, 0);
  payload[3] = FORMAT_3;
  view.setUint32(COUNT_AT, count, true);
  view.setUint32(NAMES_BYTES_AT, names.length, true);
  view.setUint32(STRINGS_BYTES_AT, strings.length, true);
  view.setUint32(VALUES_BYTES_AT, values.length, true);
  view.setUint32(META_BYTES_AT, meta.length, true);
  for (let i = 0; i < count; i++) {
    const e = events[i] as NewEvent<unknown>;
    view.setFloat64(TIMES_AT + 8 * i, e.time, true);
    view.setUint32(at.typesAt + 4 * i, typeIndex.get(e.type) as number, true);
  }
  payload.set(names, at.namesAt);
  payload.set(strings, at.stringsAt);
  payload.set(values, at.valuesAt);
  payload.set(meta, at.metaAt);
  const last = events[count - 1] as NewEvent<unknown>;
  return { payload, count, lastTime: last.time, minTime, maxTime };
}

/** The payload of a batch placed at `firstPosition` / `firstSeq` (a copy: the batch may be placed again). */
export function batchPayload(batch: EncodedBatch, firstPosition: number, firstSeq: number): Uint8Array {
  const out = batch.payload.slice();
  const view = new DataView(out.buffer);
  view.setFloat64(POSITION_AT, firstPosition, true);
  view.setFloat64(SEQ_AT, firstSeq, true);
  view.setUint32(CRC_AT, crc32(out, CRC_AT + 4, out.length), true);
  return out;
}

/** Whether a payload starts with the magic of formats 2 and later; its 4th byte is then its format. */
export function hasMagic(payload: Uint8Array): boolean {
  return payload.length >= 4 && payload[0] === MAGIC[0] && payload[1] === MAGIC[1] && payload[2] === MAGIC[2];
}

/** Where a message sits, for errors only (a NATS message computes its subject when asked). */
export interface MessageAt {
  readonly subject: string;
  readonly seq: number;
}

/** A message's stream, key, types and shapes; `bytes`, the names section they were parsed from. */
interface Names {
  readonly stream: string;
  readonly key: string;
  readonly types: readonly string[];
  readonly shapes: readonly Shape[];
  readonly bytes: DataView;
}

/**
 * Names already parsed, by a hash of their bytes (checked byte for byte): a stream has few shards next
 * to its events, and hashing a few bytes costs less than decoding them, let alone parsing them. Cleared
 * when full: it only saves work.
 */
const namesCache = new Map<number, Names>();
const NAMES_CACHE_MAX = 4096;

/** Decodes the wanted events of a format-3 payload into `out` from index `n` on; returns the index after the last one added. */
export function decodeBatchV3(where: MessageAt, payload: Uint8Array, filter: EventFilter, out: StoredEvent[], n: number): number {
  // No closures in here: every one is an allocation per message (and under tsx a defineProperty too).
  if (payload.length < TIMES_AT) throw corrupt(where, `${payload.length} bytes, shorter than its ${TIMES_AT}-byte head`);
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const count = view.getUint32(COUNT_AT, true);
  const metaBytes = view.getUint32(META_BYTES_AT, true);
  const at = layout(count, view.getUint32(NAMES_BYTES_AT, true), view.getUint32(STRINGS_BYTES_AT, true), view.getUint32(VALUES_BYTES_AT, true));
  if (at.metaAt + metaBytes !== payload.length) {
    throw corrupt(where, `${payload.length} bytes, but its head says ${at.metaAt + metaBytes} (${count} events and sections of ${at.stringsAt - at.namesAt}, ${at.valuesAt - at.stringsAt}, ${at.metaAt - at.valuesAt} and ${metaBytes} bytes): torn or altered`);
  }
  const crc = crc32(payload, CRC_AT + 4, payload.length);
  if (crc !== view.getUint32(CRC_AT, true)) throw corrupt(where, `CRC-32 is ${crc}, the message says ${view.getUint32(CRC_AT, true)}: torn or altered`);
  const firstPosition = view.getFloat64(POSITION_AT, true);
  const firstSeq = view.getFloat64(SEQ_AT, true);
  if (count === 0 || !(Number.isSafeInteger(firstPosition) && firstPosition >= 1) || !(Number.isSafeInteger(firstSeq) && firstSeq >= 1)) {
    throw corrupt(where, `head says ${count} events from position ${firstPosition}, seq ${firstSeq}`);
  }
  const names = decodeNames(where, payload, view, at.namesAt, at.stringsAt);
  const metas = metaBytes === 0 ? undefined : parseJson(where, 'meta', payload, at.metaAt, payload.length);
  if (metas !== undefined && !(Array.isArray(metas) && metas.length === count)) throw corrupt(where, `meta JSON is not an array of ${count}`);
  const { stream, key, types, shapes } = names;
  const skip = Math.max(0, filter.fromPosition - firstPosition, filter.fromSeq - firstSeq);
  const fromTime = filter.fromTime;
  const run = RUN;
  run.stream = stream;
  run.key = key;
  run.types = types;
  run.view = view;
  run.typesAt = at.typesAt;
  run.firstSeq = firstSeq;
  run.firstPosition = firstPosition;
  run.count = count;
  run.fromTime = fromTime;
  run.metas = metas as unknown[] | undefined;
  run.out = out;
  run.n = n;
  let reader: ValueReader | undefined;
  try {
    reader = new ValueReader(payload, view, at.valuesAt, readStringTable(payload, view, at.stringsAt, at.valuesAt), shapes);
    for (let i = 0; i < count; ) {
      // Most events go through their shape's compiled loop (event-runs.ts), many at a time.
      const valueAt = reader.at;
      const shapeByte = payload[valueAt + 1] as number;
      if (i >= skip && payload[valueAt] === TAG.object && shapeByte < 0x80) {
        const loop = eventLoopOf(shapes[shapeByte]);
        if (loop !== undefined) {
          run.i = i;
          run.shapeByte = shapeByte;
          loop(reader, run);
          if (run.i > i) {
            i = run.i;
            continue;
          }
        }
      }
      // Otherwise one event value by value: before `skip`, data of a shape not compiled (yet) or no
      // object, or an event the loop left to be refused here.
      const data = reader.value() as JsonValue;
      if (i >= skip) decodeOne(where, run, i, data);
      i++;
    }
  } catch (e) {
    // RangeError: a read past the payload's end, or nesting deeper than the stack (the writer never nests that deep).
    if (e instanceof ValueError || e instanceof RangeError) throw corrupt(where, `values: ${e.message}`);
    throw e;
  } finally {
    run.out = NO_EVENTS;
    run.metas = undefined;
  }
  if (reader.at !== at.metaAt) throw corrupt(where, `values end at byte ${reader.at}, their section at ${at.metaAt}`);
  return run.n;
}

/** Adds event `i` (its data already decoded) unless it is before the filter's time; CORRUPT when its type, time or meta are not right. */
function decodeOne(where: MessageAt, run: EventRun, i: number, data: JsonValue): void {
  const view = run.view;
  const time = view.getFloat64(TIMES_AT + 8 * i, true);
  if (time < run.fromTime) return;
  const type = run.types[view.getUint32(run.typesAt + 4 * i, true)];
  if (type === undefined || !Number.isSafeInteger(time)) throw corrupt(where, `event ${i} has type ${String(type)} and time ${time}`);
  const { stream, key } = run;
  const seq = run.firstSeq + i;
  const position = run.firstPosition + i;
  const meta = run.metas === undefined ? null : run.metas[i];
  if (meta === null) run.out[run.n++] = { stream, key, seq, position, type, time, data };
  else if (typeof meta === 'object' && !Array.isArray(meta)) run.out[run.n++] = { stream, key, seq, position, type, time, data, meta: meta as EventMeta };
  else throw corrupt(where, `event ${i} has meta ${JSON.stringify(meta)}, not an object`);
}

const NO_EVENTS: StoredEvent[] = [];

/** The decoding state of the message being decoded (reused: decoding is synchronous). */
const RUN: EventRun = {
  stream: '',
  key: '',
  types: [],
  view: new DataView(new ArrayBuffer(0)),
  timesAt: TIMES_AT,
  typesAt: 0,
  firstSeq: 0,
  firstPosition: 0,
  count: 0,
  fromTime: 0,
  metas: undefined,
  out: NO_EVENTS,
  shapeByte: 0,
  i: 0,
  n: 0,
};

/**
 * The events' data values of a format-3 payload, and nothing else (no checks, no CRC): for the
 * benchmark's raw reader, the least an app reading these events must do.
 */
export function dataValues(payload: Uint8Array): unknown[] {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const count = view.getUint32(COUNT_AT, true);
  const at = layout(count, view.getUint32(NAMES_BYTES_AT, true), view.getUint32(STRINGS_BYTES_AT, true), view.getUint32(VALUES_BYTES_AT, true));
  const names = decodeNames(NOWHERE, payload, view, at.namesAt, at.stringsAt);
  const reader = new ValueReader(payload, view, at.valuesAt, readStringTable(payload, view, at.stringsAt, at.valuesAt), names.shapes);
  const values = new Array<unknown>(count);
  for (let i = 0; i < count; i++) values[i] = reader.value();
  return values;
}

const NOWHERE: MessageAt = { subject: '(payload)', seq: 0 };

function decodeNames(where: MessageAt, payload: Uint8Array, view: DataView, from: number, to: number): Names {
  const hash = hashBytes(payload, view, from, to);
  const cached = namesCache.get(hash);
  if (cached !== undefined && sameBytes(cached.bytes, view, from, to)) return cached;
  const parsed = parseJson(where, 'names', payload, from, to) as [unknown, unknown, unknown, unknown];
  if (!Array.isArray(parsed) || parsed.length !== 4) throw corrupt(where, 'names JSON is not [stream, key, [type, ...], [[key, ...], ...]]');
  const [stream, key, types, shapes] = parsed;
  if (typeof stream !== 'string' || typeof key !== 'string' || !Array.isArray(types) || !allStrings(types) || !Array.isArray(shapes) || !shapes.every((s) => Array.isArray(s) && allStrings(s))) {
    throw corrupt(where, 'names JSON is not [stream, key, [type, ...], [[key, ...], ...]]');
  }
  const bytes = new DataView(payload.buffer.slice(payload.byteOffset + from, payload.byteOffset + to));
  const names: Names = { stream, key, types, shapes: (shapes as string[][]).map((keys) => shapeOf(keys, JSON.stringify(keys))), bytes };
  if (namesCache.size >= NAMES_CACHE_MAX) namesCache.clear();
  namesCache.set(hash, names);
  return names;
}

/** FNV-1a over 32-bit words (and the last bytes one by one): a quarter of the steps of a byte-wise hash. */
function hashBytes(payload: Uint8Array, view: DataView, from: number, to: number): number {
  let hash = 0x811c9dc5;
  let i = from;
  for (; i + 4 <= to; i += 4) hash = Math.imul(hash ^ view.getInt32(i, true), 0x01000193);
  for (; i < to; i++) hash = Math.imul(hash ^ (payload[i] as number), 0x01000193);
  return hash;
}

function sameBytes(a: DataView, view: DataView, from: number, to: number): boolean {
  const n = a.byteLength;
  if (n !== to - from) return false;
  let i = 0;
  for (; i + 4 <= n; i += 4) if (a.getInt32(i, true) !== view.getInt32(from + i, true)) return false;
  for (; i < n; i++) if (a.getUint8(i) !== view.getUint8(from + i)) return false;
  return true;
}

function parseJson(where: MessageAt, what: string, payload: Uint8Array, from: number, to: number): unknown {
  try {
    return JSON.parse(utf8(payload, from, to));
  } catch (e) {
    throw corrupt(where, `${what} JSON does not parse: ${String(e)}`);
  }
}

function corrupt(where: MessageAt, reason: string): CorruptDataError {
  return new CorruptDataError(where.subject, where.seq, `format 3 payload: ${reason}`);
}

function allStrings(xs: readonly unknown[]): boolean {
  for (let i = 0; i < xs.length; i++) if (typeof xs[i] !== 'string') return false;
  return true;
}

const EMPTY = new Uint8Array(0);
const textEncoder = new TextEncoder();

/** Rejects a batch the server would refuse as too large, before it costs a round trip. */
export function checkSize(batch: EncodedBatch, maxPayloadBytes: number): void {
  // Headers add well under 1 KiB.
  const bytes = batch.payload.length + 1024;
  if (bytes > maxPayloadBytes) {
    throw new InvalidInputError('events', `a batch of at most ${maxPayloadBytes} bytes encoded (the NATS server's max_payload)`, `${bytes} bytes`);
  }
}
