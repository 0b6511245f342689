/**
 * Where each column of a sealed Arrow IPC file lies, read from the file's footer and message headers
 * (a few KiB at its ends) so that a scan can read only the columns it hands out (column-reads.ts)
 * instead of the whole file. Every byte parsed here comes from blocks whose checksum was verified
 * (column-blocks.ts).
 *
 * It understands the files columnar-segment.ts writes: one record batch, no compression, no nulls,
 * dictionary-encoded utf8 key and type with int32 indices, every other column float64. Anything else
 * gives null, and the scan reads and decodes the whole file as before.
 */
import { DataType, Message, Precision, type Field } from 'apache-arrow';
import { Footer } from 'apache-arrow/ipc/metadata/file';
import type { ColumnFileBlocks } from './column-blocks.ts';

/** The bytes of one column's values in the file. */
export interface ColumnRegion {
  readonly offset: number;
  readonly length: number;
}

export interface ColumnFileLayout {
  readonly keys: string[];
  readonly types: string[];
  /** By Arrow column name (`key`, `type`: int32 indices; `seq`, `time`, `position`, `f.<field>`: float64). */
  readonly columns: ReadonlyMap<string, ColumnRegion>;
}

const MAGIC = 'ARROW1';
const TAIL = 10; // int32 footer length + magic

export async function readColumnLayout(blocks: ColumnFileBlocks, fd: number): Promise<ColumnFileLayout | null> {
  const { bytes: size, rows } = blocks.info;
  if (size < 2 * TAIL) return null;
  await blocks.load(fd, [[0, 8], [size - TAIL, size]]);
  const buf = blocks.buffer;
  const view = new DataView(buf.buffer, buf.byteOffset, size);
  if (text(buf, 0, 6) !== MAGIC || text(buf, size - 6, size) !== MAGIC) return null;
  const footerLength = view.getInt32(size - TAIL, true);
  const footerStart = size - TAIL - footerLength;
  if (footerLength <= 0 || footerStart < 8) return null;
  await blocks.load(fd, [[footerStart, size - TAIL]]);
  const footer = attempt(() => Footer.decode(buf.subarray(footerStart, size - TAIL)));
  const batch = footer !== null && footer.numRecordBatches === 1 ? footer.getRecordBatch(0) : null;
  if (footer === null) return null;
  if (batch === null) return null;

  // Every message header (and the dictionaries' bodies) before reading the columns.
  const blocksOf = [...footer.dictionaryBatches(), batch];
  await blocks.load(fd, blocksOf.map((b) => [b.offset, b.offset + b.metaDataLength] as const));
  const dictionaries = new Map<number, string[]>();
  for (const d of footer.dictionaryBatches()) {
    const m = message(view, buf, d.offset, d.metaDataLength);
    const header = m?.isDictionaryBatch() ? m.header() : null;
    if (header === null || header.isDelta || m?.compression != null) return null;
    const body = d.offset + d.metaDataLength;
    await blocks.load(fd, [[body, body + Number(d.bodyLength)]]);
    const strings = utf8Values(view, buf, body, header.data.nodes, header.data.buffers);
    if (strings === null) return null;
    dictionaries.set(header.id, strings);
  }

  const m = message(view, buf, batch.offset, batch.metaDataLength);
  const header = m?.isRecordBatch() ? m.header() : null;
  if (header === null || header.compression != null || m?.compression != null || header.length !== rows) return null;
  const fields = footer.schema.fields;
  if (header.nodes.length !== fields.length || header.buffers.length !== 2 * fields.length) return null;
  const body = batch.offset + batch.metaDataLength;
  const columns = new Map<string, ColumnRegion>();
  let keys: string[] | undefined;
  let types: string[] | undefined;
  for (let j = 0; j < fields.length; j++) {
    const field = fields[j] as Field;
    const node = header.nodes[j];
    const values = header.buffers[2 * j + 1];
    if (node === undefined || values === undefined || node.length !== rows || node.nullCount !== 0) return null;
    const width = columnWidth(field, dictionaries);
    const offset = body + values.offset;
    if (width === 0 || offset % width !== 0 || values.length < rows * width || offset + rows * width > size) return null;
    columns.set(field.name, { offset, length: rows * width });
    if (field.name === 'key') keys = dictionaries.get(field.type.id);
    if (field.name === 'type') types = dictionaries.get(field.type.id);
  }
  if (keys === undefined || types === undefined) return null;
  for (const name of ['key', 'type', 'seq', 'time', 'position']) if (!columns.has(name)) return null;
  return { keys, types, columns };
}

