/**
 * jsonCopy (analyzer/dataset/json-copy.ts) gives exactly what parsing a value's JSON gives — same
 * values, same key order, fresh objects — or gives up (undefined) when it cannot be sure.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonCopy } from '../../analyzer/dataset/json-copy.ts';

const parsed = (v: unknown): unknown => JSON.parse(JSON.stringify(v) as string);

describe('jsonCopy', () => {
  it('equals the parse of any JSON value, key order included, and shares no object with the original', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const copy = jsonCopy(v);
        if (copy === undefined) return; // gave up (-0): the caller parses
        expect(JSON.stringify(copy)).toBe(JSON.stringify(parsed(v)));
        expect(copy).toStrictEqual(parsed(v));
        if (typeof v === 'object' && v !== null) expect(copy).not.toBe(v);
      }),
      { numRuns: 500 },
    );
  });

  it('copies integer-like keys in the order parsing gives them', () => {
    const v = { b: 1, 10: 'x', a: [1, { 2: true, z: null }], 1: 'y' };
    expect(Object.keys(jsonCopy(v) as object)).toEqual(Object.keys(parsed(v) as object));
    expect(jsonCopy(v)).toStrictEqual(parsed(v));
  });

  it('gives up on what JSON changes or drops', () => {
    class Money {
      constructor(readonly cents: number) {}
    }
    const proto = JSON.parse('{"__proto__": {"x": 1}}') as unknown;
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = [deep];
    for (const v of [undefined, -0, Number.NaN, Infinity, { a: undefined }, [1, undefined], [1, , 3], { n: -0 }, new Date(0), new Money(5), { toJSON: () => 1 }, Object.assign([1], { toJSON: () => 2 }), proto, 10n, () => 1, Symbol('s'), deep]) {
      expect(jsonCopy(v)).toBeUndefined();
    }
  });

  it('keeps strings as they are (lone surrogates included) and copies a null-prototype object to a plain one', () => {
    const o = Object.assign(Object.create(null) as Record<string, unknown>, { s: 'a\ud800b', e: '' });
    expect(jsonCopy(o)).toStrictEqual(parsed(o));
    expect(Object.getPrototypeOf(jsonCopy(o))).toBe(Object.prototype);
  });
});
