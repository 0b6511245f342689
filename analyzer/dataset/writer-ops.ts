/**
 * How a dataset's fold hands its appends and snapshots to the writer thread (writer-thread.ts): flat
 * arrays of strings and numbers, which a structured clone copies far faster than objects, and which the
 * thread turns back into exactly the calls the fold would have made on a `BulkWriter`.
 *
 * An event's payload travels as its JSON text plus its top-level numeric fields (all the store's typed
 * columns are made of, column-builder.ts), never as the value itself: the thread needs nothing else.
 */
import type { JsonValue, Snapshot, StoredEvent } from '../../src/model/event.ts';
import type { BulkBatch } from '../../src/store/embedded/bulk-writer.ts';

/** A flat run of operations (see `packBatch`, `packSnapshotText`). */
export type Ops = unknown[];

const BATCH = 0;
const SNAPSHOT_TEXT = 1;
const SNAPSHOT_BYTES = 2;

/** Appends a batch to `ops`; returns roughly the bytes it adds (for flushing by size). */
export function packBatch(ops: Ops, batch: BulkBatch): number {
  const { events, dataTexts, metaTexts } = batch;
  ops.push(BATCH, batch.stream, batch.key, events.length);
  let bytes = 64;
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as StoredEvent;
    const dataText = dataTexts[i] as string;
    const metaText = metaTexts[i];
    ops.push(e.seq, e.position, e.time, e.type, dataText, metaText === undefined ? null : metaText);
    bytes += 48 + dataText.length + (metaText === undefined ? 0 : metaText.length);
    // The numbers the column builder would take from `data`, in the same order, after their count.
    const data = e.data;
    const countAt = ops.push(0) - 1;
    let fields = 0;
    if (typeof data === 'object' && data !== null && !Array.isArray(data)) {
      for (const name of Object.keys(data)) {
        const v = (data as Record<string, unknown>)[name];
        if (typeof v !== 'number') continue;
        ops.push(name, v);
        fields++;
      }
    }
    ops[countAt] = fields;
  }
  return bytes;
}

export function packSnapshotText(ops: Ops, snapshot: Omit<Snapshot, 'sizeBytes' | 'data'>, text: string): number {
  ops.push(SNAPSHOT_TEXT, snapshot.process, snapshot.version, snapshot.shard, snapshot.position, snapshot.time, text);
  return 64 + text.length;
}

export function packSnapshot(ops: Ops, snapshot: Omit<Snapshot, 'sizeBytes'>): number {
  ops.push(SNAPSHOT_BYTES, snapshot.process, snapshot.version, snapshot.shard, snapshot.position, snapshot.time, snapshot.data);
  return 64 + snapshot.data.byteLength;
}

/** What unpacked operations are handed to (a `BulkWriter`'s methods). */
export interface OpsTarget {
  append(batch: BulkBatch): void;
  putSnapshot(snapshot: Omit<Snapshot, 'sizeBytes'>): void;
  putSnapshotText(snapshot: Omit<Snapshot, 'sizeBytes' | 'data'>, text: string): void;
}

/** Replays packed operations on `target`, in order. */
export function unpackOps(ops: Ops, target: OpsTarget): void {
  let i = 0;
  while (i < ops.length) {
    const op = ops[i++] as number;
    if (op === BATCH) {
      const stream = ops[i++] as string;
      const key = ops[i++] as string;
      const n = ops[i++] as number;
      const events: StoredEvent[] = new Array(n);
      const dataTexts: string[] = new Array(n);
      const metaTexts: Array<string | undefined> = new Array(n);
      for (let j = 0; j < n; j++) {
        const seq = ops[i++] as number;
        const position = ops[i++] as number;
        const time = ops[i++] as number;
        const type = ops[i++] as string;
        dataTexts[j] = ops[i++] as string;
        const metaText = ops[i++] as string | null;
        metaTexts[j] = metaText === null ? undefined : metaText;
        const fields = ops[i++] as number;
        let data: JsonValue = null;
        if (fields > 0) {
          const record: Record<string, number> = {};
          for (let f = 0; f < fields; f++) {
            const name = ops[i++] as string;
            const v = ops[i++] as number;
            // An own "__proto__" field (JSON.parse makes one) must stay a field, not set the prototype.
            if (name === '__proto__') Object.defineProperty(record, name, { value: v, enumerable: true, writable: true, configurable: true });
            else record[name] = v;
          }
          data = record;
        }
        events[j] = { stream, key, seq, position, time, type, data };
      }
      target.append({ stream, key, events, dataTexts, metaTexts });
    } else if (op === SNAPSHOT_TEXT) {
      const info = { process: ops[i] as string, version: ops[i + 1] as string, shard: ops[i + 2] as string, position: ops[i + 3] as number, time: ops[i + 4] as number };
      target.putSnapshotText(info, ops[i + 5] as string);
      i += 6;
    } else if (op === SNAPSHOT_BYTES) {
      target.putSnapshot({ process: ops[i] as string, version: ops[i + 1] as string, shard: ops[i + 2] as string, position: ops[i + 3] as number, time: ops[i + 4] as number, data: ops[i + 5] as Uint8Array });
      i += 6;
    } else throw new Error(`dataset writer: unknown operation ${String(op)} at ${i - 1}`);
  }
}
