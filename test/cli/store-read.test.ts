/**
 * `spive store read`: a stream's events and a replayed version's, with filters, the limit, --json,
 * errors naming the flag (exit 2), reading a store another process holds, after a real `spive replay`;
 * and (property) the filters equal a plain filter over every event, on a memory store.
 */
import fc from 'fast-check';
import { cpSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedStore, MemoryStore, Platform, type StoredEvent } from 'spive';
import { formatEvents, matches, readEvents } from '../../cli/commands/store-read.ts';
import { readVersion } from '../../src/replay/fork.ts';
import { PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { NatsStore } from '../../src/store/nats/nats-store.ts';
import { runCli } from '../helpers/fake-streams.ts';
import { service } from '../helpers/services.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { freshPrefix, natsUrl } from '../store/nats/nats-fixture.ts';
import { dropSchema, freshSchema, storeUrl } from '../store/postgres/pg-test-db.ts';
import { totalsApp } from '../replay/fixtures/totals.ts';
import { copyStore } from '../replay/helpers.ts';

const T0 = Date.UTC(2026, 0, 1);
let dir: ReturnType<typeof tempDir>;
let shop: string;

/**
 * The tutorial's shop, by hand: orders; stock as v1 decided it (o3 wrongly reserved, o4 refused);
 * stock--v2 rebuilding mug after its first event (o3 refused, o4 reserved); stock--v3 keeping all of mug.
 */
async function writeShop(path: string): Promise<void> {
  const s = await EmbeddedStore.open(path);
  const order = (order: string, sku: string, quantity: number, customer: string) => ({ order, sku, quantity, customer });
  const at = (n: number) => T0 + n * 1000;
  await s.append('orders', 'mug', [{ type: 'Restocked', time: at(0), data: { sku: 'mug', quantity: 2 } }]); // 1
  await s.append('orders', 'tee', [{ type: 'Restocked', time: at(1), data: { sku: 'tee', quantity: 5 } }]); // 2
  await s.append('orders', 'mug', [{ type: 'OrderPlaced', time: at(2), data: order('o1', 'mug', 1, 'ada') }]); // 3
  await s.append('stock', 'mug', [{ type: 'Reserved', time: at(2), data: { ...order('o1', 'mug', 1, 'ada'), left: 1 }, meta: { v: 'v1', m: 3 } }]); // 4
  await s.append('orders', 'tee', [{ type: 'OrderPlaced', time: at(3), data: order('o2', 'tee', 2, 'alan') }]); // 5
  await s.append('stock', 'tee', [{ type: 'Reserved', time: at(3), data: { ...order('o2', 'tee', 2, 'alan'), left: 3 }, meta: { v: 'v1', m: 4 } }]); // 6
  await s.append('orders', 'mug', [{ type: 'OrderPlaced', time: at(4), data: order('o3', 'mug', 3, 'grace') }]); // 7
  await s.append('stock', 'mug', [{ type: 'Reserved', time: at(4), data: { ...order('o3', 'mug', 3, 'grace'), left: -2 }, meta: { v: 'v1', m: 5 } }]); // 8
  await s.append('stock', '$idle', [{ type: '$idle', time: at(5), data: null }]); // 9
  await s.append('orders', 'mug', [{ type: 'OrderPlaced', time: at(6), data: order('o4', 'mug', 1, 'ada') }]); // 10
  await s.append('stock', 'mug', [{ type: 'OutOfStock', time: at(6), data: order('o4', 'mug', 1, 'ada'), meta: { v: 'v1', m: 6 } }]); // 11
  const fork = (baseSeq: number, count: number, toVersion: string) => ({ type: '$fork', time: at(2), data: { base: 'stock', baseSeq, count, process: 'stock', fromVersion: 'v1', toVersion, mode: 'scratch' }, meta: { v: toVersion } });
  await s.append('stock--v2', 'mug', [
    fork(1, 2, 'v2'), // 12
    { type: 'OutOfStock', time: at(4), data: order('o3', 'mug', 3, 'grace'), meta: { v: 'v2', m: 5 } }, // 13
    { type: 'Reserved', time: at(6), data: { ...order('o4', 'mug', 1, 'ada'), left: 0 }, meta: { v: 'v2', m: 6 } }, // 14
  ]);
  await s.append('stock--v3', 'mug', [fork(3, 0, 'v3')]); // 15
  await s.close();
}

beforeAll(async () => {
  dir = tempDir('spive-cli-store-read-');
  shop = `${dir.path}/shop`;
  await writeShop(shop);
});

afterAll(() => dir.cleanup());

const HEADER = 'position  key#seq  time                      type        data';

describe('spive store read', () => {
  it('prints a header and one line per event, platform events hidden, and how many', async () => {
    const r = await runCli('store', 'read', shop, 'stock');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual([
      HEADER,
      '       4  mug#1    2026-01-01T00:00:02.000Z  Reserved    {"order":"o1","sku":"mug","quantity":1,"customer":"ada","left":1}',
      '       6  tee#1    2026-01-01T00:00:03.000Z  Reserved    {"order":"o2","sku":"tee","quantity":2,"customer":"alan","left":3}',
      '       8  mug#2    2026-01-01T00:00:04.000Z  Reserved    {"order":"o3","sku":"mug","quantity":3,"customer":"grace","left":-2}',
      '      11  mug#3    2026-01-01T00:00:06.000Z  OutOfStock  {"order":"o4","sku":"mug","quantity":1,"customer":"ada"}',
      'stock: 4 events',
      '',
    ]);
  });

  it('--platform shows $-events; --key, --type, --from-position and --from-time filter', async () => {
    const lines = async (...args: string[]) => {
      const r = await runCli('store', 'read', shop, ...args);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.trim().split('\n');
    };
    expect(await lines('stock', '--platform')).toContainEqual('       9  $idle#1  2026-01-01T00:00:05.000Z  $idle       null');
    expect((await lines('stock', '--key', 'mug')).slice(1, -1).map((l) => l.split(/\s+/)[2])).toEqual(['mug#1', 'mug#2', 'mug#3']);
    expect((await lines('stock', '--type', 'OutOfStock'))).toEqual([
      'position  key#seq  time                      type        data',
      '      11  mug#3    2026-01-01T00:00:06.000Z  OutOfStock  {"order":"o4","sku":"mug","quantity":1,"customer":"ada"}',
      'stock: 1 event',
    ]);
    expect((await lines('orders', '--type', 'Restocked,OrderPlaced', '--from-position', '5', '--key', 'mug')).slice(1, -1).map((l) => l.trim().split(/\s+/)[0])).toEqual(['7', '10']);
    expect((await lines('orders', '--from-time', '2026-01-01T00:00:03Z')).slice(1, -1).map((l) => l.trim().split(/\s+/)[0])).toEqual(['5', '7', '10']);
    expect(await lines('orders', '--from-time', String(T0 + 3000), '--type', 'Restocked')).toEqual(['orders: no events match']);
    expect(await lines('stock', '--key', 'cup')).toEqual(['stock: no events match (it has no key "cup")']);
  });

  it('--limit shows the first N and says how many matched; 0 shows all', async () => {
    const r = await runCli('store', 'read', shop, 'orders', '--limit', '2');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.slice(1, -1).map((l) => l.trim().split(/\s+/)[0])).toEqual(['1', '2']);
    expect(lines.at(-1)).toBe('orders: showed the first 2 of 6 matching events (--limit 2; --limit 0 shows all)');
    expect((await runCli('store', 'read', shop, 'orders', '--limit', '0')).stdout.trim().split('\n')).toHaveLength(1 + 6 + 1);
  });

  it('--version: the base prefix and the new events, by the producer\'s order, positions and seqs of the version', async () => {
    const r = await runCli('store', 'read', shop, 'stock', '--version', 'v2');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')).toEqual([
      HEADER,
      '       1  mug#1    2026-01-01T00:00:02.000Z  Reserved    {"order":"o1","sku":"mug","quantity":1,"customer":"ada","left":1}',
      '       2  tee#1    2026-01-01T00:00:03.000Z  Reserved    {"order":"o2","sku":"tee","quantity":2,"customer":"alan","left":3}',
      '       3  mug#2    2026-01-01T00:00:04.000Z  OutOfStock  {"order":"o3","sku":"mug","quantity":3,"customer":"grace"}',
      '       4  mug#3    2026-01-01T00:00:06.000Z  Reserved    {"order":"o4","sku":"mug","quantity":1,"customer":"ada","left":0}',
      'stock at version v2: 4 events',
      '',
    ]);
    // v3 shares all of mug: the same decisions as the base.
    const v3 = await runCli('store', 'read', shop, 'stock', '--version', 'v3', '--key', 'mug', '--json');
    expect(JSON.parse(v3.stdout).events.map((e: StoredEvent) => [e.seq, e.type, (e.data as { order: string }).order])).toEqual([
      [1, 'Reserved', 'o1'],
      [2, 'Reserved', 'o3'],
      [3, 'OutOfStock', 'o4'],
    ]);
    const filtered = await runCli('store', 'read', shop, 'stock', '--version', 'v2', '--from-position', '3', '--type', 'Reserved');
    expect(filtered.stdout.trim().split('\n').slice(1)).toEqual([
      '       4  mug#3    2026-01-01T00:00:06.000Z  Reserved  {"order":"o4","sku":"mug","quantity":1,"customer":"ada","left":0}',
      'stock at version v2: 1 event',
    ]);
  });

  it('--json prints one object with the events as stored', async () => {
    const r = await runCli('store', 'read', '--store', shop, 'stock', '--json', '--limit', '1', '--platform', '--from-position', '9');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(r.stdout)).toEqual({
      location: `file:${shop}`,
      stream: 'stock',
      version: null,
      generation: null,
      matched: 2,
      shown: 1,
      limit: 1,
      events: [{ stream: 'stock', key: '$idle', seq: 1, position: 9, time: T0 + 5000, type: '$idle', data: null }],
    });
    const v = JSON.parse((await runCli('store', 'read', shop, 'stock', '--version', 'v2', '--json', '--key', 'mug')).stdout);
    expect(v).toMatchObject({ stream: 'stock', version: 'v2', matched: 3, shown: 3, limit: 50 });
    expect(v.events[2]).toEqual({ stream: 'stock', key: 'mug', seq: 3, position: 4, time: T0 + 6000, type: 'Reserved', data: { order: 'o4', sku: 'mug', quantity: 1, customer: 'ada', left: 0 }, meta: { v: 'v2', m: 6 } });
  });

  it('exits 2 with one line naming the flag or argument: unknown stream, unknown version, bad values', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['nope'], /^spive: <stream>: file:.* has no stream "nope"; its streams: "orders", "stock", "stock--v2", "stock--v3"\n$/],
      [['stock', '--version', 'v9'], /^spive: --version: no version "v9" of stock in file:.* \(no stream stock--v9\); versions found: "v2", "v3"\n$/],
      [['orders', '--version', 'v2'], /^spive: --version: no version "v2" of orders .*; no replay has written a version of orders\n$/],
      [['stock', '--version'], /^spive: --version: stock has 2 replayed versions \("v2", "v3"\); name one: --version V\n$/],
      [['stock', '--limit', 'x'], /--limit expects an integer >= 0 \(0: all\), got "x"\n$/],
      [['stock', '--limit', '-1'], /--limit expects an integer >= 0/],
      [['stock', '--from-position', '0'], /--from-position expects a positive integer, got "0"\n$/],
      [['stock', '--from-time', 'yesterday'], /--from-time expects an ISO-8601 time or integer ms since the epoch, got "yesterday"\n$/],
      [['stock', '--type', 'A,,B'], /--type expects event types, comma-separated, got "A,,B"\n$/],
      [['stock', '--base'], /^spive: --base: stock was never switched over to a new version in file:.*; it is read as stored without --base\n$/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli('store', 'read', shop, ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout, args.join(' ')).toBe('');
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    const memory = await runCli('store', 'read', 'memory:', 'stock');
    expect([memory.code, memory.stderr]).toEqual([2, 'spive: <store>: memory: is empty in a new process; give a path, file:<dir>, postgres://… or nats://…\n']);
    const missing = await runCli('store', 'read', `${dir.path}/no-store`, 'stock');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^spive: embedded store at .*no-store not found\n$/);
    const twice = await runCli('store', 'read', shop, 'stock', '--store', shop);
    expect([twice.code, twice.stderr]).toEqual([2, 'spive: <store> and --store: give the store once\n']);
    const none = await runCli('store', 'read');
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/missing required argument 'stream'/);
  });

  it('reads an embedded store another process holds for writing, and sees what it committed', async () => {
    const path = `${dir.path}/held`;
    cpSync(shop, path, { recursive: true });
    const writer = await EmbeddedStore.open(path);
    try {
      await writer.append('orders', 'tee', [{ type: 'OrderPlaced', time: T0 + 9000, data: { order: 'o5', sku: 'tee', quantity: 1, customer: 'alan' } }]);
      const r = await runCli('store', 'read', path, 'orders', '--key', 'tee', '--json');
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).events.map((e: StoredEvent) => (e.data as { order?: string }).order ?? e.type)).toEqual(['Restocked', 'o2', 'o5']);
    } finally {
      await writer.close();
    }
  });

  it('cuts long data to the width with an ellipsis (160 columns when stdout is not a terminal)', async () => {
    const e: StoredEvent = { stream: 's', key: 'k', seq: 1, position: 1, time: T0, type: 'Big', data: { text: 'x'.repeat(300) } };
    const lines = formatEvents([e], 80);
    expect(lines[1]).toHaveLength(80);
    expect(lines[1]).toMatch(/^ {7}1 {2}k#1 {6}2026-01-01T00:00:00\.000Z {2}Big {3}\{"text":"x+…$/);
    const path = `${dir.path}/big`;
    const s = await EmbeddedStore.open(path);
    await s.append('s', 'k', [{ type: 'Big', time: T0, data: e.data }]);
    await s.close();
    const line = (await runCli('store', 'read', path, 's')).stdout.split('\n')[1] as string;
    expect(line).toHaveLength(160);
    expect(line.endsWith('…')).toBe(true);
  });

  it('a version whose replay has not finished is an error saying so (exit 2)', async () => {
    const path = `${dir.path}/unfinished`;
    cpSync(shop, path, { recursive: true });
    const s = await EmbeddedStore.open(path);
    await s.append('stock--v4', 'tee', [{ type: '$fork', time: T0, data: { base: 'stock', baseSeq: 0, count: 2, process: 'stock', fromVersion: 'v1', toVersion: 'v4', mode: 'scratch' } }, { type: 'OutOfStock', time: T0 + 3000, data: {} }]);
    await s.close();
    const r = await runCli('store', 'read', path, 'stock', '--version', 'v4');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^spive: shard tee of stock--v4 is incomplete \(1 of 2 events after its fork record\): the replay that writes it has not finished/);
  });

  it('program options stay before the command: `--version` after it is the command\'s, `spive --version` prints the version', async () => {
    expect((await runCli('--version')).stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    expect((await runCli('store', 'read', shop, 'stock', '--version', 'v2')).stdout).toContain('stock at version v2');
  });
});

