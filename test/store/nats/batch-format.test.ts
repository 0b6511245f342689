/** The event message payload (format 3, and formats 2 and 1 still read): round trips, filters, and damage caught. */
import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isCorrupt, type EventMeta, type NewEvent, type StoredEvent } from 'spive';
import { encodeBatchV2 } from '../../../src/store/nats/batch-format-v2.ts';
import { ALL_EVENTS, batchPayload, decodeBatch, encodeBatch, type EventFilter } from '../../../src/store/nats/event-message.ts';

const T0 = 1_700_000_000_000;

/** An event already in the batch the decoder adds to: it must stay as it is. */
const BEFORE: StoredEvent = Object.freeze({ stream: 'x', key: 'y', seq: 1, position: 1, type: 'T', time: 0, data: null });

/** Decodes into a batch that already holds an event and has room for a few more, as reads fill theirs. */
function decode(payload: Uint8Array, filter: EventFilter = ALL_EVENTS): StoredEvent[] {
  const out = new Array<StoredEvent>(8);
  out[0] = BEFORE;
  const n = decodeBatch({ subject: 'subj', seq: 7 }, payload, filter, out, 1);
  expect(out[0]).toBe(BEFORE);
  expect(out.length).toBe(Math.max(8, n));
  return out.slice(1, n);
}

function decodeError(payload: Uint8Array): unknown {
  try {
    decode(payload);
  } catch (e) {
    return e;
  }
  return undefined;
}

/** What a reader must get back for `events` appended at `firstPosition` / `firstSeq`. */
function stored(stream: string, key: string, events: readonly NewEvent[], firstPosition: number, firstSeq: number): StoredEvent[] {
  return events.map((e, i) => ({ stream, key, seq: firstSeq + i, position: firstPosition + i, type: e.type, time: e.time, data: e.data, ...(e.meta === undefined ? {} : { meta: e.meta }) }));
}

const json = fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.parse(JSON.stringify(v)) as NewEvent['data']);
const event: fc.Arbitrary<NewEvent> = fc.record(
  {
    type: fc.constantFrom('Opened', 'Deposited', 'Ümlaut', '😀'),
    time: fc.integer({ min: 0, max: 2 ** 45 }),
    data: json,
    meta: fc.dictionary(fc.string({ maxLength: 5 }), json, { maxKeys: 3 }),
  },
  { requiredKeys: ['type', 'time', 'data'] },
);

