/**
 * Builds one stream's typed columns (a `ColumnBatch`) event by event, together with the payload and
 * meta JSON of each event, so that sealing needs neither the event objects nor a second pass over
 * them. The result is exactly what `columnsFromEvents` (src/store/columns.ts) makes of the same events
 * in the same order: keys and types numbered by first appearance, one float64 column per top-level
 * numeric payload field (NaN where an event has none), fields sorted by name.
 */
import type { StoredEvent } from '../../model/event.ts';
import type { ColumnBatch } from '../event-store.ts';
import { TypedColumns } from './typed-columns.ts';

export class ColumnBuilder extends TypedColumns<string> {
  private readonly keyIds = new Map<string, number>();
  private readonly typeIds = new Map<string, number>();
  /** Payload JSON per row (only when built with texts). */
  readonly dataTexts: string[] = [];
  /** Meta JSON per row, undefined for none (only when built with texts). */
  readonly metaTexts: Array<string | undefined> = [];

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
          this.field(name)[i] = v;
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
    return this.columns((name) => name);
  }
}
