/** What the NATS store adds to the contract: retries, races between processes, fencing, odd keys. */
import { jetstream, type JetStreamClient, type JetStreamPublishOptions } from '@nats-io/jetstream';
import { connect, headers, TimeoutError } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isCorrupt, isFenced, isConflict, isInvalidInput, isUnavailable, ManualClock, MemoryStore, openStore, type NewEvent, type StoredEvent } from 'spive';
import { encodeBatchV2 } from '../../../src/store/nats/batch-format-v2.ts';
import { batchPayload, encodeBatch } from '../../../src/store/nats/event-message.ts';
import { NatsLayout } from '../../../src/store/nats/nats-layout.ts';
import { NatsStore, type NatsStoreOptions } from '../../../src/store/nats/nats-store.ts';
import { collect, settle } from '../../helpers/async.ts';
import { service } from '../../helpers/services.ts';
import { freshPrefix, NATS_SERVER, natsUrl } from './nats-fixture.ts';

const available = await service('nats');
const T0 = 1_700_000_000_000;
const ev = (i: number): NewEvent => ({ type: 'T', time: T0 + i, data: { i } });

/**
 * Wraps the store's publisher: `before(n)` runs ahead of publish number n (1-based), and the replies of
 * the publishes in `loseReplyOf` are lost after the message landed (the client sees a timeout).
 */
class FaultyPublisher {
  readonly msgIds: string[] = [];
  readonly loseReplyOf = new Set<number>();
  before: (n: number) => Promise<void> = async () => undefined;
  wrap = (js: JetStreamClient): JetStreamClient =>
    new Proxy(js, {
      get: (target, name, receiver) => {
        if (name !== 'publish') return Reflect.get(target, name, receiver);
        return async (subject: string, payload: Uint8Array, options: Partial<JetStreamPublishOptions>) => {
          const n = this.msgIds.push(options.msgID ?? '');
          await this.before(n);
          const ack = await target.publish(subject, payload, options);
          if (this.loseReplyOf.has(n)) throw new TimeoutError();
          return ack;
        };
      },
    });
}

