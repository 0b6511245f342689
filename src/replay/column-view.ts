/**
 * The input event a handler sees in the columnar replay fold: one reused object per fold whose
 * `data` reads the batch's typed columns at the current row, so a fold over millions of events
 * allocates nothing per event (define.ts: an InputEvent "may be a reused view, valid only during the
 * call"). Only the fields of the process's `reads` declaration exist on `data`.
 *
 * A column holds NaN where an event's field is missing or not a number (JSON has no NaN). Reading
 * such a value marks the row `missed` and throws: the fold then leaves the shard to the object path,
 * which sees the real payload. So a fold never produces output the object path would not.
 *
 * In checking mode (tests, `spive replay --verify`) the handler gets a fresh event whose `data` is a
 * Proxy that throws `UndeclaredReadError` on any other use of the payload — reading an undeclared
 * field, enumerating, serializing or changing it — and both are revoked after the call, so keeping
 * the view past the call fails loudly too.
 */

import type { ColumnBatch } from '../store/event-store.ts';

/** A handler used the payload beyond what its process's `reads` declares: the declaration is wrong. */
export class UndeclaredReadError extends Error {
  override name = 'UndeclaredReadError';
  constructor(
    readonly process: string,
    readonly eventType: string,
    readonly what: string,
    readonly declared: readonly string[],
  ) {
    super(
      `process ${process}: its handler for ${eventType} ${what}, but the process declares reads: [${declared.join(', ')}]; ` +
        'list every payload field its handlers read in `reads` (or remove `reads` to replay through decoded events)',
    );
  }
}

/** Thrown (and flagged) when a declared field of the current row is not a number in the payload. */
export const NOT_COLUMNAR: unique symbol = Symbol('not columnar');

/** Where the views read: the current batch's field columns (in `reads` order) and row. */
export interface ColumnCursor {
  cols: Float64Array[];
  i: number;
  /** Set when a read hit a value the columns cannot represent (the shard falls back). */
  missed: boolean;
  /** Set in checking mode when the handler broke its declaration (even if it caught the error). */
  undeclared: UndeclaredReadError | undefined;
  /**
   * The batch being folded. Its seq and position columns are taken on an event's first read of them:
   * a store may read those columns only then (lean-column-batch.ts), and most handlers never do.
   */
  batch: ColumnBatch | undefined;
  seq: Float64Array | undefined;
  position: Float64Array | undefined;
  /** Set when taking such a column failed (a corrupt file): the fold rethrows it, never falls back. */
  failure: unknown;
}

/** The reused event object; the fold assigns its fields per row (seq and position read the cursor's batch). */
export interface ColumnEvent {
  stream: string;
  key: string;
  readonly seq: number;
  readonly position: number;
  time: number;
  type: string;
  data: object;
}

export function newCursor(): ColumnCursor {
  return { cols: [], i: 0, missed: false, undeclared: undefined, batch: undefined, seq: undefined, position: undefined, failure: undefined };
}

/** Points the cursor at a new batch. */
export function cursorAt(cursor: ColumnCursor, batch: ColumnBatch, cols: Float64Array[]): void {
  cursor.batch = batch;
  cursor.cols = cols;
  cursor.seq = undefined;
  cursor.position = undefined;
}

const CURSOR: unique symbol = Symbol('cursor');

/**
 * Prototypes with one enumerable getter per declared field, shared by every fold of the same
 * `reads` list: the getters stay the same functions, so V8 inlines them into the fold's loop.
 */
const prototypes = new Map<string, object>();

function dataPrototype(fields: readonly string[]): object {
  const id = JSON.stringify(fields);
  let proto = prototypes.get(id);
  if (proto !== undefined) return proto;
  proto = {};
  fields.forEach((name, j) => {
    Object.defineProperty(proto, name, {
      enumerable: true,
      get(this: { [CURSOR]: ColumnCursor }): number {
        const c = this[CURSOR];
        const v = (c.cols[j] as Float64Array)[c.i] as number;
        // NaN and ±Infinity never come from JSON: the payload had something else there.
        if (v - v !== 0) {
          c.missed = true;
          throw NOT_COLUMNAR;
        }
        return v + 0; // -0 is written as 0 in JSON
      },
    });
  });
  prototypes.set(id, proto);
  return proto;
}

