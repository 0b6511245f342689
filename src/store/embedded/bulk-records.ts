/**
 * What a bulk load's sink needs to seal a segment, besides its bytes: per event, the numbers its typed
 * columns are made of and where its payload and meta JSON lie in the segment. The writer
 * (bulk-writer.ts) records them as flat float64 records next to the frames it encodes, with every
 * string (stream, key, type, field name) as a number in a table that grows as new strings appear; the
 * sink (bulk-sink.ts) turns them into one `ColumnBatch` per stream and segment.
 *
 * Why: columns built from event objects in the writer's thread cost that thread a loop over objects,
 * maps and growing arrays per event, and either the objects or the columns then had to cross threads.
 * Records are appended with a few stores, move to the sink thread without a copy, and are read there
 * in one pass. The columns are exactly `ColumnBuilder`'s (column-builder.ts): keys and types numbered by
 * first appearance in the segment, one float64 column per top-level numeric payload field (NaN where
 * an event has none), fields sorted by name.
 */
import type { ColumnBatch } from '../event-store.ts';
import { TextRanges } from './text-ranges.ts';
import { TypedColumns } from './typed-columns.ts';

/** Record layout: these fixed slots, then `fields` pairs of (field name id, value). */
export const REC_STREAM = 0;
export const REC_KEY = 1;
export const REC_TYPE = 2;
export const REC_SEQ = 3;
export const REC_POSITION = 4;
export const REC_TIME = 5;
export const REC_DATA_OFFSET = 6;
export const REC_DATA_LENGTH = 7;
export const REC_META_OFFSET = 8;
/** -1: the event has no meta. */
export const REC_META_LENGTH = 9;
export const REC_FIELDS = 10;
export const REC_FIXED = 11;

/** The records of a piece of frames, and the strings first numbered in it (ids follow on from the previous piece's). */
export interface RecordPiece {
  readonly records: Float64Array;
  readonly strings: readonly string[];
}

/** The writer's side: numbers strings and appends records. */
export class RecordWriter {
  private readonly ids = new Map<string, number>();
  private fresh: string[] = [];
  private records: Float64Array;
  length = 0;

  /**
   * `initialSlots`: room for that many numbers before the buffer grows (small in tests, to make it grow).
   * `spare`: a used buffer of that many slots to fill again instead of a new one (bulk-spares.ts), if any.
   */
  constructor(
    initialSlots = 1 << 16,
    private readonly spare?: (slots: number) => Float64Array | undefined,
  ) {
    this.records = new Float64Array(initialSlots);
  }

  /** The id of a string, numbering it when it is new. */
  id(s: string): number {
    let id = this.ids.get(s);
    if (id === undefined) {
      id = this.ids.size;
      this.ids.set(s, id);
      this.fresh.push(s);
    }
    return id;
  }

  /** Room for `slots` more numbers; returns the array to write them into (at `length`). */
  reserve(slots: number): Float64Array {
    if (this.length + slots > this.records.length) {
      const grown = new Float64Array(Math.max(2 * this.records.length, this.length + slots));
      // All of it: a record being written (addRecord) lies beyond `length` until it is complete.
      grown.set(this.records);
      this.records = grown;
    }
    return this.records;
  }

  /**
   * Takes what was recorded since the last cut: a copy when it is a small part of the buffer, else
   * the buffer itself (copying megabytes per piece cost more than a fresh buffer) with later records
   * going to a fresh one.
   */
  cut(): RecordPiece {
    const small = 4 * this.length < this.records.length;
    const piece = { records: small ? this.records.slice(0, this.length) : this.records.subarray(0, this.length), strings: this.fresh };
    if (!small) this.records = this.spare?.(this.records.length) ?? new Float64Array(this.records.length);
    this.length = 0;
    this.fresh = [];
    return piece;
  }
}

/**
 * Appends an event's record: the fixed slots, then the top-level numeric fields of its payload as
 * (field id, value) pairs.
 */
