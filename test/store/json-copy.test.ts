/**
 * copyJson (src/store/json-copy.ts), the copy stores and the dataset fold make of event data, gives
 * exactly what parsing the value's JSON gives — same values, same key order, fresh objects — taking
 * the JSON round trip itself for whatever JSON changes or drops, and refusing what JSON cannot hold.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isInvalidInput } from 'spive';
import { copyJson } from '../../src/store/json-copy.ts';

const parsed = (v: unknown): unknown => JSON.parse(JSON.stringify(v) as string);
const copy = (v: unknown): unknown => copyJson(v, () => 'data');

describe('copyJson', () => {
  it('equals the parse of any JSON value, key order included, and shares no object with the original', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const c = copy(v);
        expect(JSON.stringify(c)).toBe(JSON.stringify(parsed(v)));
        expect(c).toStrictEqual(parsed(v));
        if (typeof v === 'object' && v !== null) expect(c).not.toBe(v);
      }),
      { numRuns: 500 },
    );
  });

  it('copies integer-like keys in the order parsing gives them', () => {
    const v = { b: 1, 10: 'x', a: [1, { 2: true, z: null }], 1: 'y' };
    expect(Object.keys(copy(v) as object)).toEqual(Object.keys(parsed(v) as object));
    expect(copy(v)).toStrictEqual(parsed(v));
  });

  it('gives what the JSON round trip gives for what JSON changes or drops', () => {
    class Money {
      constructor(readonly cents: number) {}
    }
    const proto = JSON.parse('{"__proto__": {"x": 1}}') as unknown;
    const nullProto = Object.assign(Object.create(null) as Record<string, unknown>, { s: 'a\ud800b', e: '' });
    let deep: unknown = 1;
    for (let i = 0; i < 80; i++) deep = [deep];
    for (const v of [-0, Number.NaN, Infinity, { a: undefined }, [1, undefined], [1, , 3], { n: -0, f: () => 1 }, new Date(0), new Money(5), { toJSON: () => 1 }, Object.assign([1], { toJSON: () => 2 }), proto, nullProto, deep]) {
      expect(copy(v)).toStrictEqual(parsed(v));
    }
    expect(Object.getPrototypeOf(copy(nullProto))).toBe(Object.prototype);
  });

  it('refuses what JSON cannot hold, naming the field', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const v of [undefined, () => 1, Symbol('s'), 10n, cyclic]) {
      expect(() => copyJson(v, () => 'events[3].data')).toThrow(/events\[3\]\.data/);
      try {
        copyJson(v, () => 'events[3].data');
      } catch (e) {
        expect(isInvalidInput(e)).toBe(true);
      }
    }
  });
});
