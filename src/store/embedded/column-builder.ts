/**
 * Builds one stream's typed columns (a `ColumnBatch`) event by event, together with the payload and
 * meta JSON of each event, so that sealing needs neither the event objects nor a second pass over
 * them. The result is exactly what `columnsFromEvents` (src/store/columns.ts) makes of the same events
 * in the same order: keys and types numbered by first appearance, one float64 column per top-level
 * numeric payload field (NaN where an event has none), fields sorted by name.
 */
import type { StoredEvent } from '../../model/event.ts';
import type { ColumnBatch } from '../event-store.ts';

const INITIAL_ROWS = 1024;

export class ColumnBuilder {
  length = 0;
  private capacity = INITIAL_ROWS;
  private readonly keys: string[] = [];
  private readonly keyIds = new Map<string, number>();
  private readonly types: string[] = [];
  private readonly typeIds = new Map<string, number>();
  private keyIndex = new Int32Array(INITIAL_ROWS);
  private typeIndex = new Int32Array(INITIAL_ROWS);
  private seq = new Float64Array(INITIAL_ROWS);
  private time = new Float64Array(INITIAL_ROWS);
  private position = new Float64Array(INITIAL_ROWS);
  private readonly fields = new Map<string, Float64Array>();
  /** Payload JSON per row (only when built with texts). */
  readonly dataTexts: string[] = [];
  /** Meta JSON per row, undefined for none (only when built with texts). */
  readonly metaTexts: Array<string | undefined> = [];

  constructor(readonly stream: string) {}

  /** Adds events in order (one batch, or a run of any shards); texts are kept when given (all or none, for the builder's life). */
  addBatch(events: readonly StoredEvent[], dataTexts?: readonly string[], metaTexts?: ReadonlyArray<string | undefined>): void {
    const n = events.length;
    if (n === 0) return;
    while (this.length + n > this.capacity) this.grow();
    let lastKey: string | undefined;
    let k = -1;
    for (let j = 0; j < n; j++) {
      const e = events[j] as StoredEvent;
      const i = this.length++;
      if (e.key !== lastKey) {
        lastKey = e.key;
        const known = this.keyIds.get(e.key);
        if (known === undefined) {
          k = this.keys.push(e.key) - 1;
          this.keyIds.set(e.key, k);
        } else k = known;
      }
      let t = this.typeIds.get(e.type);
      if (t === undefined) {
        t = this.types.push(e.type) - 1;
        this.typeIds.set(e.type, t);
      }
      this.keyIndex[i] = k;
      this.typeIndex[i] = t;
      this.seq[i] = e.seq;
      this.time[i] = e.time;
      this.position[i] = e.position;
      const data = e.data;
      if (typeof data === 'object' && data !== null && !Array.isArray(data)) {
        for (const name of Object.keys(data)) {
          const v = (data as Record<string, unknown>)[name];
          if (typeof v !== 'number') continue;
          let column = this.fields.get(name);
          if (column === undefined) {
            column = new Float64Array(this.capacity).fill(Number.NaN);
            this.fields.set(name, column);
          }
          column[i] = v;
        }
      }
      if (dataTexts !== undefined) {
        this.dataTexts.push(dataTexts[j] as string);
        this.metaTexts.push(metaTexts?.[j]);
      }
    }
  }

  /** The columns built so far (views of the builder's arrays: build once, at the end). */
  batch(): ColumnBatch {
    const n = this.length;
    const fields: Record<string, Float64Array> = {};
    for (const name of [...this.fields.keys()].sort()) fields[name] = (this.fields.get(name) as Float64Array).subarray(0, n);
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

  private grow(): void {
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
