/**
 * Reads go through COPY … TO STDOUT and a parser of PostgreSQL's text format (copy-rows.ts), and
 * subscriptions wake on NOTIFY with polling behind it: awkward text must survive the round trip, and
 * a commit nobody notified about must still arrive.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, ManualTimers, type JsonValue, type StoredEvent } from 'spive';
import { field, sqlLiteral } from '../../../src/store/postgres/copy-rows.ts';
import { PostgresStore } from '../../../src/store/postgres/postgres-store.ts';
import { collect } from '../../helpers/async.ts';
import { service } from '../../helpers/services.ts';
import { dropSchema, freshSchema, rawClient, storeUrl } from './pg-test-db.ts';

const up = await service('postgres');
const T0 = 1_700_000_000_000;
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function openFresh(options: { timers?: ManualTimers; pollMs?: number } = {}): Promise<{ schema: string; store: PostgresStore }> {
  const schema = freshSchema('r');
  const store = await PostgresStore.open(storeUrl(schema), { poolSize: 4, ...options });
  cleanups.push(async () => {
    await store.close();
    await dropSchema(schema);
  });
  return { schema, store };
}

// What PostgreSQL text can hold: no NUL, no lone surrogates (they have no UTF-8 form).
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const storable = (s: string) => !s.includes('\u0000') && !loneSurrogate.test(s);
const awkward = fc.oneof(
  fc.constantFrom('tab\there', 'new\nline', 'back\\slash', '\\N', 'quote\'s "double"', '\r\b\f\v', 'é中😀', '\\\\t'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }),
).filter(storable);
const jsonArb: fc.Arbitrary<JsonValue> = fc.oneof(
  awkward,
  fc.jsonValue({ maxDepth: 3 }).filter((v) => storable(JSON.stringify(v) ?? '')) as fc.Arbitrary<JsonValue>,
  fc.dictionary(awkward, awkward, { maxKeys: 3 }),
);

describe.skipIf(!up)('PostgreSQL store: reading through COPY', () => {
  it('reads back exactly what was appended, whatever the characters in keys, types, payloads and meta', async () => {
    const { store } = await openFresh();
    await fc.assert(
      fc.asyncProperty(
        awkward.filter((k) => k.length <= 1024),
        fc.array(fc.record({ type: awkward.filter((t) => t.length <= 256), data: jsonArb, meta: fc.option(fc.dictionary(awkward, jsonArb, { maxKeys: 2 }), { nil: undefined }) }), { minLength: 1, maxLength: 4 }),
        async (key, items) => {
          const events = items.map((e, i) => (e.meta === undefined ? { type: e.type, time: T0 + i, data: e.data } : { type: e.type, time: T0 + i, data: e.data, meta: e.meta }));
          const { firstSeq } = await store.append('s', key, events);
          const back = await collect(store.readShard('s', key, { fromSeq: firstSeq }));
          // What JSON can say: the store promises the JSON round trip of what it was given.
          const expected = events.map((e) => JSON.parse(JSON.stringify(e)) as { type: string; data: JsonValue; meta?: JsonValue });
          expect(back.map((e: StoredEvent) => ({ key: e.key, type: e.type, data: e.data, meta: e.meta }))).toEqual(
            expected.map((e) => ({ key, type: e.type, data: e.data, meta: e.meta })),
          );
        },
      ),
      { numRuns: 60 },
    );
  });

  it('hands out the asked batch sizes across page boundaries, and stops cleanly when the reader does', async () => {
    const { store } = await openFresh();
    const n = 70_000; // more than one COPY page (65,536 rows)
    for (let i = 0; i < n; i += 10_000) {
      await store.append('big', `k${i}`, Array.from({ length: Math.min(10_000, n - i) }, (_, j) => ({ type: 'T', time: T0 + i + j, data: { i: i + j } })));
    }
    const sizes: number[] = [];
    let last = 0;
    for await (const batch of store.readStream('big', { batchSize: 30_000 })) {
      sizes.push(batch.length);
      for (const e of batch) expect(e.position).toBe(++last);
    }
    expect(sizes).toEqual([30_000, 30_000, 5536, 4464]);
    // Abandon a read mid-page, many times: the pool (4 connections) must not leak a connection.
    for (let r = 0; r < 6; r++) {
      for await (const batch of store.readAll({ batchSize: 100 })) {
        expect(batch.length).toBe(100);
        break;
      }
    }
    expect((await store.head('big', 'k0')).lastSeq).toBe(10_000);
  });

  it('undoes COPY text escapes and quotes inlined literals', () => {
    expect(field('a\\tb\\nc\\\\d\\re')).toBe('a\tb\nc\\d\re');
    expect(field('plain')).toBe('plain');
    expect(sqlLiteral("it's")).toBe("'it''s'");
    expect(sqlLiteral('back\\slash')).toBe(" E'back\\\\slash'");
  });
});

describe.skipIf(!up)('PostgreSQL store: subscriptions', () => {
  it('frees its connection before handing out a batch, so a subscriber may append from its loop even with one connection', async () => {
    const schema = freshSchema('r');
    const store = await PostgresStore.open(storeUrl(schema), { poolSize: 1 });
    cleanups.push(async () => {
      await store.close();
      await dropSchema(schema);
    });
    for (let i = 0; i < 5; i++) await store.append('in', `k${i}`, [{ type: 'In', time: T0 + i, data: i }]);
    const abort = new AbortController();
    let outputs = 0;
    for await (const batch of store.subscribe({ stream: 'in', batchSize: 2, signal: abort.signal })) {
      for (const e of batch) await store.append('out', e.key, [{ type: 'Out', time: e.time, data: e.data }]);
      outputs += batch.length;
      if (outputs === 5) abort.abort();
    }
    expect((await store.stats()).streams.map((s) => [s.stream, s.events])).toEqual([
      ['in', 5],
      ['out', 5],
    ]);
  });


  it('still delivers a commit nobody notified about, at the next poll of the injected timers', async () => {
    const timers = new ManualTimers(new ManualClock(T0));
    const { schema, store } = await openFresh({ timers, pollMs: 1000 });
    const abort = new AbortController();
    const seen: number[] = [];
    const done = (async () => {
      for await (const batch of store.subscribe({ signal: abort.signal })) {
        seen.push(...batch.map((e) => e.position));
        if (seen.length === 2) abort.abort();
      }
    })();
    await store.append('s', 'k', [{ type: 'T', time: T0, data: 1 }]);
    const until = async (cond: () => boolean) => {
      for (let i = 0; i < 300 && !cond(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(cond()).toBe(true);
    };
    await until(() => seen.length === 1 && timers.size > 0);
    // A writer that bypasses the append function (so sends no NOTIFY) but keeps positions in order.
    const raw = await rawClient();
    cleanups.push(() => raw.end());
    await raw.query('BEGIN');
    await raw.query(`UPDATE "${schema}".log_head SET last_position = last_position + 1`);
    await raw.query(`INSERT INTO "${schema}".events (position, stream, key, seq, time, type, data) VALUES (2, 's', 'quiet', 1, ${T0}, 'T', '2')`);
    await raw.query('COMMIT');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(seen).toEqual([1]);
    await timers.advance(1000);
    await done;
    expect(seen).toEqual([1, 2]);
  });
});
