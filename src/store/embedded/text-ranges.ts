/**
 * Where each event's payload and meta JSON lie in its WAL segment, row by row (from the column records
 * of bulk-records.ts): the texts Parquet needs are already in the segment's bytes, so a bulk load keeps
 * four numbers per event instead of the strings until the segment is sealed, and the sink
 * (bulk-sink.ts) reads them back out.
 * The texts come from JSON.stringify (well-formed UTF-16), so decoding their UTF-8 gives them back
 * exactly.
 */
import type { EventTexts } from './parquet-writer.ts';

const INITIAL_ROWS = 1024;

export class TextRanges {
  /** Per row: data offset, data length, meta offset, meta length (-1: no meta), in bytes of the segment. */
  private ranges = new Float64Array(4 * INITIAL_ROWS);
  rows = 0;

  add(dataOffset: number, dataLength: number, metaOffset: number, metaLength: number): void {
    if (4 * this.rows === this.ranges.length) {
      const grown = new Float64Array(2 * this.ranges.length);
      grown.set(this.ranges);
      this.ranges = grown;
    }
    const i = 4 * this.rows++;
    this.ranges[i] = dataOffset;
    this.ranges[i + 1] = dataLength;
    this.ranges[i + 2] = metaOffset;
    this.ranges[i + 3] = metaLength;
  }

  /** The ranges so far (a view: take it once, at the end). */
  view(): Float64Array {
    return this.ranges.subarray(0, 4 * this.rows);
  }
}

/**
 * The texts of `ranges` (a `TextRanges.view()`) from the segment's bytes, given as the pieces it was
 * written in, in order (a text never spans two: pieces hold whole frames).
 */
export function textsOf(pieces: readonly Buffer[], ranges: Float64Array): EventTexts {
  const rows = ranges.length / 4;
  const dataTexts = new Array<string>(rows);
  const metaTexts = new Array<string | undefined>(rows);
  // A stream's rows lie in increasing offsets: walk the pieces along with them.
  let piece = 0;
  let start = 0;
  const at = (offset: number): Buffer => {
    while (offset >= start + (pieces[piece] as Buffer).byteLength) start += (pieces[piece++] as Buffer).byteLength;
    return pieces[piece] as Buffer;
  };
  for (let r = 0; r < rows; r++) {
    const i = 4 * r;
    const data = ranges[i] as number;
    const bytes = at(data);
    dataTexts[r] = bytes.toString('utf8', data - start, data - start + (ranges[i + 1] as number));
    const metaLength = ranges[i + 3] as number;
    const meta = ranges[i + 2] as number;
    metaTexts[r] = metaLength < 0 ? undefined : at(meta).toString('utf8', meta - start, meta - start + metaLength);
  }
  return { dataTexts, metaTexts };
}
