/** Format 3's binary value encoding: data reads back exactly as JSON.parse(JSON.stringify(data)). */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isInvalidInput, type StoredEvent } from 'spive';
import { ALL_EVENTS, batchPayload, decodeBatch, encodeBatch } from '../../../src/store/nats/event-message.ts';

const T0 = 1_700_000_000_000;

/** Each value as the data of one event of one message, read back. */
function roundTrip(datas: readonly unknown[]): unknown[] {
  const payload = batchPayload(encodeBatch('s', 'k', datas.map((data, i) => ({ type: 'T', time: T0 + i, data }))), 1, 1);
  const out: StoredEvent[] = [];
  const n = decodeBatch({ subject: 'subj', seq: 1 }, Buffer.from(payload), ALL_EVENTS, out, 0);
  expect(n).toBe(out.length);
  return out.map((e) => e.data);
}

const viaJson = (v: unknown): unknown => JSON.parse(JSON.stringify(v) ?? 'null');

function encodeError(data: unknown): unknown {
  try {
    encodeBatch('s', 'k', [{ type: 'T', time: T0, data }]);
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('format 3 value encoding', () => {
  it('reads back any JSON value as JSON would, in messages of one or many events', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue({ maxDepth: 5 }), { minLength: 1, maxLength: 12 }), (datas) => {
        expect(roundTrip(datas)).toEqual(datas.map(viaJson));
      }),
      { numRuns: 300 },
    );
  });

  it('reads back objects of many shapes, repeated, and what JSON changes, mixed in one message', () => {
    const notJson = fc.constantFrom<unknown>(undefined, Number.NaN, -0, Number.NEGATIVE_INFINITY, new Date(T0), '\ud800', { toJSON: () => 'j' }, new Map([[1, 2]]));
    const shaped = fc.record({ a: fc.oneof(fc.jsonValue({ maxDepth: 2 }), notJson), b: fc.oneof(fc.string(), notJson), c: fc.integer() }, { requiredKeys: ['c'] });
    const keyed = fc.dictionary(fc.oneof(fc.string({ maxLength: 4 }), fc.constantFrom('__proto__', '\udc00', '10', 'constructor', 'toJSON')), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 4 });
    fc.assert(
      fc.property(fc.array(fc.oneof(shaped, keyed, fc.array(shaped, { maxLength: 4 })), { minLength: 1, maxLength: 40 }), (datas) => {
        expect(roundTrip(datas)).toEqual(datas.map(viaJson));
      }),
      { numRuns: 300 },
    );
  });

  it('keeps hundreds of shapes in one message, nested and repeated', () => {
    const datas = Array.from({ length: 300 }, (_, i) => ({ [`k${i % 150}`]: i, [`j${i % 70}`]: { [`n${i % 90}`]: [i] } }));
    expect(roundTrip(datas)).toEqual(datas);
  });

  it('builds objects of a shape used many times (compiled) exactly like the first times', () => {
    const datas = [{ a: 1, b: 'x', c: [true, null], d: { e: 2.5 } }, { a: -3, b: 'y', c: [], d: { e: 'z' } }];
    for (let i = 0; i < 20; i++) expect(roundTrip(datas)).toEqual(datas);
    const parsed = JSON.parse('[{"__proto__": 1, "a\\"b\\\\c\\u2028": 2, "10": 3, "": null}]') as unknown[];
    for (let i = 0; i < 20; i++) {
      const [back] = roundTrip(JSON.parse(JSON.stringify(parsed)) as unknown[]) as [Record<string, unknown>];
      expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
      expect(Object.keys(back)).toEqual(Object.keys(parsed[0] as object));
      expect(back).toEqual(parsed[0]);
    }
  });

  it("follows JSON's rules for what JSON cannot hold", () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    const datas = [
      { a: undefined, b: () => 1, c: Symbol('s'), d: 1 },
      [undefined, Number.NaN, Number.POSITIVE_INFINITY, () => 1, Symbol('s')],
      -0,
      { z: -0 },
      new Date(T0),
      { when: new Date(T0) },
      { toJSON: () => ({ replaced: true }) },
      new Map([[1, 2]]),
      new Point(1, 2),
      [new Point(3, 4)],
      Object.assign(Object.create(null) as object, { n: 1 }),
      { s: '\ud800 lone', t: 'ok \u{1f600}' },
      Object.assign([1, 2], { extra: 3 }),
      2 ** 31,
      -(2 ** 31),
      0.1,
      Number.MAX_SAFE_INTEGER,
      5e-324,
    ];
    const back = roundTrip(datas);
    expect(back).toEqual(datas.map(viaJson));
    expect(Object.is(back[2], 0)).toBe(true);
  });

  it('keeps nesting deeper than the fast path takes', () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 500; i++) deep = i % 2 === 0 ? [deep] : { k: deep };
    expect(roundTrip([deep, { shallow: 1 }])).toEqual([deep, { shallow: 1 }]);
  });

  it('keeps many strings, long strings and wide objects', () => {
    const wide = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`k${i}`, i % 3 === 0 ? `v${i}` : i]));
    const strings = Array.from({ length: 1000 }, (_, i) => `s${i}-${'é'.repeat(i % 7)}`);
    const datas = [wide, wide, strings, 'x'.repeat(100_000), { m: strings.slice(0, 200) }];
    expect(roundTrip(datas)).toEqual(datas);
  });

  it('refuses what JSON refuses, naming the event field', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const data of [10n, { n: 1n }, cyclic, undefined, () => 1]) {
      const e = encodeError(data);
      expect(isInvalidInput(e), String(e)).toBe(true);
      expect((e as Error).message).toMatch(/^events\[0\]\.data/);
    }
  });
});