describe('event message format 3', () => {
  it('reads back every event as written: types, times, data, meta or none, any stream and key', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 8 }),
        fc.string({ maxLength: 40 }),
        fc.array(event, { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 1, max: 2 ** 40 }),
        fc.integer({ min: 1, max: 2 ** 40 }),
        (stream, key, events, position, seq) => {
          const payload = batchPayload(encodeBatch(stream, key, events), position, seq);
          expect(decode(payload)).toEqual(stored(stream, key, events, position, seq));
          // Events without meta have no `meta` key at all (not `meta: undefined`).
          for (const [i, e] of decode(payload).entries()) expect('meta' in e).toBe(events[i]?.meta !== undefined);
        },
      ),
    );
  });

  it('keeps keys that are not well-formed UTF-16 exactly', () => {
    const events = [{ type: 'T', time: T0, data: { s: '\udc00x' } }];
    const out = decode(batchPayload(encodeBatch('s', 'k\ud800', events), 1, 1));
    expect(out[0]?.key).toBe('k\ud800');
    expect(out[0]?.data).toEqual({ s: '\udc00x' });
  });

  it('skips events before fromPosition, fromSeq and fromTime', () => {
    const events = Array.from({ length: 6 }, (_, i) => ({ type: 'T', time: T0 + (i % 3), data: i }));
    const payload = batchPayload(encodeBatch('s', 'k', events), 10, 4);
    expect(decode(payload, { fromPosition: 12, fromSeq: 1, fromTime: -Infinity }).map((e) => e.data)).toEqual([2, 3, 4, 5]);
    expect(decode(payload, { fromPosition: 1, fromSeq: 8, fromTime: -Infinity }).map((e) => e.data)).toEqual([4, 5]);
    expect(decode(payload, { fromPosition: 1, fromSeq: 1, fromTime: T0 + 2 }).map((e) => e.data)).toEqual([2, 5]);
    expect(decode(payload, { fromPosition: 99, fromSeq: 1, fromTime: -Infinity })).toEqual([]);
  });

  it('places one encoding anywhere without changing it (a retried write is placed again)', () => {
    const batch = encodeBatch('s', 'k', [{ type: 'T', time: T0, data: null }]);
    const first = batchPayload(batch, 5, 2);
    batchPayload(batch, 9, 3);
    expect(decode(first).map((e) => [e.position, e.seq])).toEqual([[5, 2]]);
  });

  describe('events whose data has a shape used often (decoded by loops compiled per shape)', () => {
    // Members of every kind: strings past the first 128 of the table (not read inline), ints, floats,
    // nested objects and arrays, null and booleans, and a `__proto__` key.
    const often = (i: number): NewEvent['data'] => ({ amount: i / 4, s: `s${i % 150}`, n: i, big: 2 ** 40 + i, nested: { x: [i, null, true] }, flag: i % 3 === 0, ['__proto__']: i });
    const events: NewEvent[] = Array.from({ length: 200 }, (_, i) => ({
      type: i % 5 === 0 ? 'Other' : 'Often',
      time: T0 + Math.floor(i / 2),
      // Other shapes and non-objects in between: the loop stops there and takes up again after.
      data: i % 7 === 3 ? { other: i } : i % 11 === 4 ? i : often(i),
      ...(i % 13 === 0 ? { meta: { by: `m${i}` } } : {}),
    }));
    const payload = batchPayload(encodeBatch('s', 'k', events), 1000, 50);
    const expected = stored('s', 'k', events, 1000, 50).map((e) => ({ ...e, data: JSON.parse(JSON.stringify(e.data)) as NewEvent['data'] }));

    it('reads them back exactly, with and without meta, before and after the shape is compiled', () => {
      for (let round = 0; round < 3; round++) expect(decode(payload)).toEqual(expected);
      const [back] = decode(payload) as [StoredEvent];
      expect(Object.keys(back.data as object)).toContain('__proto__');
      expect(Object.getPrototypeOf(back.data)).toBe(Object.prototype);
    });

    it('skips events before a position, seq or time from the middle of a run', () => {
      for (let round = 0; round < 2; round++) {
        expect(decode(payload, { fromPosition: 1077, fromSeq: 1, fromTime: -Infinity })).toEqual(expected.filter((e) => e.position >= 1077));
        expect(decode(payload, { fromPosition: 1, fromSeq: 170, fromTime: -Infinity })).toEqual(expected.filter((e) => e.seq >= 170));
        expect(decode(payload, { fromPosition: 1, fromSeq: 1, fromTime: T0 + 61 })).toEqual(expected.filter((e) => e.time >= T0 + 61));
      }
    });

    it('is CORRUPT naming the event when one in a run has an unknown type, a time that is no integer or meta that is no object', () => {
      decode(payload);
      const typesAt = 44 + 8 * 200;
      const withCrc = (bad: Uint8Array): Uint8Array => {
        new DataView(bad.buffer).setUint32(4, zlibCrc32(bad.subarray(8)), true);
        return bad;
      };
      const badType = payload.slice();
      new DataView(badType.buffer).setUint32(typesAt + 4 * 101, 9, true);
      expect(String(decodeError(withCrc(badType)))).toMatch(/event 101 has type undefined/);
      const badTime = payload.slice();
      new DataView(badTime.buffer).setFloat64(44 + 8 * 102, 1.5, true);
      expect(String(decodeError(withCrc(badTime)))).toMatch(/event 102 has type Often and time 1.5/);
      const metaEvents = events.map((e, i) => (i === 103 ? { ...e, meta: 5 as unknown as EventMeta } : e));
      expect(String(decodeError(batchPayload(encodeBatch('s', 'k', metaEvents), 1, 1)))).toMatch(/event 103 has meta 5, not an object/);
    });
  });

  describe('damage is CORRUPT naming the message, never fewer or wrong events', () => {
    const events = [
      { type: 'A', time: T0, data: { amount: 1 } },
      { type: 'B', time: T0 + 1, data: 'x', meta: { by: 'me' } },
    ];
    const payload = batchPayload(encodeBatch('s', 'k', events), 3, 1);

    it('every truncation', () => {
      for (let n = 0; n < payload.length; n++) {
        const e = decodeError(payload.slice(0, n));
        expect(isCorrupt(e), `truncated to ${n} bytes`).toBe(true);
      }
    });

    it('every flipped bit of every byte', () => {
      for (let i = 0; i < payload.length; i++) {
        for (let bit = 0; bit < 8; bit++) {
          const bad = payload.slice();
          bad[i] = (bad[i] as number) ^ (1 << bit);
          expect(isCorrupt(decodeError(bad)), `byte ${i} bit ${bit}`).toBe(true);
        }
      }
    });

    it('bytes appended', () => {
      const longer = new Uint8Array(payload.length + 1);
      longer.set(payload);
      expect(isCorrupt(decodeError(longer))).toBe(true);
    });

    it('sections of the wrong shape, even with a right CRC', () => {
      const good = encodeBatch('s', 'k', [{ type: 'A', time: T0, data: 1 }]);
      const head = 44 + 12;
      const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
      const withSections = (names: string, strings: Uint8Array, values: Uint8Array, meta: string): Uint8Array => {
        const [n, m] = [utf8(names), utf8(meta)] as [Uint8Array, Uint8Array];
        const payload = new Uint8Array(head + n.length + strings.length + values.length + m.length);
        payload.set(good.payload.subarray(0, head));
        payload.set(n, head);
        payload.set(strings, head + n.length);
        payload.set(values, head + n.length + strings.length);
        payload.set(m, head + n.length + strings.length + values.length);
        const view = new DataView(payload.buffer);
        view.setUint32(12, n.length, true);
        view.setUint32(16, strings.length, true);
        view.setUint32(20, values.length, true);
        view.setUint32(24, m.length, true);
        return batchPayload({ ...good, payload }, 1, 1);
      };
      const none = new Uint8Array(0);
      const int1 = Uint8Array.of(3, 1, 0, 0, 0);
      // One string "ab": count 1, length 2, text.
      const ab = Uint8Array.of(1, 2, 0x61, 0x62);
      expect(decode(withSections('["s","k",["A"],[]]', none, int1, '[{"m":1}]'))).toEqual([{ stream: 's', key: 'k', seq: 1, position: 1, type: 'A', time: T0, data: 1, meta: { m: 1 } }]);
      expect(decode(withSections('["s","k",["A"],[["x"]]]', ab, Uint8Array.of(7, 0, 5, 0), '')).map((e) => e.data)).toEqual([{ x: 'ab' }]);
      const bad: Array<[string, Uint8Array, Uint8Array, string]> = [
        ['null', none, int1, ''],
        ['["s","k",["A"]]', none, int1, ''],
        ['["s","k",[7],[]]', none, int1, ''],
        ['[1,"k",["A"],[]]', none, int1, ''],
        ['["s","k",["A"],[[1]]]', none, int1, ''],
        ['["s","k",["A"],[]]', none, Uint8Array.of(3, 1, 0, 0, 0, 0), ''],
        ['["s","k",["A"],[]]', none, Uint8Array.of(3, 1, 0, 0), ''],
        ['["s","k",["A"],[]]', none, Uint8Array.of(9), ''],
        ['["s","k",["A"],[]]', none, Uint8Array.of(5, 0), ''],
        ['["s","k",["A"],[]]', none, Uint8Array.of(7, 0), ''],
        ['["s","k",["A"],[]]', none, Uint8Array.of(6, 5, 0), ''],
        ['["s","k",["A"],[]]', none, Uint8Array.of(6, 0xff, 0xff, 0xff, 0xff, 0x7f), ''],
        ['["s","k",["A"],[]]', none, Uint8Array.of(8, 2, 0x5b, 0x31), ''],
        ['["s","k",["A"],[]]', Uint8Array.of(1, 3, 0x61, 0x62), Uint8Array.of(5, 0), ''],
        ['["s","k",["A"],[]]', Uint8Array.of(9, 2, 0x61, 0x62), Uint8Array.of(5, 0), ''],
        ['["s","k",["A"],[]]', Uint8Array.of(1, 2, 0x61, 0x62), Uint8Array.of(5, 1), ''],
        ['["s","k",["A"],[]]', none, int1, '[5]'],
        ['["s","k",["A"],[]]', none, int1, '[[]]'],
        ['["s","k",["A"],[]]', none, int1, '[null,null]'],
      ];
      for (const [names, strings, values, meta] of bad) expect(isCorrupt(decodeError(withSections(names, strings, values, meta))), `${names} ${String(strings)} ${String(values)} ${meta}`).toBe(true);
    });

    it('a format this version does not know, with the message named', () => {
      const future = payload.slice();
      future[3] = 4;
      const e = decodeError(future);
      expect(isCorrupt(e)).toBe(true);
      expect(String(e)).toMatch(/subj at offset 7.*payload format 4 is not one this version of Spive reads \(1, 2, 3\)/);
      expect(isCorrupt(decodeError(new TextEncoder().encode('hello')))).toBe(true);
      expect(isCorrupt(decodeError(new Uint8Array(0)))).toBe(true);
    });
  });
});