describe('spive store read after a real spive replay', () => {
  it('--version shows what the replay wrote, shard by shard as readVersion reads it, in the producer\'s order', async () => {
    const memory = new MemoryStore();
    const platform = await Platform.start(totalsApp('v1'), { store: memory, version: 'v1', idle: false, ingressIdle: false });
    for (let i = 0; i < 60; i++) {
      await platform.append('payments', { type: i % 7 === 0 ? 'Refunded' : 'Paid', data: { account: ['a', 'b', 'c'][i % 3] as string, amount: (i * 37) % 101 }, time: T0 + i * 1000 });
    }
    await platform.settle({ timeoutMs: 60_000 });
    await platform.stop();
    const path = `${dir.path}/totals`;
    const store = await EmbeddedStore.open(path);
    await copyStore(memory, store);
    await store.close();

    const app = fileURLToPath(new URL('../replay/fixtures/totals-v2-app.ts', import.meta.url));
    const plan = `${dir.path}/totals-plan.json`;
    const planned = await runCli('replay-plan', '--store', path, '--app', app, '--process', 'totals', '--out', plan, '--json');
    expect(planned.code, planned.stderr).toBe(0);
    const replayed = await runCli('replay', '--plan', plan, '--store', path, '--json');
    expect(replayed.code, replayed.stderr).toBe(0);
    expect(JSON.parse(replayed.stdout).outputStream).toBe('totals--v2');

    // Alone, --version takes the one version there is.
    const r = await runCli('store', 'read', path, 'totals', '--version', '--limit', '0', '--json');
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { version: string; matched: number; events: StoredEvent[] };
    expect(result.version).toBe('v2');
    const positions = result.events.map((e) => e.position);
    expect(positions).toEqual([...positions].sort((x, y) => x - y));
    // Positions are ordinals in the version: with its platform events ($progress), 1, 2, 3, …
    const all = JSON.parse((await runCli('store', 'read', path, 'totals', '--version', 'v2', '--platform', '--limit', '0', '--json')).stdout) as { events: StoredEvent[] };
    expect(all.events.map((e) => e.position)).toEqual(all.events.map((_e, i) => i + 1));
    const ms = result.events.map((e) => e.meta?.m as number);
    expect(ms).toEqual([...ms].sort((x, y) => x - y));
    const check = await EmbeddedStore.open(path, { readOnly: true });
    try {
      for (const key of ['a', 'b', 'c']) {
        const expected: unknown[] = [];
        for await (const batch of readVersion(check, 'totals', 'v2', key)) for (const e of batch) if (!e.type.startsWith('$')) expected.push([e.seq, e.type, e.data]);
        expect(expected.length).toBeGreaterThan(0);
        expect(result.events.filter((e) => e.key === key).map((e) => [e.seq, e.type, e.data]), key).toEqual(expected);
      }
      // The new version differs from the base (v2 emits a total every third payment).
      const base = JSON.parse((await runCli('store', 'read', path, 'totals', '--limit', '0', '--json')).stdout) as { matched: number };
      expect(base.matched).not.toBe(result.matched);
    } finally {
      await check.close();
    }
    const text = await runCli('store', 'read', path, 'totals', '--version', 'v2', '--limit', '3');
    expect(text.stdout.trim().split('\n').at(-1)).toBe(`totals at version v2: showed the first 3 of ${result.matched} matching events (--limit 3; --limit 0 shows all)`);
  }, 120_000);
});