describe.skipIf(!available)('NATS JetStream store', () => {
  const prefixes: string[] = [];
  const stores: NatsStore[] = [];
  /** Opens another client (as another process would) on the test's prefix. */
  async function open(options: NatsStoreOptions = {}): Promise<NatsStore> {
    if (prefixes.length === 0) prefixes.push(freshPrefix());
    const store = await NatsStore.open(natsUrl(prefixes[0] as string), options);
    stores.push(store);
    return store;
  }
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    for (const prefix of prefixes.splice(0)) await (await NatsStore.open(natsUrl(prefix))).drop();
  });

  describe('idempotent retries', () => {
    it('stores a batch once when its reply is lost and the retry repeats the message id', async () => {
      const faults = new FaultyPublisher();
      const store = await open({ wrapPublisher: faults.wrap });
      await store.append('s', 'k', [ev(1)]);
      faults.loseReplyOf.add(2);
      const result = await store.append('s', 'k', [ev(2), ev(3)], { expect: { lastSeq: 1 } });
      expect(result).toEqual({ firstSeq: 2, lastSeq: 3, firstPosition: 2, lastPosition: 3 });
      expect(faults.msgIds.length).toBe(3);
      expect(faults.msgIds[2]).toBe(faults.msgIds[1]);
      expect((await collect(store.readAll())).map((e) => e.time)).toEqual([T0 + 1, T0 + 2, T0 + 3]);
    });

    it('recognizes the duplicate even when another process appended before the retry', async () => {
      const faults = new FaultyPublisher();
      const store = await open({ wrapPublisher: faults.wrap });
      const other = await open();
      faults.loseReplyOf.add(1);
      faults.before = async (n) => {
        if (n === 2) await other.append('s', 'k2', [ev(2)]);
      };
      const result = await store.append('s', 'k', [ev(1)], { expect: { lastSeq: 0 } });
      expect(result).toEqual({ firstSeq: 1, lastSeq: 1, firstPosition: 1, lastPosition: 1 });
      expect(faults.msgIds).toEqual([faults.msgIds[0], faults.msgIds[0]]);
      expect((await collect(store.readAll())).map((e) => [e.key, e.position])).toEqual([['k', 1], ['k2', 2]]);
    });

    it('gives up with UNAVAILABLE, not a stack of client errors, when replies keep getting lost', async () => {
      const store = await open();
      let lost = 0;
      const always = (inner: JetStreamClient): JetStreamClient =>
        new Proxy(inner, {
          get: (t, n, r) => (n === 'publish' ? async () => { lost++; throw new TimeoutError(); } : Reflect.get(t, n, r)),
        });
      const broken = await open({ wrapPublisher: always });
      const r = await settle(broken.append('s', 'k', [ev(1)]));
      expect(!r.ok && isUnavailable(r.error)).toBe(true);
      expect(lost).toBeGreaterThan(1);
      expect(await collect(store.readAll())).toEqual([]);
    });
  });

  describe('two processes', () => {
    it('let exactly one conditional append on the same head win, and keep positions contiguous', async () => {
      const a = await open();
      const b = await open();
      await a.append('s', 'k', [ev(0)]);
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => settle((i % 2 ? a : b).append('s', 'k', [ev(i + 1)], { expect: { lastSeq: 1 } }))),
      );
      expect(results.filter((r) => r.ok).length).toBe(1);
      expect(results.filter((r) => !r.ok && isConflict(r.error)).length).toBe(9);
      expect((await collect(b.readShard('s', 'k'))).map((e) => e.seq)).toEqual([1, 2]);
    });

    it('lose no update in concurrent read-modify-write loops', async () => {
      const a = await open();
      const b = await open();
      const loop = async (store: NatsStore, id: number, n: number) => {
        let conflicts = 0;
        for (let done = 0; done < n; ) {
          const head = await store.head('counter', 'c');
          const r = await settle(store.append('counter', 'c', [ev(id * 100 + done)], { expect: { lastSeq: head.lastSeq } }));
          if (r.ok) done++;
          else if (isConflict(r.error)) conflicts++;
          else throw r.error;
        }
        return conflicts;
      };
      await Promise.all([loop(a, 1, 15), loop(b, 2, 15), loop(a, 3, 15), loop(b, 4, 15)]);
      const events = await collect(a.readAll());
      expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
      expect(events.map((e) => e.position)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    });

    it('interleave unconditional appends to different shards into one gapless global order', async () => {
      const a = await open();
      const b = await open();
      const appends = Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).append('s', `k${i % 5}`, [ev(i), ev(i + 100)]));
      const results = await Promise.all(appends);
      const positions = results.flatMap((r) => [r.firstPosition, r.lastPosition]).sort((x, y) => x - y);
      expect(positions).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
      const all = await collect(b.readAll());
      expect(all.map((e) => e.position)).toEqual(positions);
      for (let k = 0; k < 5; k++) {
        expect((await collect(a.readShard('s', `k${k}`))).map((e) => e.seq)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
      }
    });
  });

  describe('fencing', () => {
    const all = { from: 0, to: 4096 };

    it('rejects a stale token even when the takeover lands between the check and the publish', async () => {
      const clock = new ManualClock(T0);
      const faults = new FaultyPublisher();
      const old = await open({ clock, wrapPublisher: faults.wrap });
      const next = await open({ clock });
      const lease = await old.acquireLease({ stream: 'out', range: all, owner: 'r1', ttlMs: 1000 });
      await old.append('out', 'k', [ev(1)], { token: lease.token });
      clock.advance(1001);
      // `old` has decided (its cached table says its token governs); the takeover lands before its publish.
      faults.before = async (n) => {
        if (n === 3) await next.acquireLease({ stream: 'out', range: all, owner: 'r2', ttlMs: 1000 });
      };
      const stale = await settle(old.append('out', 'k', [ev(2)], { token: lease.token }));
      expect(!stale.ok && isFenced(stale.error)).toBe(true);
      expect((await collect(next.readShard('out', 'k'))).map((e) => e.time)).toEqual([T0 + 1]);
    });

    it('fences a second process that still holds a superseded lease, and keeps tokens increasing across clients', async () => {
      const clock = new ManualClock(T0);
      const a = await open({ clock });
      const b = await open({ clock });
      const first = await a.acquireLease({ stream: 'out', range: all, owner: 'r1', ttlMs: 1000 });
      const held = await settle(b.acquireLease({ stream: 'out', range: all, owner: 'r2', ttlMs: 1000 }));
      expect(held.ok).toBe(false);
      clock.advance(1500);
      const second = await b.acquireLease({ stream: 'out', range: all, owner: 'r2', ttlMs: 1000 });
      expect(second.token).toBe(first.token + 1);
      const renew = await settle(a.renewLease(first, 1000));
      expect(!renew.ok && isFenced(renew.error)).toBe(true);
      const append = await settle(a.append('out', 'k', [ev(1)], { token: first.token }));
      expect(!append.ok && isFenced(append.error)).toBe(true);
      await b.append('out', 'k', [ev(2)], { token: second.token });
      expect((await collect(a.readAll())).map((e) => e.time)).toEqual([T0 + 2]);
    });
  });

  describe('reading from a position', () => {
    it('starts exactly there from every position, through batches and lease tables in between', async () => {
      const clock = new ManualClock(T0);
      const store = await open({ clock });
      let n = 0;
      for (let i = 0; i < 12; i++) {
        const size = 1 + (i % 3);
        await store.append(i % 2 ? 'a' : 'b', `k${i % 4}`, Array.from({ length: size }, () => ev(++n)));
        if (i % 5 === 0) await store.acquireLease({ stream: 'c', range: { from: 0, to: 4096 }, owner: `o${i}`, ttlMs: 1 });
        clock.advance(2);
      }
      const all = await collect(store.readAll());
      expect(all.map((e) => e.position)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      for (let p = 1; p <= n + 1; p++) {
        expect((await collect(store.readAll({ fromPosition: p }))).map((e) => e.position)).toEqual(all.filter((e) => e.position >= p).map((e) => e.position));
        expect((await collect(store.readStream('a', { fromPosition: p }))).map((e) => e.position)).toEqual(
          all.filter((e) => e.stream === 'a' && e.position >= p).map((e) => e.position),
        );
      }
    });

    it('cuts messages into batches of any size: smaller than a message, not dividing it, larger than a read allocates up front', async () => {
      const store = await open();
      // 43 messages of 100 events: 4300, more than the 4096 a read allocates for a batch up front.
      for (let m = 0; m < 43; m++) await store.append('s', `k${m % 3}`, Array.from({ length: 100 }, (_, i) => ev(m * 100 + i)));
      for (const [batchSize, sizes] of [
        [7, [...Array<number>(614).fill(7), 2]],
        [100, Array<number>(43).fill(100)],
        [1000, [1000, 1000, 1000, 1000, 300]],
        [4100, [4100, 200]],
        [5000, [4300]],
      ] as const) {
        const batches: StoredEvent[][] = [];
        for await (const batch of store.readStream('s', { batchSize })) batches.push(batch);
        expect(batches.map((b) => b.length)).toEqual(sizes);
        // Every slot filled, in order (a batch allocated up front and cut short must not keep empty slots).
        const positions = batches.flatMap((b) => Array.from({ length: b.length }, (_, i) => b[i]?.position));
        expect(positions).toEqual(Array.from({ length: 4300 }, (_, i) => i + 1));
      }
    });
  });

  describe('tailing', () => {
    it("delivers another process's commits live, from a position not yet written", async () => {
      const a = await open();
      const b = await open();
      await a.append('s', 'k', [ev(1), ev(2)]);
      const seen: number[] = [];
      const abort = new AbortController();
      const done = (async () => {
        for await (const batch of a.subscribe({ stream: 's', fromPosition: 4, signal: abort.signal })) {
          seen.push(...batch.map((e) => e.position));
          if (seen.length === 3) abort.abort();
        }
      })();
      await b.append('s', 'k', [ev(3), ev(4)]); // positions 3 and 4: only 4 is wanted
      await b.append('other', 'k', [ev(5)]);
      await b.append('s', 'k2', [ev(6)]);
      await b.append('s', 'k', [ev(7)]);
      await done;
      expect(seen).toEqual([4, 6, 7]);
    });

    it('ends a live subscription when the store closes', async () => {
      const a = await open();
      await a.append('s', 'k', [ev(1)]);
      const seen: number[] = [];
      const done = (async () => {
        for await (const batch of a.subscribe()) seen.push(...batch.map((e) => e.position));
      })();
      while (seen.length === 0) await new Promise((resolve) => setImmediate(resolve));
      await a.close();
      await done;
      expect(seen).toEqual([1]);
    });
  });

  describe('closing', () => {
    it('fails a bounded read cut off by close with CLOSED instead of ending it early', async () => {
      const store = await open();
      await Promise.all(Array.from({ length: 2000 }, (_, i) => store.append('s', `k${i % 10}`, [ev(i)])));
      const read = store.readStream('s', { batchSize: 1 })[Symbol.asyncIterator]();
      let seen = ((await read.next()).value as unknown[]).length;
      await store.close();
      const r = await settle(
        (async () => {
          for (let next = await read.next(); next.done !== true; next = await read.next()) seen += next.value.length;
        })(),
      );
      expect(seen).toBeLessThan(2000);
      expect(!r.ok && (r.error as { code?: string }).code).toBe('CLOSED');
    });
  });

  describe('keys', () => {
    const odd = ['a.b', '*', '>', 'with space', 'tab\there', 'new\nline', 'ümlaut', '😀', '\ud800', '_5F', '=x', 'a'.repeat(1024), '漢'.repeat(1024), 'x.y.z.>'];

    it('keeps every key its own shard and reads it back as written', async () => {
      const store = await open();
      for (const [i, key] of odd.entries()) await store.append('s', key, [ev(i)]);
      await store.append('s', odd[0] as string, [ev(99)]);
      for (const [i, key] of odd.entries()) {
        const events = await collect(store.readShard('s', key));
        expect(events.map((e) => [e.key, e.time])).toEqual(i === 0 ? [[key, T0], [key, T0 + 99]] : [[key, T0 + i]]);
        expect((await store.head('s', key)).lastSeq).toBe(i === 0 ? 2 : 1);
      }
      expect((await store.stats()).streams[0]?.shards).toBe(odd.length);
      for (const [i, key] of odd.entries()) {
        await store.putSnapshot({ process: 'p.q', version: 'v 1', shard: key, position: i, time: T0, data: new Uint8Array([i]) });
      }
      for (const [i, key] of odd.entries()) {
        expect([...((await store.getSnapshot({ process: 'p.q', version: 'v 1', shard: key }))?.data ?? [])]).toEqual([i]);
      }
      expect((await store.listSnapshots({ process: 'p.q' })).map((s) => s.shard).sort()).toEqual([...odd].sort());
    });
  });

  describe('limits', () => {
    it("refuses a batch larger than the server's max_payload as INVALID_INPUT, before sending it", async () => {
      const store = await open();
      const big = 'x'.repeat(1024 * 1024);
      const r = await settle(store.append('s', 'k', [{ type: 'T', time: T0, data: big }]));
      expect(!r.ok && isInvalidInput(r.error)).toBe(true);
      expect(!r.ok && (r.error as Error).message).toMatch(/^events: expected a batch of at most \d+ bytes/);
      expect((await store.stats()).events).toBe(0);
    });
  });

  describe('message format', () => {
    /** Publishes straight into the store's stream, as an older Spive (or a broken writer) would. */
    async function publishRaw(prefix: string, subject: string, payload: Uint8Array, placement: Record<string, string>): Promise<void> {
      const nc = await connect({ servers: NATS_SERVER });
      try {
        const h = headers();
        for (const [name, value] of Object.entries(placement)) h.set(name, value);
        await jetstream(nc).publish(subject, payload, { headers: h });
      } finally {
        await nc.close();
      }
    }
    const v1Headers = (pos: number, seq: number, count: number, last: number) => ({
      'Spive-Format': '1',
      'Spive-Pos': String(pos),
      'Spive-Seq': String(seq),
      'Spive-Count': String(count),
      'Spive-Last-Time': String(last),
      'Spive-Min-Time': String(T0),
      'Spive-Max-Time': String(last),
    });

    it('reads messages written in format 1 by earlier versions, and appends after them', async () => {
      const store = await open();
      const prefix = prefixes[0] as string;
      const subject = new NatsLayout(prefix).shardSubject('s', 'k');
      const v1 = JSON.stringify([1, 1, 's', 'k', [['T', T0 + 1, { i: 1 }], ['T', T0 + 2, { i: 2 }, { by: 'old' }]]]);
      await publishRaw(prefix, subject, new TextEncoder().encode(v1), v1Headers(1, 1, 2, T0 + 2));
      expect(await store.append('s', 'k', [ev(3)], { expect: { lastSeq: 2, lastTime: T0 + 2 } })).toEqual({ firstSeq: 3, lastSeq: 3, firstPosition: 3, lastPosition: 3 });
      expect(await collect(store.readStream('s'))).toEqual([
        { stream: 's', key: 'k', seq: 1, position: 1, type: 'T', time: T0 + 1, data: { i: 1 } },
        { stream: 's', key: 'k', seq: 2, position: 2, type: 'T', time: T0 + 2, data: { i: 2 }, meta: { by: 'old' } },
        { stream: 's', key: 'k', seq: 3, position: 3, type: 'T', time: T0 + 3, data: { i: 3 } },
      ]);
      expect((await collect(store.readAll({ fromPosition: 2 }))).map((e) => e.position)).toEqual([2, 3]);
    });

    it('reads a store holding messages of formats 1, 2 and 3 in order, and appends after them', async () => {
      const store = await open();
      const prefix = prefixes[0] as string;
      const subject = new NatsLayout(prefix).shardSubject('s', 'k');
      const v1 = JSON.stringify([1, 1, 's', 'k', [['T', T0 + 1, { i: 1 }]]]);
      await publishRaw(prefix, subject, new TextEncoder().encode(v1), v1Headers(1, 1, 1, T0 + 1));
      await publishRaw(prefix, subject, encodeBatchV2('s', 'k', [ev(2)], 2, 2), { ...v1Headers(2, 2, 1, T0 + 2), 'Spive-Format': '2' });
      expect(await store.append('s', 'k', [ev(3)], { expect: { lastSeq: 2, lastTime: T0 + 2 } })).toEqual({ firstSeq: 3, lastSeq: 3, firstPosition: 3, lastPosition: 3 });
      expect((await collect(store.readStream('s'))).map((e) => [e.seq, e.position, e.data])).toEqual([
        [1, 1, { i: 1 }],
        [2, 2, { i: 2 }],
        [3, 3, { i: 3 }],
      ]);
      expect((await collect(store.readShard('s', 'k', { fromSeq: 2 }))).map((e) => e.seq)).toEqual([2, 3]);
    });

    it('fails a read with CORRUPT naming the message when one is damaged, instead of skipping it', async () => {
      const store = await open();
      const prefix = prefixes[0] as string;
      await store.append('s', 'k', [ev(1)]);
      const damaged = batchPayload(encodeBatch('s', 'k', [ev(2)]), 2, 2);
      damaged[damaged.length - 3] = 0x20;
      await publishRaw(prefix, new NatsLayout(prefix).shardSubject('s', 'k'), damaged, { ...v1Headers(2, 2, 1, T0 + 2), 'Spive-Format': '3' });
      for (const read of [() => store.readStream('s'), () => store.readShard('s', 'k'), () => store.readAll({ fromPosition: 2 })]) {
        const r = await settle(collect(read()));
        expect(!r.ok && isCorrupt(r.error)).toBe(true);
        expect(!r.ok && (r.error as Error).message).toMatch(/\.ev\.s\.k at offset 2: format 3 payload: CRC-32/);
      }
    });
  });

  describe('snapshots', () => {
    it('lists snapshots like the in-memory reference for any filter', async () => {
      const store = await open();
      const model = new MemoryStore();
      const snapshotArb = fc.record({
        process: fc.constantFrom('p', 'q.r'),
        version: fc.constantFrom('v1', 'v 2'),
        shard: fc.constantFrom('a', 'b', 'c/d'),
        position: fc.integer({ min: 0, max: 50 }),
      });
      const filterArb = fc.record(
        { process: fc.constantFrom('p', 'q.r'), version: fc.constantFrom('v1', 'v 2'), maxTime: fc.integer({ min: 0, max: 50 }), newestPerShard: fc.boolean() },
        { requiredKeys: [] },
      );
      const puts = fc.sample(fc.array(snapshotArb, { minLength: 5, maxLength: 25 }), { numRuns: 1, seed: 9 })[0] ?? [];
      for (const s of puts) {
        // Times grow with positions within a shard, as snapshots of one process do.
        const snapshot = { ...s, time: T0 + s.position, data: new Uint8Array([s.position]) };
        await store.putSnapshot(snapshot);
        await model.putSnapshot(snapshot);
      }
      await fc.assert(
        fc.asyncProperty(filterArb, async (filter) => {
          const f = filter.maxTime === undefined ? filter : { ...filter, maxTime: T0 + filter.maxTime };
          expect(await store.listSnapshots(f)).toEqual(await model.listSnapshots(f));
        }),
        { numRuns: 15 },
      );
      expect((await store.stats()).snapshots).toBe((await model.stats()).snapshots);
    });
  });

  describe('opening', () => {
    it('is what openStore gives for a nats:// location', async () => {
      const prefix = freshPrefix();
      const store = await openStore(natsUrl(prefix));
      prefixes.push(prefix);
      stores.push(store as NatsStore);
      expect(store.location).toBe(natsUrl(prefix));
      await store.append('s', 'k', [ev(1)]);
      expect((await store.stats()).events).toBe(1);
    });

    it('says the server is unreachable, as UNAVAILABLE naming it', async () => {
      const r = await settle(NatsStore.open('nats://127.0.0.1:1?prefix=x', { connectTimeoutMs: 500 }));
      expect(!r.ok && isUnavailable(r.error)).toBe(true);
      expect(!r.ok && (r.error as Error).message).toMatch(/^NATS server 127\.0\.0\.1:1: not reachable/);
    });
  });
});
