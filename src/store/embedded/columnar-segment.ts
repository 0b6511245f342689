/**
 * The typed-column form of a sealed WAL segment, one Apache Arrow IPC file per (segment, stream):
 * dictionary-encoded key and type, float64 seq/time/position, and one float64 column per top-level
 * numeric payload field. A scan maps columns zero-copy into typed arrays. Arrow IPC carries no
 * checksum, so the manifest keeps a CRC-32 per 1 MiB block and every read verifies it.
 */
import { crc32 } from 'node:zlib';
import {
  Dictionary,
  Float64,
  Int32,
  Table,
  Utf8,
  makeData,
  makeVector,
  tableFromIPC,
  tableToIPC,
  vectorFromArray,
  type Vector,
} from 'apache-arrow';
import { CorruptDataError } from '../../model/errors.ts';
import type { StoredEvent } from '../../model/event.ts';
import { columnsFromEvents } from '../columns.ts';
import type { ColumnBatch } from '../event-store.ts';

export const COLUMN_BLOCK_BYTES = 1 << 20;
const FIELD_PREFIX = 'f.';

export interface ColumnFileInfo {
  readonly stream: string;
  /** Path relative to the store folder. */
  readonly file: string;
  readonly rows: number;
  readonly bytes: number;
  readonly blockCrcs: readonly number[];
  readonly fields: readonly string[];
  readonly minTime: number;
  readonly maxTime: number;
  readonly firstPosition: number;
  readonly lastPosition: number;
}

/** Encodes one stream's events of one segment as an Arrow IPC file. */
export function encodeColumnFile(stream: string, events: readonly StoredEvent[]): { bytes: Uint8Array; fields: string[] } {
  return encodeColumnBatch(columnsFromEvents(stream, events));
}

/** Encodes one stream's columns of one segment (every field of the batch) as an Arrow IPC file. */
export function encodeColumnBatch(batch: ColumnBatch): { bytes: Uint8Array; fields: string[] } {
  const columns: Record<string, Vector> = {
    key: makeVector(dictionaryData(batch.keys, batch.keyIndex)),
    type: makeVector(dictionaryData(batch.types, batch.typeIndex)),
    seq: makeVector(batch.seq),
    time: makeVector(batch.time),
    position: makeVector(batch.position),
  };
  const fields = Object.keys(batch.fields);
  for (const name of fields) columns[FIELD_PREFIX + name] = makeVector(batch.fields[name] as Float64Array);
  return { bytes: tableToIPC(new Table(columns), 'file'), fields };
}

function dictionaryData(values: readonly string[], indices: Int32Array) {
  return makeData({
    type: new Dictionary(new Utf8(), new Int32()),
    length: indices.length,
    data: indices,
    dictionary: vectorFromArray(values as string[], new Utf8()),
  });
}

export function blockCrcs(bytes: Uint8Array): number[] {
  const crcs: number[] = [];
  for (let o = 0; o < bytes.byteLength; o += COLUMN_BLOCK_BYTES) {
    crcs.push(crc32(bytes.subarray(o, Math.min(bytes.byteLength, o + COLUMN_BLOCK_BYTES))));
  }
  return crcs;
}

/** Verifies and decodes a column file read whole from disk. `path` is for error messages. */
export function decodeColumnFile(path: string, info: ColumnFileInfo, bytes: Uint8Array, wanted?: readonly string[]): ColumnBatch {
  if (bytes.byteLength !== info.bytes) {
    throw new CorruptDataError(path, Math.min(bytes.byteLength, info.bytes), `file is ${bytes.byteLength} bytes, manifest says ${info.bytes}`);
  }
  for (let b = 0; b < info.blockCrcs.length; b++) {
    const o = b * COLUMN_BLOCK_BYTES;
    if (crc32(bytes.subarray(o, Math.min(bytes.byteLength, o + COLUMN_BLOCK_BYTES))) !== info.blockCrcs[b]) {
      throw new CorruptDataError(path, o, `checksum mismatch in the ${COLUMN_BLOCK_BYTES}-byte block starting here`);
    }
  }
  let table: Table;
  try {
    table = tableFromIPC(bytes);
  } catch (e) {
    throw new CorruptDataError(path, 0, `not a readable Arrow IPC file: ${String(e)}`);
  }
  const n = table.numRows;
  const key = dictionaryColumn(path, table, 'key', n);
  const type = dictionaryColumn(path, table, 'type', n);
  const fields: Record<string, Float64Array> = {};
  for (const name of wanted ?? info.fields) {
    fields[name] = info.fields.includes(name)
      ? float64Column(path, table, FIELD_PREFIX + name, n)
      : new Float64Array(n).fill(Number.NaN);
  }
  return {
    stream: info.stream,
    length: n,
    keys: key.dictionary,
    keyIndex: key.indices,
    types: type.dictionary,
    typeIndex: type.indices,
    seq: float64Column(path, table, 'seq', n),
    time: float64Column(path, table, 'time', n),
    position: float64Column(path, table, 'position', n),
    fields,
  };
}

function only(path: string, table: Table, name: string) {
  const child = table.getChild(name);
  const data = child?.data;
  if (data === undefined || data.length !== 1 || data[0] === undefined) {
    throw new CorruptDataError(path, 0, `column ${name} missing or split`);
  }
  return data[0];
}

function float64Column(path: string, table: Table, name: string, n: number): Float64Array {
  const values = only(path, table, name).values as unknown;
  if (!(values instanceof Float64Array)) throw new CorruptDataError(path, 0, `column ${name} is not float64`);
  return values.subarray(0, n);
}

function dictionaryColumn(path: string, table: Table, name: string, n: number): { indices: Int32Array; dictionary: string[] } {
  const data = only(path, table, name);
  const indices = data.values as unknown;
  if (!(indices instanceof Int32Array) || data.dictionary === undefined) {
    throw new CorruptDataError(path, 0, `column ${name} is not a dictionary of int32 indices`);
  }
  return { indices: indices.subarray(0, n), dictionary: data.dictionary.toArray() as string[] };
}