const servers = { postgres: await service('postgres'), nats: await service('nats') };

describe('spive store read on PostgreSQL and NATS JetStream stores', () => {
  /** What the embedded shop shows, as JSON (every event, platform ones too). */
  const read = async (location: string, ...args: string[]) => {
    const r = await runCli('store', 'read', location, 'stock', '--limit', '0', '--platform', '--json', ...args);
    expect(r.code, r.stderr).toBe(0);
    const { location: _where, ...rest } = JSON.parse(r.stdout);
    return rest;
  };
  const sameAsEmbedded = async (location: string) => {
    for (const args of [[], ['--version', 'v2'], ['--version', 'v3', '--key', 'mug'], ['--type', 'Reserved', '--from-time', String(T0 + 3000)]]) {
      expect(await read(location, ...args), args.join(' ')).toEqual(await read(shop, ...args));
    }
    const unknown = await runCli('store', 'read', location, 'stock', '--version', 'v9');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/versions found: "v2", "v3"\n$/);
  };
  const copyShop = async (to: PostgresStore | NatsStore) => {
    const from = await EmbeddedStore.open(shop, { readOnly: true });
    try {
      await copyStore(from, to);
    } finally {
      await from.close();
      await to.close();
    }
  };

  it.skipIf(!servers.postgres)('postgres:// shows what the embedded store shows', async () => {
    const schema = freshSchema('read');
    try {
      await copyShop(await PostgresStore.open(storeUrl(schema)));
      await sameAsEmbedded(storeUrl(schema));
    } finally {
      await dropSchema(schema);
    }
  }, 60_000);

  it.skipIf(!servers.nats)('nats:// shows what the embedded store shows', async () => {
    const url = natsUrl(freshPrefix());
    try {
      await copyShop(await NatsStore.open(url));
      await sameAsEmbedded(url);
    } finally {
      await (await NatsStore.open(url)).drop();
    }
  }, 60_000);
});