export function addRecord(
  writer: RecordWriter,
  stream: number,
  key: number,
  type: number,
  seq: number,
  position: number,
  time: number,
  dataOffset: number,
  dataLength: number,
  metaOffset: number,
  metaLength: number,
  data: unknown,
): void {
  const at = writer.length;
  let records = writer.reserve(REC_FIXED);
  records[at + REC_STREAM] = stream;
  records[at + REC_KEY] = key;
  records[at + REC_TYPE] = type;
  records[at + REC_SEQ] = seq;
  records[at + REC_POSITION] = position;
  records[at + REC_TIME] = time;
  records[at + REC_DATA_OFFSET] = dataOffset;
  records[at + REC_DATA_LENGTH] = dataLength;
  records[at + REC_META_OFFSET] = metaOffset;
  records[at + REC_META_LENGTH] = metaLength;
  let fields = 0;
  if (typeof data === 'object' && data !== null && !Array.isArray(data)) {
    // for-in, not Object.keys: no array per event. On a plain object (a payload parsed or copied from
    // JSON, or emitted as such) it visits the same names; the order does not matter (fields are sorted).
    const plain = Object.getPrototypeOf(data) === Object.prototype;
    for (const name in data) {
      const v = (data as Record<string, unknown>)[name];
      if (typeof v !== 'number' || !(plain || Object.hasOwn(data, name))) continue;
      const id = writer.id(name);
      records = writer.reserve(REC_FIXED + 2 * fields + 2);
      records[at + REC_FIXED + 2 * fields] = id;
      records[at + REC_FIXED + 2 * fields + 1] = v;
      fields++;
    }
  }
  records[at + REC_FIELDS] = fields;
  writer.length = at + REC_FIXED + 2 * fields;
}

/** One stream's columns of one segment, built from records (fields named by string id). */
class StreamColumns extends TypedColumns<number> {
  /**
   * Global string id → 1 + its index in `keys` (this segment's numbering), 0: not yet seen. An array
   * indexed by id, not a map: one lookup per event, and the ids are dense (every string of the load).
   */
  private keyIds = new Int32Array(1024);
  /** The same for `types`. */
  private typeIds = new Int32Array(16);
  private lastKey = -1;
  private lastKeyIndex = -1;
  readonly texts = new TextRanges();

  add(records: Float64Array, r: number, strings: readonly string[]): void {
    if (this.length === this.capacity) this.grow();
    const i = this.length++;
    const key = records[r + REC_KEY] as number;
    if (key !== this.lastKey) {
      if (key >= this.keyIds.length) this.keyIds = widened(this.keyIds, key);
      let k = (this.keyIds[key] as number) - 1;
      if (k < 0) {
        k = this.keys.push(strings[key] as string) - 1;
        this.keyIds[key] = k + 1;
      }
      this.lastKey = key;
      this.lastKeyIndex = k;
    }
    const type = records[r + REC_TYPE] as number;
    if (type >= this.typeIds.length) this.typeIds = widened(this.typeIds, type);
    let t = (this.typeIds[type] as number) - 1;
    if (t < 0) {
      t = this.types.push(strings[type] as string) - 1;
      this.typeIds[type] = t + 1;
    }
    this.keyIndex[i] = this.lastKeyIndex;
    this.typeIndex[i] = t;
    this.seq[i] = records[r + REC_SEQ] as number;
    this.time[i] = records[r + REC_TIME] as number;
    this.position[i] = records[r + REC_POSITION] as number;
    const fields = records[r + REC_FIELDS] as number;
    for (let f = 0; f < fields; f++) {
      this.field(records[r + REC_FIXED + 2 * f] as number)[i] = records[r + REC_FIXED + 2 * f + 1] as number;
    }
    this.texts.add(records[r + REC_DATA_OFFSET] as number, records[r + REC_DATA_LENGTH] as number, records[r + REC_META_OFFSET] as number, records[r + REC_META_LENGTH] as number);
  }

  batch(strings: readonly string[]): ColumnBatch {
    // A field's name is one string id, so names are distinct.
    return this.columns((id) => strings[id] as string);
  }
}

/** `ids` grown to hold index `id`, zeros added. */
function widened(ids: Int32Array, id: number): Int32Array<ArrayBuffer> {
  const out = new Int32Array(Math.max(2 * ids.length, id + 1));
  out.set(ids);
  return out;
}

export class SegmentColumns {
  private readonly strings: string[] = [];
  private streams = new Map<number, StreamColumns>();

  /** Adds a piece's records (pieces in order). */
  add(piece: RecordPiece): void {
    for (const s of piece.strings) this.strings.push(s);
    const { records } = piece;
    const strings = this.strings;
    for (let r = 0; r < records.length; r += REC_FIXED + 2 * (records[r + REC_FIELDS] as number)) {
      const stream = records[r + REC_STREAM] as number;
      let columns = this.streams.get(stream);
      if (columns === undefined) this.streams.set(stream, (columns = new StreamColumns(strings[stream] as string)));
      columns.add(records, r, strings);
    }
  }

  /** The segment's columns per stream (in first-appearance order) with their text ranges; starts the next segment. */
  end(): Array<{ batch: ColumnBatch; texts: Float64Array }> {
    const out = [...this.streams.values()].map((c) => ({ batch: c.batch(this.strings), texts: c.texts.view() }));
    this.streams = new Map();
    return out;
  }
}
