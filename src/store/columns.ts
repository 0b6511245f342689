/** Builds a ColumnBatch from decoded events: the slow path for data not yet in columnar form. */
import type { StoredEvent } from '../model/event.ts';
import type { ColumnBatch } from './event-store.ts';

/** Top-level numeric fields of an event payload (the ones that get typed columns). */
export function numericFields(data: unknown, into: Set<string>): void {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return;
  for (const [name, value] of Object.entries(data)) if (typeof value === 'number') into.add(name);
}

export function columnsFromEvents(
  stream: string,
  events: readonly StoredEvent[],
  wanted?: readonly string[],
): ColumnBatch {
  const n = events.length;
  const keys: string[] = [];
  const keyIds = new Map<string, number>();
  const types: string[] = [];
  const typeIds = new Map<string, number>();
  const keyIndex = new Int32Array(n);
  const typeIndex = new Int32Array(n);
  const seq = new Float64Array(n);
  const time = new Float64Array(n);
  const position = new Float64Array(n);
  let names = wanted;
  if (names === undefined) {
    const found = new Set<string>();
    for (const e of events) numericFields(e.data, found);
    names = [...found].sort();
  }
  const fields: Record<string, Float64Array> = {};
  for (const name of names) fields[name] = new Float64Array(n).fill(Number.NaN);
  for (let i = 0; i < n; i++) {
    const e = events[i] as StoredEvent;
    let k = keyIds.get(e.key);
    if (k === undefined) {
      k = keys.push(e.key) - 1;
      keyIds.set(e.key, k);
    }
    let t = typeIds.get(e.type);
    if (t === undefined) {
      t = types.push(e.type) - 1;
      typeIds.set(e.type, t);
    }
    keyIndex[i] = k;
    typeIndex[i] = t;
    seq[i] = e.seq;
    time[i] = e.time;
    position[i] = e.position;
    const data = e.data as Record<string, unknown> | null;
    if (typeof data === 'object' && data !== null) {
      for (const name of names) {
        const v = data[name];
        if (typeof v === 'number') (fields[name] as Float64Array)[i] = v;
      }
    }
  }
  return { stream, length: n, keys, keyIndex, types, typeIndex, seq, time, position, fields };
}
