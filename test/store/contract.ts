/**
 * The EventStore contract: one suite, every implementation. A store passes it or it is not a store.
 * Each store (test/store/memory, embedded, postgres, nats) calls `eventStoreContract` with its own factory.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ManualClock,
  MemoryStore,
  isConflict,
  isFenced,
  isInvalidInput,
  isLeaseHeld,
  type EventStore,
  type NewEvent,
  type StoredEvent,
} from 'spive';
import { collect, settle } from '../helpers/async.ts';

export interface StoreUnderTest {
  readonly store: EventStore;
  /** Closes and opens the same store again (durable stores only). */
  readonly reopen?: () => Promise<EventStore>;
}

export interface ContractFactory {
  /** A fresh, empty store whose leases expire by `clock`. */
  create(clock: ManualClock): Promise<StoreUnderTest>;
  /** Called after each test with whatever store is current. */
  teardown(store: EventStore): Promise<void>;
}

const T0 = 1_700_000_000_000;

function ev(i: number, type = 'Deposited', time = T0 + i): NewEvent {
  return { type, time, data: { amount: i, note: `n${i}` } };
}


export function eventStoreContract(name: string, factory: ContractFactory): void {
  describe(`EventStore contract: ${name}`, () => {
    let current: EventStore | undefined;
    let clock: ManualClock;

    async function fresh(): Promise<StoreUnderTest> {
      clock = new ManualClock(T0);
      const sut = await factory.create(clock);
      current = sut.store;
      return sut;
    }

    afterEach(async () => {
      if (current !== undefined) await factory.teardown(current);
      current = undefined;
    });

    describe('ordering', () => {
      it('assigns contiguous per-shard seqs and global positions, and reads back in order', async () => {
        const { store } = await fresh();
        const a1 = await store.append('transfers', 'a', [ev(1), ev(2)]);
        const b1 = await store.append('transfers', 'b', [ev(3)]);
        const a2 = await store.append('transfers', 'a', [ev(4)]);
        expect([a1, b1, a2]).toEqual([
          { firstSeq: 1, lastSeq: 2, firstPosition: 1, lastPosition: 2 },
          { firstSeq: 1, lastSeq: 1, firstPosition: 3, lastPosition: 3 },
          { firstSeq: 3, lastSeq: 3, firstPosition: 4, lastPosition: 4 },
        ]);
        const shard = await collect(store.readShard('transfers', 'a'));
        expect(shard.map((e) => [e.seq, e.position, e.time, e.data])).toEqual([
          [1, 1, T0 + 1, { amount: 1, note: 'n1' }],
          [2, 2, T0 + 2, { amount: 2, note: 'n2' }],
          [3, 4, T0 + 4, { amount: 4, note: 'n4' }],
        ]);
        expect(shard.every((e) => e.stream === 'transfers' && e.key === 'a' && e.type === 'Deposited')).toBe(true);
        const all = await collect(store.readAll());
        expect(all.map((e) => e.position)).toEqual([1, 2, 3, 4]);
        expect(await store.head('transfers', 'a')).toEqual({ lastSeq: 3, lastTime: T0 + 4 });
        expect(await store.head('transfers', 'zzz')).toEqual({ lastSeq: 0, lastTime: null });
      });

      it('reads a shard from a seq and from an event time, in batches of the asked size', async () => {
        const { store } = await fresh();
        for (let i = 1; i <= 25; i++) await store.append('s', 'k', [ev(i, 'T', T0 + i * 10)]);
        const fromSeq = await collect(store.readShard('s', 'k', { fromSeq: 20 }));
        expect(fromSeq.map((e) => e.seq)).toEqual([20, 21, 22, 23, 24, 25]);
        const fromTime = await collect(store.readShard('s', 'k', { fromTime: T0 + 231 }));
        expect(fromTime.map((e) => e.seq)).toEqual([24, 25]);
        const sizes: number[] = [];
        for await (const batch of store.readShard('s', 'k', { batchSize: 10 })) sizes.push(batch.length);
        expect(sizes).toEqual([10, 10, 5]);
      });

      it('reads one stream across shards by global position and by time, ignoring other streams', async () => {
        const { store } = await fresh();
        await store.append('a', 'x', [ev(1), ev(2)]);
        await store.append('b', 'x', [ev(3)]);
        await store.append('a', 'y', [ev(4)]);
        await store.append('b', 'y', [ev(5)]);
        await store.append('a', 'x', [ev(6)]);
        const a = await collect(store.readStream('a'));
        expect(a.map((e) => [e.key, e.position])).toEqual([['x', 1], ['x', 2], ['y', 4], ['x', 6]]);
        expect((await collect(store.readStream('a', { fromPosition: 3 }))).map((e) => e.position)).toEqual([4, 6]);
        expect((await collect(store.readStream('a', { fromTime: T0 + 4 }))).map((e) => e.position)).toEqual([4, 6]);
        expect((await collect(store.readAll({ fromPosition: 5 }))).map((e) => e.position)).toEqual([5, 6]);
        expect(await collect(store.readStream('nothing'))).toEqual([]);
      });

      it('keeps a batch atomic: a rejected batch leaves no event behind', async () => {
        const { store } = await fresh();
        await store.append('s', 'k', [ev(1)]);
        const bad = await settle(store.append('s', 'k', [ev(2), ev(3)], { expect: { lastSeq: 0 } }));
        expect(bad.ok).toBe(false);
        expect((await collect(store.readAll())).length).toBe(1);
      });

      it('keeps platform metadata apart from the payload, and only where it was given', async () => {
        const { store } = await fresh();
        await store.append('out', 'k', [
          { type: 'A', time: T0, data: { x: 1 }, meta: { v: 'v1', in: [0, 17] } },
          { type: 'B', time: T0, data: null },
        ]);
        const [a, b] = await collect(store.readShard('out', 'k'));
        expect(a?.meta).toEqual({ v: 'v1', in: [0, 17] });
        expect(a?.data).toEqual({ x: 1 });
        expect(b !== undefined && 'meta' in b).toBe(false);
        const bad = await settle(store.append('out', 'k', [{ type: 'C', time: T0, data: 1, meta: [1] as never }]));
        expect(!bad.ok && isInvalidInput(bad.error)).toBe(true);
      });

      it('reports per-stream statistics', async () => {
        const { store } = await fresh();
        await store.append('a', 'x', [ev(5), ev(1)]);
        await store.append('a', 'y', [ev(9)]);
        await store.append('b', 'x', [ev(2)]);
        const stats = await store.stats();
        expect(stats.events).toBe(4);
        expect(stats.lastPosition).toBe(4);
        expect(stats.streams).toEqual([
          { stream: 'a', events: 3, shards: 2, minTime: T0 + 1, maxTime: T0 + 9, lastPosition: 3 },
          { stream: 'b', events: 1, shards: 1, minTime: T0 + 2, maxTime: T0 + 2, lastPosition: 4 },
        ]);
      });
    });

    describe('conditional appends', () => {
      it('appends only when the expected last seq and time match, and names both sides when not', async () => {
        const { store } = await fresh();
        await store.append('s', 'k', [ev(1)], { expect: { lastSeq: 0, lastTime: null } });
        await store.append('s', 'k', [ev(2)], { expect: { lastSeq: 1 } });
        await store.append('s', 'k', [ev(3)], { expect: { lastTime: T0 + 2 } });
        const stale = await settle(store.append('s', 'k', [ev(4)], { expect: { lastSeq: 1 } }));
        expect(stale.ok).toBe(false);
        if (stale.ok) return;
        expect(isConflict(stale.error)).toBe(true);
        expect((stale.error as { code: string }).code).toBe('CONFLICT');
        expect((stale.error as Error).message).toMatch(/expected \{"lastSeq":1\} but the shard is at lastSeq=3/);
        const badTime = await settle(store.append('s', 'k', [ev(4)], { expect: { lastSeq: 3, lastTime: T0 } }));
        expect(!badTime.ok && isConflict(badTime.error)).toBe(true);
        const notEmpty = await settle(store.append('s', 'k', [ev(4)], { expect: { lastSeq: 0 } }));
        expect(!notEmpty.ok && isConflict(notEmpty.error)).toBe(true);
        expect((await store.head('s', 'k')).lastSeq).toBe(3);
      });

      it('lets exactly one of many concurrent appendIf calls on the same head win', async () => {
        const { store } = await fresh();
        await store.append('s', 'k', [ev(0)]);
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => settle(store.append('s', 'k', [ev(i + 1)], { expect: { lastSeq: 1 } }))),
        );
        expect(results.filter((r) => r.ok).length).toBe(1);
        expect(results.filter((r) => !r.ok && isConflict(r.error)).length).toBe(19);
        expect((await collect(store.readShard('s', 'k'))).map((e) => e.seq)).toEqual([1, 2]);
      });

      it('serializes concurrent read-modify-write loops without losing an update', async () => {
        const { store } = await fresh();
        const writer = async (id: number) => {
          for (let done = 0; done < 5; ) {
            const head = await store.head('counter', 'c');
            const r = await settle(store.append('counter', 'c', [ev(id * 100 + done)], { expect: { lastSeq: head.lastSeq } }));
            if (r.ok) done++;
            else expect(isConflict(r.error)).toBe(true);
          }
        };
        await Promise.all([writer(1), writer(2), writer(3), writer(4)]);
        expect((await store.head('counter', 'c')).lastSeq).toBe(20);
      });
    });

    describe('leases and fencing', () => {
      const all = { from: 0, to: 4096 };

      it('grants increasing tokens and rejects appends with a stale or missing token', async () => {
        const { store } = await fresh();
        const lease = await store.acquireLease({ stream: 'out', range: all, owner: 'r1', ttlMs: 1000 });
        expect(lease.token).toBeGreaterThan(0);
        expect(lease.expiresAt).toBe(T0 + 1000);
        await store.append('out', 'k', [ev(1)], { token: lease.token });
        const none = await settle(store.append('out', 'k', [ev(2)]));
        expect(!none.ok && isFenced(none.error)).toBe(true);
        const held = await settle(store.acquireLease({ stream: 'out', range: { from: 10, to: 20 }, owner: 'r2', ttlMs: 1000 }));
        expect(!held.ok && isLeaseHeld(held.error)).toBe(true);
        clock.advance(1001);
        const second = await store.acquireLease({ stream: 'out', range: all, owner: 'r2', ttlMs: 1000 });
        expect(second.token).toBeGreaterThan(lease.token);
        const stale = await settle(store.append('out', 'k', [ev(3)], { token: lease.token }));
        expect(!stale.ok && isFenced(stale.error)).toBe(true);
        const renewStale = await settle(store.renewLease(lease, 1000));
        expect(!renewStale.ok && isFenced(renewStale.error)).toBe(true);
        await store.append('out', 'k', [ev(4)], { token: second.token });
        expect((await collect(store.readShard('out', 'k'))).map((e) => e.time)).toEqual([T0 + 1, T0 + 4]);
      });

      it('renews a live lease and frees the range on release', async () => {
        const { store } = await fresh();
        const lease = await store.acquireLease({ stream: 'out', range: all, owner: 'r1', ttlMs: 1000 });
        clock.advance(900);
        const renewed = await store.renewLease(lease, 1000);
        expect(renewed.token).toBe(lease.token);
        expect(renewed.expiresAt).toBe(T0 + 1900);
        clock.advance(500);
        const held = await settle(store.acquireLease({ stream: 'out', range: all, owner: 'r2', ttlMs: 1000 }));
        expect(!held.ok && isLeaseHeld(held.error)).toBe(true);
        await store.releaseLease(renewed);
        const next = await store.acquireLease({ stream: 'out', range: all, owner: 'r2', ttlMs: 1000 });
        expect(next.token).toBeGreaterThan(lease.token);
        await store.releaseLease(next);
        await store.append('out', 'k', [ev(1)]);
        const old = await settle(store.append('out', 'k', [ev(2)], { token: next.token }));
        expect(!old.ok && isFenced(old.error)).toBe(true);
      });

      it('fences only the buckets a lease covers', async () => {
        const { store } = await fresh();
        const { bucketOf } = await import('spive');
        const keys = Array.from({ length: 50 }, (_, i) => `key-${i}`);
        const low = keys.find((k) => bucketOf(k) < 2048) as string;
        const high = keys.find((k) => bucketOf(k) >= 2048) as string;
        const lease = await store.acquireLease({ stream: 'out', range: { from: 0, to: 2048 }, owner: 'r1', ttlMs: 1000 });
        const other = await store.acquireLease({ stream: 'out', range: { from: 2048, to: 4096 }, owner: 'r2', ttlMs: 1000 });
        await store.append('out', low, [ev(1)], { token: lease.token });
        await store.append('out', high, [ev(2)], { token: other.token });
        const cross = await settle(store.append('out', high, [ev(3)], { token: lease.token }));
        expect(!cross.ok && isFenced(cross.error)).toBe(true);
      });
    });

    describe('snapshots', () => {
      it('round-trips bytes and finds the newest at or before a position, per version', async () => {
        const { store } = await fresh();
        const put = (version: string, position: number, byte: number) =>
          store.putSnapshot({ process: 'ledger', version, shard: 'acct-1', position, time: T0 + position, data: new Uint8Array([byte, position]) });
        await put('v1', 10, 1);
        await put('v1', 30, 2);
        await put('v2', 20, 3);
        const newest = await store.getSnapshot({ process: 'ledger', version: 'v1', shard: 'acct-1' });
        expect(newest?.position).toBe(30);
        expect([...(newest?.data ?? [])]).toEqual([2, 30]);
        expect(newest?.sizeBytes).toBe(2);
        const before = await store.getSnapshot({ process: 'ledger', version: 'v1', shard: 'acct-1', atOrBefore: 29 });
        expect(before?.position).toBe(10);
        expect(await store.getSnapshot({ process: 'ledger', version: 'v1', shard: 'acct-1', atOrBefore: 9 })).toBeUndefined();
        expect(await store.getSnapshot({ process: 'ledger', version: 'v3', shard: 'acct-1' })).toBeUndefined();
        expect((await store.listSnapshots({ version: 'v1' })).map((s) => s.position)).toEqual([10, 30]);
        expect((await store.listSnapshots()).length).toBe(3);
        expect((await store.stats()).snapshots).toBe(3);
      });
    });

    describe('tailing', () => {
      it('delivers history, then new commits as they happen, until aborted', async () => {
        const { store } = await fresh();
        await store.append('s', 'a', [ev(1)]);
        await store.append('other', 'a', [ev(2)]);
        const abort = new AbortController();
        const seen: number[] = [];
        const done = (async () => {
          for await (const batch of store.subscribe({ stream: 's', signal: abort.signal })) {
            for (const e of batch) seen.push(e.position);
            if (seen.length === 3) abort.abort();
          }
        })();
        await store.append('s', 'b', [ev(3)]);
        await store.append('other', 'b', [ev(4)]);
        await store.append('s', 'a', [ev(5)]);
        await done;
        expect(seen).toEqual([1, 3, 5]);
      });

      it('starts from a given position and sees every stream without a filter', async () => {
        const { store } = await fresh();
        for (let i = 1; i <= 5; i++) await store.append(`s${i % 2}`, 'k', [ev(i)]);
        const abort = new AbortController();
        const seen: number[] = [];
        for await (const batch of store.subscribe({ fromPosition: 3, signal: abort.signal })) {
          seen.push(...batch.map((e) => e.position));
          if (seen.at(-1) === 5) abort.abort();
        }
        expect(seen).toEqual([3, 4, 5]);
      });
    });

    describe('columns', () => {
      it('scans a stream as typed columns that agree with the events', async () => {
        const { store } = await fresh();
        for (let i = 1; i <= 30; i++) await store.append('s', `k${i % 4}`, [ev(i, i % 2 ? 'Odd' : 'Even')]);
        await store.append('t', 'k0', [ev(99)]);
        const events = await collect(store.readStream('s'));
        const rows: Array<[string, string, number, number, number, number]> = [];
        for await (const c of store.scanColumns('s', { fields: ['amount', 'missing'] })) {
          for (let i = 0; i < c.length; i++) {
            expect(Number.isNaN(c.fields.missing?.[i])).toBe(true);
            rows.push([
              c.keys[c.keyIndex[i] as number] as string,
              c.types[c.typeIndex[i] as number] as string,
              c.seq[i] as number,
              c.time[i] as number,
              c.position[i] as number,
              c.fields.amount?.[i] as number,
            ]);
          }
        }
        expect(rows).toEqual(events.map((e) => [e.key, e.type, e.seq, e.time, e.position, (e.data as { amount: number }).amount]));
      });
    });

    describe('bad input', () => {
      it('rejects bad names, empty batches and bad times with INVALID_INPUT naming the field', async () => {
        const { store } = await fresh();
        const cases: Array<[Promise<unknown>, RegExp]> = [
          [store.append('bad name!', 'k', [ev(1)]), /^stream: expected/],
          [store.append('s', '', [ev(1)]), /^key: expected/],
          [store.append('s', 'k', []), /^events: expected a non-empty array/],
          [store.append('s', 'k', [{ type: 'T', time: 1.5, data: null }]), /^events\[0\]\.time/],
          [store.append('s', 'k', [{ type: '', time: 1, data: null }]), /^events\[0\]\.type/],
          [store.append('s', 'k', [ev(1)], { expect: { lastSeq: -1 } }), /^expect\.lastSeq/],
          [store.acquireLease({ stream: 's', range: { from: 5, to: 1 }, owner: 'o', ttlMs: 1 }), /^request\.range/],
        ];
        for (const [p, message] of cases) {
          const r = await settle(p);
          expect(r.ok).toBe(false);
          if (!r.ok) {
            expect(isInvalidInput(r.error)).toBe(true);
            expect((r.error as Error).message).toMatch(message);
          }
        }
        expect((await store.stats()).events).toBe(0);
      });
    });

    describe('model-based', () => {
      type Op =
        | { kind: 'append'; stream: string; key: string; count: number; times: number[]; expect: 'none' | 'right' | 'wrong' }
        | { kind: 'read'; stream: string; key: string; fromSeq: number };
      const opArb: fc.Arbitrary<Op> = fc.oneof(
        fc.record({
          kind: fc.constant('append' as const),
          stream: fc.constantFrom('a', 'b'),
          key: fc.constantFrom('k1', 'k2', 'k3'),
          count: fc.integer({ min: 1, max: 4 }),
          times: fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 4, maxLength: 4 }),
          expect: fc.constantFrom('none' as const, 'right' as const, 'wrong' as const),
        }),
        fc.record({
          kind: fc.constant('read' as const),
          stream: fc.constantFrom('a', 'b'),
          key: fc.constantFrom('k1', 'k2', 'k3'),
          fromSeq: fc.integer({ min: 1, max: 8 }),
        }),
      );

      it('behaves like the in-memory reference for random operation sequences', async () => {
        await fc.assert(
          fc.asyncProperty(fc.array(opArb, { maxLength: 40 }), async (ops) => {
            const { store, reopen } = await fresh();
            const model = new MemoryStore({ clock });
            let sut = store;
            for (const op of ops) {
              if (op.kind === 'append') {
                const events = op.times.slice(0, op.count).map((t, i) => ({ type: `T${i}`, time: T0 + t, data: { i, t } }));
                const head = await model.head(op.stream, op.key);
                const expectOpt =
                  op.expect === 'none' ? undefined : { lastSeq: op.expect === 'right' ? head.lastSeq : head.lastSeq + 1 };
                const [m, s] = await Promise.all([
                  settle(model.append(op.stream, op.key, events, { expect: expectOpt })),
                  settle(sut.append(op.stream, op.key, events, { expect: expectOpt })),
                ]);
                expect(s.ok).toBe(m.ok);
                if (m.ok && s.ok) expect(s.value).toEqual(m.value);
                else if (!m.ok && !s.ok) expect((s.error as { code: string }).code).toBe((m.error as { code: string }).code);
              } else {
                const [m, s] = await Promise.all([
                  collect(model.readShard(op.stream, op.key, { fromSeq: op.fromSeq })),
                  collect(sut.readShard(op.stream, op.key, { fromSeq: op.fromSeq })),
                ]);
                expect(s).toEqual(m);
              }
            }
            if (reopen !== undefined) {
              sut = await reopen();
              current = sut;
            }
            expect(await collect(sut.readAll())).toEqual(await collect(model.readAll()));
            expect(await sut.stats()).toEqual(await model.stats());
            await factory.teardown(sut);
            current = undefined;
          }),
          { numRuns: 25 },
        );
      });
    });

    describe('durability', () => {
      it('keeps events, heads, leases and snapshots across a reopen', async () => {
        const sut = await fresh();
        if (sut.reopen === undefined) return; // in-memory stores have nothing to reopen
        const { store } = sut;
        await store.append('s', 'k', [ev(1), ev(2)]);
        const lease = await store.acquireLease({ stream: 'out', range: { from: 0, to: 4096 }, owner: 'r1', ttlMs: 60_000 });
        await store.append('out', 'k', [ev(3)], { token: lease.token });
        await store.putSnapshot({ process: 'p', version: 'v', shard: 'k', position: 2, time: T0, data: new Uint8Array([7]) });
        const again = await sut.reopen();
        current = again;
        expect((await collect(again.readAll())).map((e) => e.position)).toEqual([1, 2, 3]);
        expect(await again.head('s', 'k')).toEqual({ lastSeq: 2, lastTime: T0 + 2 });
        const fenced = await settle(again.append('out', 'k', [ev(4)]));
        expect(!fenced.ok && isFenced(fenced.error)).toBe(true);
        await again.append('out', 'k', [ev(4)], { token: lease.token });
        const next = await again.acquireLease({ stream: 'other', range: { from: 0, to: 4096 }, owner: 'r1', ttlMs: 1 });
        expect(next.token).toBe(1);
        // Whether a lease outlives its holder's reopen is the store's business (the embedded store
        // frees them: only the lock holder takes leases); fencing and token order must survive.
        const bumped = await settle(again.acquireLease({ stream: 'out', range: { from: 0, to: 4096 }, owner: 'r1', ttlMs: 1 }));
        expect(bumped.ok && bumped.value.token).toBeGreaterThan(lease.token);
        const stale = await settle(again.append('out', 'k', [ev(5)], { token: lease.token }));
        expect(!stale.ok && isFenced(stale.error)).toBe(true);
        expect([...((await again.getSnapshot({ process: 'p', version: 'v', shard: 'k' }))?.data ?? [])]).toEqual([7]);
      });
    });
  });
}
