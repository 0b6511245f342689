/**
 * One input sequence of a process during a replay: a stream as stored, or the new version of an
 * upstream output (a version view, see view.ts). Either way it offers what the engine needs — event
 * times in order (for the merged numbering), the events of one key in order (inputs read as
 * stored), and every event in order (re-keyed inputs, routed by the key function).
 */
import type { StoredEvent } from '../model/event.ts';
import type { EventStore } from '../store/event-store.ts';

export interface IndexedEvent {
  /** Index of the event in the input's order (the index into `times`). */
  readonly index: number;
  readonly event: StoredEvent;
}

export interface InputSequence {
  /** The stream name handlers see (`event.stream`). */
  readonly stream: string;
  readonly length: number;
  /** Event time of every event, in the input's order. */
  readonly times: Float64Array;
  /** 1 for a platform (`$`) event, in the input's order: taken in the merge, not numbered. */
  readonly platform: Uint8Array;
  /** Keys present (every shard of the input, platform shards such as `$idle/0` included). */
  keys(): readonly string[];
  /** The events of one key from its `from`-th event on (0-based), with their indexes. */
  keyEvents(key: string, from?: number): AsyncIterable<IndexedEvent>;
  /** Indexes of one key's events, in order. */
  keyIndexes(key: string): Int32Array;
  /** Every event in order. */
  all(): AsyncIterable<IndexedEvent>;
}

/** Groups indexes by key id (CSR form): indexes of key k are order[offsets[k] .. offsets[k+1]). */
export function groupByKey(keyIds: Int32Array, keyCount: number): { offsets: Int32Array; order: Int32Array } {
  const offsets = new Int32Array(keyCount + 1);
  for (let i = 0; i < keyIds.length; i++) {
    const at = (keyIds[i] as number) + 1;
    offsets[at] = (offsets[at] as number) + 1;
  }
  for (let k = 0; k < keyCount; k++) offsets[k + 1] = (offsets[k + 1] as number) + (offsets[k] as number);
  const fill = offsets.slice(0, keyCount);
  const order = new Int32Array(keyIds.length);
  for (let i = 0; i < keyIds.length; i++) {
    const k = keyIds[i] as number;
    order[fill[k] as number] = i;
    fill[k] = (fill[k] as number) + 1;
  }
  return { offsets, order };
}

/** A stream as stored: times and keys from the store's columns (no payload decoding), events from readShard/readStream. */
export async function storedInput(store: EventStore, stream: string): Promise<InputSequence> {
  const timeParts: Float64Array[] = [];
  const platformParts: Uint8Array[] = [];
  const keyParts: Int32Array[] = [];
  const keyNames: string[] = [];
  const keyIds = new Map<string, number>();
  let length = 0;
  for await (const batch of store.scanColumns(stream, { fields: [] })) {
    const local = new Int32Array(batch.keys.length);
    batch.keys.forEach((k, i) => {
      let id = keyIds.get(k);
      if (id === undefined) {
        id = keyNames.push(k) - 1;
        keyIds.set(k, id);
      }
      local[i] = id;
    });
    const ids = new Int32Array(batch.length);
    for (let i = 0; i < batch.length; i++) ids[i] = local[batch.keyIndex[i] as number] as number;
    timeParts.push(batch.time.slice(0, batch.length));
    const isPlatform = Uint8Array.from(batch.types, (t) => (t.startsWith('$') ? 1 : 0));
    const flags = new Uint8Array(batch.length);
    for (let i = 0; i < batch.length; i++) flags[i] = isPlatform[batch.typeIndex[i] as number] as number;
    platformParts.push(flags);
    keyParts.push(ids);
    length += batch.length;
  }
  const times = concat(timeParts, length, Float64Array);
  const platform = concat(platformParts, length, Uint8Array);
  const keyOf = concat(keyParts, length, Int32Array);
  let grouped: ReturnType<typeof groupByKey> | undefined;
  const indexesOf = (key: string): Int32Array => {
    const id = keyIds.get(key);
    if (id === undefined) return new Int32Array(0);
    grouped ??= groupByKey(keyOf, keyNames.length);
    return grouped.order.subarray(grouped.offsets[id], grouped.offsets[id + 1]);
  };
  return {
    stream,
    length,
    times,
    platform,
    keys: () => keyNames,
    keyIndexes: indexesOf,
    async *keyEvents(key, from = 0) {
      const indexes = indexesOf(key);
      if (from >= indexes.length) return;
      // Seqs within a shard are contiguous and follow the stream's order: the j-th event of the key has seq j+1.
      let j = from;
      for await (const batch of store.readShard(stream, key, { fromSeq: from + 1, batchSize: 4096 })) {
        for (const event of batch) {
          if (j >= indexes.length) return; // appended after the columns were read: not part of this replay
          yield { index: indexes[j++] as number, event };
        }
      }
    },
    async *all() {
      let index = 0;
      for await (const batch of store.readStream(stream, { batchSize: 4096 })) {
        for (const event of batch) {
          if (index >= length) return;
          yield { index: index++, event };
        }
      }
    },
  };
}

function concat<T extends Float64Array | Int32Array | Uint8Array>(parts: T[], length: number, Kind: { new (n: number): T }): T {
  const out = new Kind(length);
  let at = 0;
  for (const p of parts) {
    out.set(p as never, at);
    at += p.length;
  }
  return out;
}
