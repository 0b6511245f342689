/**
 * One stream's typed columns as a builder fills them row by row (ColumnBuilder from event objects,
 * bulk-records.ts's StreamColumns from flat records): keys and types as indexes into name lists, seq,
 * time and position, and one float64 column per numeric payload field (NaN where a row has none),
 * grown by doubling. The batch views the arrays: build it once, at the end.
 */
import type { ColumnBatch } from '../event-store.ts';

const INITIAL_ROWS = 1024;

/** `K`: how the builder names a payload field (its text, or a string table id). */
export abstract class TypedColumns<K> {
  length = 0;
  protected capacity = INITIAL_ROWS;
  readonly keys: string[] = [];
  readonly types: string[] = [];
  protected keyIndex = new Int32Array(INITIAL_ROWS);
  protected typeIndex = new Int32Array(INITIAL_ROWS);
  protected seq = new Float64Array(INITIAL_ROWS);
  protected time = new Float64Array(INITIAL_ROWS);
  protected position = new Float64Array(INITIAL_ROWS);
  protected readonly fields = new Map<K, Float64Array>();

  constructor(readonly stream: string) {}

  /** The column of payload field `name`, made (all NaN) when the field first appears. */
  protected field(name: K): Float64Array {
    let column = this.fields.get(name);
    if (column === undefined) {
      column = new Float64Array(this.capacity).fill(Number.NaN);
      this.fields.set(name, column);
    }
    return column;
  }

  /** The columns so far; fields named by `nameOf` and sorted by name. */
  protected columns(nameOf: (k: K) => string): ColumnBatch {
    const n = this.length;
    const named = [...this.fields].map(([k, column]) => [nameOf(k), column] as const);
    named.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const fields: Record<string, Float64Array> = {};
    for (const [name, column] of named) fields[name] = column.subarray(0, n);
    return {
      stream: this.stream,
      length: n,
      keys: this.keys,
      keyIndex: this.keyIndex.subarray(0, n),
      types: this.types,
      typeIndex: this.typeIndex.subarray(0, n),
      seq: this.seq.subarray(0, n),
      time: this.time.subarray(0, n),
      position: this.position.subarray(0, n),
      fields,
    };
  }

  protected grow(): void {
    const capacity = this.capacity * 2;
    const grown = <T extends Int32Array | Float64Array>(a: T, fill?: number): T => {
      const b = (a instanceof Int32Array ? new Int32Array(capacity) : new Float64Array(capacity)) as T;
      if (fill !== undefined) b.fill(fill, this.capacity);
      b.set(a);
      return b;
    };
    this.keyIndex = grown(this.keyIndex);
    this.typeIndex = grown(this.typeIndex);
    this.seq = grown(this.seq);
    this.time = grown(this.time);
    this.position = grown(this.position);
    for (const [name, column] of this.fields) this.fields.set(name, grown(column, Number.NaN));
    this.capacity = capacity;
  }
}