describe('event message format 2 (written by earlier versions)', () => {
  it('is still read', () => {
    const events = [
      { type: 'A', time: T0, data: { a: 1, s: 'x' } },
      { type: 'B', time: T0 + 1, data: [null, 2.5], meta: { m: true } },
    ];
    expect(decode(encodeBatchV2('s', 'k', events, 5, 2))).toEqual(stored('s', 'k', events, 5, 2));
  });

  it('is CORRUPT when torn or altered', () => {
    const v2 = encodeBatchV2('s', 'k', [{ type: 'A', time: T0, data: { a: 1 } }], 1, 1);
    for (let n = 0; n < v2.length; n++) expect(isCorrupt(decodeError(v2.slice(0, n))), `truncated to ${n} bytes`).toBe(true);
    const bad = v2.slice();
    bad[bad.length - 2] = 0x20;
    expect(String(decodeError(bad))).toMatch(/format 2 payload: CRC-32/);
  });
});

describe('event message format 1 (written by earlier versions)', () => {
  it('is still read', () => {
    const v1 = new TextEncoder().encode(JSON.stringify([5, 2, 's', 'k', [['A', T0, { a: 1 }], ['B', T0 + 1, null, { m: true }]]]));
    expect(decode(v1)).toEqual([
      { stream: 's', key: 'k', seq: 2, position: 5, type: 'A', time: T0, data: { a: 1 } },
      { stream: 's', key: 'k', seq: 3, position: 6, type: 'B', time: T0 + 1, data: null, meta: { m: true } },
    ]);
  });

  it('is CORRUPT when torn', () => {
    const v1 = new TextEncoder().encode(JSON.stringify([5, 2, 's', 'k', [['A', T0, { a: 1 }]]]));
    for (let n = 1; n < v1.length; n++) expect(isCorrupt(decodeError(v1.slice(0, n))), `truncated to ${n} bytes`).toBe(true);
  });
});