/** Bytes per value of a column this reader maps (0: a column it does not know). */
function columnWidth(field: Field, dictionaries: ReadonlyMap<number, string[]>): number {
  const t = field.type;
  if (field.name === 'key' || field.name === 'type') {
    const ok = DataType.isDictionary(t) && t.indices.bitWidth === 32 && t.indices.isSigned && DataType.isUtf8(t.dictionary) && dictionaries.has(t.id);
    return ok ? 4 : 0;
  }
  return DataType.isFloat(t) && t.precision === Precision.DOUBLE ? 8 : 0;
}

/** The message whose metadata (continuation marker, length, flatbuffer) starts at `offset`. */
function message(view: DataView, buf: Uint8Array, offset: number, metaDataLength: number): Message | null {
  if (offset < 8 || offset + 8 > view.byteLength || view.getInt32(offset, true) !== -1) return null;
  const length = view.getInt32(offset + 4, true);
  if (length <= 0 || 8 + length > metaDataLength) return null;
  return attempt(() => Message.decode(buf.subarray(offset + 8, offset + 8 + length)));
}

/** A header that does not decode is not a layout this reader knows: the whole-file path reports it. */
function attempt<T>(decode: () => T): T | null {
  try {
    return decode();
  } catch {
    return null;
  }
}

/** The strings of a utf8 dictionary (offsets, then bytes) whose body starts at `body`. */
function utf8Values(view: DataView, buf: Uint8Array, body: number, nodes: ReadonlyArray<{ length: number; nullCount: number }>, buffers: ReadonlyArray<{ offset: number; length: number }>): string[] | null {
  const node = nodes[0];
  const offsets = buffers[1];
  const data = buffers[2];
  if (nodes.length !== 1 || buffers.length !== 3 || node === undefined || offsets === undefined || data === undefined || node.nullCount !== 0) return null;
  if (offsets.length < (node.length + 1) * 4) return null;
  const decoder = new TextDecoder();
  const out: string[] = [];
  const dataStart = body + data.offset;
  for (let i = 0; i < node.length; i++) {
    const from = view.getInt32(body + offsets.offset + i * 4, true);
    const to = view.getInt32(body + offsets.offset + (i + 1) * 4, true);
    if (from < 0 || to < from || to > data.length) return null;
    out.push(decoder.decode(buf.subarray(dataStart + from, dataStart + to)));
  }
  return out;
}

function text(buf: Uint8Array, from: number, to: number): string {
  return String.fromCharCode(...buf.subarray(from, to));
}

/**
 * Layouts of the sealed column files a store has read: a sealed file never changes, so its layout (and
 * its dictionaries, read from verified blocks) is read once per store. A later scan then issues all of
 * a file's column reads at once (column-reads.ts), without the chain of footer and header reads.
 * Keyed by path and the manifest's entry: a segment sealed again has a new entry.
 */
export class ColumnLayoutCache {
  private readonly layouts = new Map<string, { readonly info: object; readonly layout: ColumnFileLayout | null }>();

  get(path: string, info: object): ColumnFileLayout | null | undefined {
    const entry = this.layouts.get(path);
    return entry !== undefined && entry.info === info ? entry.layout : undefined;
  }

  set(path: string, info: object, layout: ColumnFileLayout | null): void {
    this.layouts.set(path, { info, layout });
  }

  clear(): void {
    this.layouts.clear();
  }
}
