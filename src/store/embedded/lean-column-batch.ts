/**
 * A column batch over a sealed file of which only the needed columns were read: key, type, time and
 * the wanted fields are read before the batch is handed out; seq and position (16 of the ~40 bytes
 * per event, which a fold's handlers rarely read) are read the first time a consumer touches them,
 * synchronously, and verified like the rest (column-blocks.ts). To a consumer it is an ordinary
 * ColumnBatch: `seq` and `position` are enumerable properties (a spread or a structured clone reads
 * them too).
 */
import type { ColumnBatch } from '../event-store.ts';
import { CorruptDataError } from '../../model/errors.ts';
import { ColumnFileBlocks } from './column-blocks.ts';
import type { ColumnFileInfo } from './columnar-segment.ts';
import type { ColumnFileLayout, ColumnRegion } from './column-layout.ts';

const FIELD_PREFIX = 'f.'; // columnar-segment.ts's name of a payload field's column

/**
 * Where a shared lean batch's seq and position columns lie in its file. A batch for worker threads
 * (a shared scan) crosses as a structured clone, which would call accessors (reading both columns on
 * the main thread): it carries this instead, plain data, and the worker that first uses a column reads
 * and verifies it from the file itself (withLazyColumns).
 */
export interface LazyColumns {
  readonly path: string;
  readonly info: ColumnFileInfo;
  readonly seq: ColumnRegion;
  readonly position: ColumnRegion;
}

/** The property a shared lean batch carries its LazyColumns in (seq and position are not enumerable then). */
export const LAZY_COLUMNS = 'lazyColumns';

/**
 * A shared lean batch received in a worker: seq and position become accessors that read and verify
 * them from the file on first use (into memory of the worker's own: the file never changes). Any other
 * batch is returned as it is.
 */
export function withLazyColumns<B extends object>(batch: B): B {
  const lazy = (batch as { [LAZY_COLUMNS]?: LazyColumns })[LAZY_COLUMNS];
  if (lazy === undefined || Object.prototype.hasOwnProperty.call(batch, 'seq')) return batch;
  const n = lazy.info.rows;
  let blocks: ColumnFileBlocks | undefined;
  const read = (r: ColumnRegion): (() => Float64Array) => {
    let values: Float64Array | undefined;
    return () => {
      if (values !== undefined) return values;
      blocks ??= new ColumnFileBlocks(lazy.path, lazy.info, new Uint8Array(lazy.info.bytes));
      blocks.loadSync([[r.offset, r.offset + r.length]]);
      values = new Float64Array(blocks.buffer.buffer, blocks.buffer.byteOffset + r.offset, n);
      return values;
    };
  };
  Object.defineProperty(batch, 'seq', { enumerable: true, get: read(lazy.seq) });
  Object.defineProperty(batch, 'position', { enumerable: true, get: read(lazy.position) });
  return batch;
}

/**
 * Reads the columns a batch hands out now and returns the batch. `valid` tells whether the batch's
 * buffer still holds this file (a batch is valid until the scan has handed out the next ones).
 */
export async function readLeanBatch(blocks: ColumnFileBlocks, fd: number, layout: ColumnFileLayout, wanted: readonly string[] | undefined, valid: () => boolean, shared = false): Promise<ColumnBatch> {
  const { info, buffer } = blocks;
  const names = wanted ?? info.fields;
  const now = ['key', 'type', 'time', ...names.map((f) => FIELD_PREFIX + f)].map((c) => layout.columns.get(c)).filter((r) => r !== undefined);
  await blocks.load(fd, now.map((r) => [r.offset, r.offset + r.length] as const));
  const n = info.rows;
  const f64 = (r: ColumnRegion) => new Float64Array(buffer.buffer, buffer.byteOffset + r.offset, n);
  const i32 = (r: ColumnRegion) => new Int32Array(buffer.buffer, buffer.byteOffset + r.offset, n);
  const column = (name: string) => layout.columns.get(name) as ColumnRegion;
  const fields: Record<string, Float64Array> = {};
  for (const name of names) {
    const r = layout.columns.get(FIELD_PREFIX + name);
    if (r === undefined && info.fields.includes(name)) throw new CorruptDataError(blocks.path, 0, `column ${FIELD_PREFIX + name} missing or split`);
    fields[name] = r !== undefined ? f64(r) : new Float64Array(n).fill(Number.NaN);
  }
  const later = (name: 'seq' | 'position'): (() => Float64Array) => {
    let values: Float64Array | undefined;
    return () => {
      if (values !== undefined) return values;
      if (!valid()) throw new Error(`column ${name} of ${blocks.path} read after the scan moved on (a batch is valid until the next one is handed out)`);
      const r = column(name);
      blocks.loadSync([[r.offset, r.offset + r.length]]);
      values = f64(r);
      return values;
    };
  };
  const batch = { stream: info.stream, length: n, keys: layout.keys, keyIndex: i32(column('key')), types: layout.types, typeIndex: i32(column('type')), time: f64(column('time')), fields };
  if (shared) {
    const lazy: LazyColumns = { path: blocks.path, info, seq: column('seq'), position: column('position') };
    Object.defineProperty(batch, LAZY_COLUMNS, { enumerable: true, value: lazy });
    // Not enumerable here: a structured clone to a worker must not read them (withLazyColumns there).
    Object.defineProperty(batch, 'seq', { enumerable: false, get: later('seq') });
    Object.defineProperty(batch, 'position', { enumerable: false, get: later('position') });
  } else {
    Object.defineProperty(batch, 'seq', { enumerable: true, get: later('seq') });
    Object.defineProperty(batch, 'position', { enumerable: true, get: later('position') });
  }
  return batch as typeof batch & Pick<ColumnBatch, 'seq' | 'position'>;
}
