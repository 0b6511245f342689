/**
 * Where each event's payload and meta JSON lie in its WAL segment, row by row (from the column records
 * of bulk-records.ts): the texts Parquet needs are already in the segment's bytes, so a bulk load keeps
 * four numbers per event instead of the strings until the segment is sealed, and the sink
 * (bulk-sink.ts) hands Parquet the bytes and these ranges (parquet-writer.ts `SegmentTexts`): no
 * string is made per text. The texts were written by JSON.stringify and UTF-8 encoding (well-formed),
 * so their bytes are exactly what the strings would have given DuckDB.
 */

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