/**
 * The reused event: own enumerable properties in a StoredEvent's order (a spread copies them all),
 * seq and position as accessors. The accessors are the same functions for every view, so every view
 * has the same hidden class and the handler's property reads stay monomorphic across folds.
 */
export function eventView(data: object, cursor: ColumnCursor): ColumnEvent {
  const view = { stream: '', key: '' } as Record<string, unknown>;
  Object.defineProperty(view, 'seq', { get: seqAtCursor, enumerable: true, configurable: true });
  Object.defineProperty(view, 'position', { get: positionAtCursor, enumerable: true, configurable: true });
  view.time = 0;
  view.type = '';
  view.data = data;
  Object.defineProperty(view, CURSOR, { value: cursor, enumerable: false });
  return view as unknown as ColumnEvent;
}

function seqAtCursor(this: { [CURSOR]: ColumnCursor }): number {
  const c = this[CURSOR];
  return (c.seq ?? takeColumn(c, 'seq'))[c.i] as number;
}

function positionAtCursor(this: { [CURSOR]: ColumnCursor }): number {
  const c = this[CURSOR];
  return (c.position ?? takeColumn(c, 'position'))[c.i] as number;
}

function takeColumn(c: ColumnCursor, name: 'seq' | 'position'): Float64Array {
  try {
    const values = (c.batch as ColumnBatch)[name];
    c[name] = values;
    return values;
  } catch (e) {
    c.missed = true;
    c.failure ??= e;
    throw e;
  }
}

/** `data`: reads the declared fields at the cursor's row (getters on a shared prototype). */
export function dataView(fields: readonly string[], cursor: ColumnCursor): object {
  const data = Object.create(dataPrototype(fields)) as { [CURSOR]: ColumnCursor };
  Object.defineProperty(data, CURSOR, { value: cursor, enumerable: false });
  return data;
}

/** A checking-mode event for one call: fresh, with a guarded payload; `revoke` after the call. */
export function checkedEvent(view: ColumnEvent, process: string, declared: readonly string[], cursor: ColumnCursor): { event: ColumnEvent; revoke: () => void } {
  const fail = (what: string): never => {
    const e = new UndeclaredReadError(process, view.type, what, declared);
    cursor.undeclared ??= e;
    throw e;
  };
  const allowed = new Set(declared);
  const data = Proxy.revocable(view.data, {
    get(target, prop) {
      if (typeof prop === 'symbol') return undefined; // no payload has symbol keys (inspection probes them)
      if (allowed.has(prop)) return (target as Record<string, number>)[prop];
      return fail(prop === 'toJSON' ? 'serialized the whole payload' : `read payload field '${prop}'`);
    },
    has: (_, prop) => (typeof prop === 'string' && allowed.has(prop)) || fail(`tested for payload field '${String(prop)}'`),
    ownKeys: () => fail('enumerated the payload'),
    getOwnPropertyDescriptor: (target, prop) =>
      typeof prop === 'string' && allowed.has(prop) ? { value: (target as Record<string, number>)[prop], enumerable: true, configurable: true, writable: false } : fail(`inspected payload field '${String(prop)}'`),
    set: (_, prop) => fail(`changed payload field '${String(prop)}'`),
    defineProperty: (_, prop) => fail(`changed payload field '${String(prop)}'`),
    deleteProperty: (_, prop) => fail(`deleted payload field '${String(prop)}'`),
  });
  const event = Proxy.revocable({ ...view, data: data.proxy }, {}); // the spread reads seq and position too
  return {
    event: event.proxy,
    revoke: () => {
      data.revoke();
      event.revoke();
    },
  };
}