describe('readEvents on a memory store (property)', () => {
  it('equals a plain filter over every event of the stream, cut to the limit', async () => {
    const event = fc.record({
      stream: fc.constantFrom('s', 't'),
      key: fc.constantFrom('a', 'b', 'c', '$idle'),
      type: fc.constantFrom('A', 'B', '$idle'),
      time: fc.integer({ min: 0, max: 20 }),
      n: fc.integer({ min: 0, max: 9 }),
    });
    const query = fc.record({
      key: fc.option(fc.constantFrom('a', 'b', 'c', 'z'), { nil: undefined }),
      types: fc.option(fc.subarray(['A', 'B', '$idle', 'C']), { nil: undefined }),
      fromPosition: fc.option(fc.integer({ min: 1, max: 40 }), { nil: undefined }),
      fromTime: fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined }),
      limit: fc.integer({ min: 0, max: 8 }),
      platform: fc.boolean(),
      stream: fc.constantFrom('s', 't'),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(event, { maxLength: 30 }), query, async (events, q) => {
        const store = new MemoryStore();
        const all: StoredEvent[] = [];
        for (const e of events) {
          const r = await store.append(e.stream, e.key, [{ type: e.type, time: e.time, data: { n: e.n } }]);
          all.push({ stream: e.stream, key: e.key, seq: r.firstSeq, position: r.firstPosition, time: e.time, type: e.type, data: { n: e.n } });
        }
        const expected = all.filter((e) => e.stream === q.stream && matches(e, q));
        const got = await readEvents(store, q);
        expect(got.matched).toBe(expected.length);
        expect(got.events.map((e) => [e.key, e.seq, e.position, e.time, e.type, e.data])).toEqual(
          (q.limit === 0 ? expected : expected.slice(0, q.limit)).map((e) => [e.key, e.seq, e.position, e.time, e.type, e.data]),
        );
        // And `matches` is the plain filter it says it is.
        for (const e of all) {
          const plain = (q.platform || !e.type.startsWith('$')) && (q.key === undefined || e.key === q.key) && (q.types === undefined || q.types.length === 0 || q.types.includes(e.type)) && (q.fromPosition === undefined || e.position >= q.fromPosition) && (q.fromTime === undefined || e.time >= q.fromTime);
          expect(matches(e, q)).toBe(plain);
        }
        await store.close();
      }),
      { numRuns: 60 },
    );
  });
});
