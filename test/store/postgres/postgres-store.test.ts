/**
 * What the PostgreSQL store does beyond the shared contract: versioned migrations, fencing and
 * appendIf enforced by the database itself, several store instances (processes) on one schema,
 * commit notifications across them, and clear errors for bad locations and unreachable servers.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ManualClock,
  MemoryStore,
  bucketOf,
  isConflict,
  isFenced,
  isInvalidInput,
  isLeaseHeld,
  isUnavailable,
  openStore,
  type SnapshotFilter,
} from 'spive';
import { migrate } from '../../../src/store/postgres/migrate.ts';
import { MIGRATIONS } from '../../../src/store/postgres/migrations.ts';
import { PostgresStore } from '../../../src/store/postgres/postgres-store.ts';
import { settle } from '../../helpers/async.ts';
import { service } from '../../helpers/services.ts';
import { TEST_DATABASE_URL, dropSchema, freshSchema, rawClient, storeUrl } from './pg-test-db.ts';

const up = await service('postgres');
const T0 = 1_700_000_000_000;
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function openFresh(n = 1, clock = new ManualClock(T0)): Promise<{ schema: string; stores: PostgresStore[] }> {
  const schema = freshSchema('s');
  const stores: PostgresStore[] = [];
  cleanups.push(async () => {
    for (const s of stores) await s.close();
    await dropSchema(schema);
  });
  for (let i = 0; i < n; i++) stores.push(await PostgresStore.open(storeUrl(schema), { clock, poolSize: 4, pollMs: 60_000 }));
  return { schema, stores };
}

describe.skipIf(!up)('PostgreSQL store: migrations', () => {
  it('creates the schema at the newest version, records each migration once, and does nothing the second time', async () => {
    const schema = freshSchema('m');
    const client = await rawClient();
    cleanups.push(async () => {
      await client.end();
      await dropSchema(schema);
    });
    const newest = Math.max(...MIGRATIONS.map((m) => m.version));
    const first = await migrate(client, schema);
    expect(first).toEqual({ applied: MIGRATIONS.map((m) => m.version), version: newest });
    expect(await migrate(client, schema)).toEqual({ applied: [], version: newest });
    const rows = await client.query(`SELECT version FROM "${schema}".migrations ORDER BY version`);
    expect(rows.rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
  });

  it('applies only the missing migrations of an older schema', async () => {
    const schema = freshSchema('m');
    const client = await rawClient();
    cleanups.push(async () => {
      await client.end();
      await dropSchema(schema);
    });
    expect((await migrate(client, schema, MIGRATIONS.slice(0, 1))).applied).toEqual([1]);
    expect((await migrate(client, schema)).applied).toEqual(MIGRATIONS.slice(1).map((m) => m.version));
  });

  it('lets several processes open a new store at once: one migrates, the others wait and find it done', async () => {
    const schema = freshSchema('m');
    const stores = await Promise.all(Array.from({ length: 4 }, () => PostgresStore.open(storeUrl(schema), { poolSize: 2 })));
    cleanups.push(async () => {
      for (const s of stores) await s.close();
      await dropSchema(schema);
    });
    const client = await rawClient();
    const rows = await client.query(`SELECT version FROM "${schema}".migrations ORDER BY version`);
    await client.end();
    expect(rows.rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
    await (stores[0] as PostgresStore).append('s', 'k', [{ type: 'T', time: T0, data: 1 }]);
    expect((await (stores[3] as PostgresStore).head('s', 'k')).lastSeq).toBe(1);
  });

  it('refuses a schema migrated by a newer Spive, saying so', async () => {
    const schema = freshSchema('m');
    const client = await rawClient();
    cleanups.push(async () => {
      await client.end();
      await dropSchema(schema);
    });
    await migrate(client, schema);
    await client.query(`INSERT INTO "${schema}".migrations (version, name) VALUES (999, 'from the future')`);
    const r = await settle(PostgresStore.open(storeUrl(schema)));
    expect(r.ok).toBe(false);
    if (!r.ok) expect((r.error as Error).message).toMatch(/version 999, newer than this Spive knows.*upgrade Spive/);
  });
});

describe.skipIf(!up)('PostgreSQL store: rules enforced by the database', () => {
  const rawAppend = (schema: string, token: number | null, expectSeq: number | null = null) =>
    `SELECT * FROM "${schema}".append('out', 'k', '[["T", ${T0}, {"x": 1}]]'::jsonb, ${expectSeq ?? 'NULL'}, false, NULL, ${token ?? 'NULL'})`;

  it('rejects a raw SQL append with a stale, missing or never-issued token (SQLSTATE SPV02)', async () => {
    const clock = new ManualClock(T0);
    const { schema, stores } = await openFresh(1, clock);
    const store = stores[0] as PostgresStore;
    const client = await rawClient();
    cleanups.push(() => client.end());
    const codeOf = async (sql: string) => {
      const r = await settle(client.query(sql));
      return r.ok ? 'ok' : (r.error as { code: string }).code;
    };
    const first = await store.acquireLease({ stream: 'out', range: { from: 0, to: 4096 }, owner: 'r1', ttlMs: 1000 });
    expect(await codeOf(rawAppend(schema, first.token))).toBe('ok');
    expect(await codeOf(rawAppend(schema, null))).toBe('SPV02');
    expect(await codeOf(rawAppend(schema, first.token + 5))).toBe('SPV02');
    clock.advance(1001);
    const second = await store.acquireLease({ stream: 'out', range: { from: 0, to: 4096 }, owner: 'r2', ttlMs: 1000 });
    expect(await codeOf(rawAppend(schema, first.token))).toBe('SPV02');
    expect(await codeOf(rawAppend(schema, second.token))).toBe('ok');
    // appendIf is the database's too: a stale expectation is refused whoever sends it.
    expect(await codeOf(rawAppend(schema, second.token, 1))).toBe('SPV01');
    const rows = await client.query(`SELECT seq FROM "${schema}".events ORDER BY position`);
    expect(rows.rows.map((r) => Number(r.seq))).toEqual([1, 2]);
  });

  it('computes the same shard bucket as the client for any key (so fencing does not trust the client)', async () => {
    const { schema } = await openFresh();
    const client = await rawClient();
    cleanups.push(() => client.end());
    // PostgreSQL text holds any Unicode but NUL; lone surrogates have no UTF-8 form.
    const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
    const keyArb = fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }).filter((k) => !k.includes('\u0000') && !loneSurrogate.test(k));
    await fc.assert(
      fc.asyncProperty(fc.array(keyArb, { minLength: 1, maxLength: 50 }), async (keys) => {
        const r = await client.query(`SELECT "${schema}".bucket_of(k) AS b FROM unnest($1::text[]) WITH ORDINALITY AS t(k, i) ORDER BY i`, [keys]);
        expect(r.rows.map((row) => row.b)).toEqual(keys.map(bucketOf));
      }),
      { numRuns: 30 },
    );
  });

  it('keeps a lease change from slipping between an append’s token check and its commit', async () => {
    const clock = new ManualClock(T0);
    const { schema, stores } = await openFresh(1, clock);
    const store = stores[0] as PostgresStore;
    const held = await rawClient();
    cleanups.push(() => held.end());
    const lease = await store.acquireLease({ stream: 'out', range: { from: 0, to: 4096 }, owner: 'r1', ttlMs: 1000 });
    await held.query('BEGIN');
    await held.query(rawAppend(schema, lease.token));
    clock.advance(1001);
    // The takeover waits for the in-flight append (holding the stream's lease lock shared) to finish.
    let granted = false;
    const takeover = store.acquireLease({ stream: 'out', range: { from: 0, to: 4096 }, owner: 'r2', ttlMs: 1000 }).then((l) => {
      granted = true;
      return l;
    });
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(granted).toBe(false);
    await held.query('COMMIT');
    const next = await takeover;
    const stale = await settle(store.append('out', 'k', [{ type: 'T', time: T0, data: 2 }], { token: lease.token }));
    expect(!stale.ok && isFenced(stale.error)).toBe(true);
    await store.append('out', 'k', [{ type: 'T', time: T0, data: 3 }], { token: next.token });
    expect((await store.head('out', 'k')).lastSeq).toBe(2);
  });
});

describe.skipIf(!up)('PostgreSQL store: several processes on one store', () => {
  it('serializes appendIf loops of two store instances without losing an update', async () => {
    const { stores } = await openFresh(2);
    const writer = async (store: PostgresStore, id: number) => {
      for (let done = 0; done < 8; ) {
        const head = await store.head('counter', 'c');
        const r = await settle(store.append('counter', 'c', [{ type: 'Inc', time: T0, data: { id } }], { expect: { lastSeq: head.lastSeq } }));
        if (r.ok) done++;
        else expect(isConflict(r.error)).toBe(true);
      }
    };
    await Promise.all([0, 1, 2, 3].map((i) => writer(stores[i % 2] as PostgresStore, i)));
    expect((await (stores[0] as PostgresStore).head('counter', 'c')).lastSeq).toBe(32);
    expect((await (stores[1] as PostgresStore).stats()).events).toBe(32);
  });

  it('shares leases between instances: one holds, the other is refused and fenced', async () => {
    const { stores } = await openFresh(2);
    const [a, b] = stores as [PostgresStore, PostgresStore];
    const lease = await a.acquireLease({ stream: 'out', range: { from: 0, to: 4096 }, owner: 'runner-a', ttlMs: 10_000 });
    const held = await settle(b.acquireLease({ stream: 'out', range: { from: 100, to: 200 }, owner: 'runner-b', ttlMs: 10_000 }));
    expect(!held.ok && isLeaseHeld(held.error)).toBe(true);
    if (!held.ok) expect((held.error as Error).message).toMatch(/runner-a/);
    const fenced = await settle(b.append('out', 'k', [{ type: 'T', time: T0, data: 1 }]));
    expect(!fenced.ok && isFenced(fenced.error)).toBe(true);
    await b.append('out', 'k', [{ type: 'T', time: T0, data: 1 }], { token: lease.token });
    expect((await a.head('out', 'k')).lastSeq).toBe(1);
  });

  it('wakes a subscription of one instance on a commit made by another (NOTIFY, with polling far away)', async () => {
    const { stores } = await openFresh(2);
    const [a, b] = stores as [PostgresStore, PostgresStore];
    const abort = new AbortController();
    const seen: number[] = [];
    const done = (async () => {
      for await (const batch of b.subscribe({ stream: 's', signal: abort.signal })) {
        seen.push(...batch.map((e) => e.position));
        if (seen.length === 2) abort.abort();
      }
    })();
    await a.append('s', 'x', [{ type: 'T', time: T0, data: 1 }]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await a.append('s', 'y', [{ type: 'T', time: T0, data: 2 }]);
    await done; // pollMs is 60 s: only a notification can have woken it within the test timeout
    expect(seen).toEqual([1, 2]);
  });
});

describe.skipIf(!up)('PostgreSQL store: snapshots', () => {
  const snapArb = fc.record({
    process: fc.constantFrom('ledger', 'fraud'),
    version: fc.constantFrom('v1', 'v2'),
    shard: fc.constantFrom('a', 'b', 'B', 'é'),
    position: fc.nat(50),
    time: fc.integer({ min: 0, max: 100 }),
    data: fc.uint8Array({ maxLength: 8 }),
  });
  const filterArb: fc.Arbitrary<SnapshotFilter> = fc.record(
    {
      process: fc.constantFrom('ledger', 'fraud'),
      version: fc.constantFrom('v1', 'v2'),
      maxTime: fc.integer({ min: 0, max: 100 }),
      newestPerShard: fc.boolean(),
    },
    { requiredKeys: [] },
  );

  it('lists and finds snapshots exactly as the in-memory reference does, for any filter', async () => {
    const { schema, stores } = await openFresh();
    const store = stores[0] as PostgresStore;
    const client = await rawClient();
    cleanups.push(() => client.end());
    await fc.assert(
      fc.asyncProperty(fc.array(snapArb, { maxLength: 25 }), fc.array(filterArb, { minLength: 1, maxLength: 4 }), async (snaps, filters) => {
        await client.query(`TRUNCATE "${schema}".snapshots`);
        const model = new MemoryStore();
        // Times grow with positions within a shard, as processes write them (SnapshotIndex relies on it).
        for (const s of snaps) {
          const snap = { ...s, time: T0 + s.position };
          await model.putSnapshot(snap);
          await store.putSnapshot(snap);
        }
        for (const f of filters) {
          const filter = f.maxTime === undefined ? f : { ...f, maxTime: T0 + f.maxTime };
          expect(await store.listSnapshots(filter)).toEqual(await model.listSnapshots(filter));
        }
        for (const s of snaps.slice(0, 5)) {
          const q = { process: s.process, version: s.version, shard: s.shard, atOrBefore: s.position };
          expect(await store.getSnapshot(q)).toEqual(await model.getSnapshot(q));
        }
        expect((await store.stats()).snapshots).toBe((await model.stats()).snapshots);
      }),
      { numRuns: 15 },
    );
  });
});

describe.skipIf(!up)('PostgreSQL store: locations and errors', () => {
  it('is what openStore returns for postgres:// locations, in the schema the URL names', async () => {
    const schema = freshSchema('o');
    const store = await openStore(storeUrl(schema));
    cleanups.push(async () => {
      await store.close();
      await dropSchema(schema);
    });
    expect(store).toBeInstanceOf(PostgresStore);
    expect(store.location).toMatch(new RegExp(`^postgres://.*\\?schema=${schema}$`));
  });

  it('names the flag and what was expected for a bad schema name', async () => {
    const r = await settle(openStore(`${TEST_DATABASE_URL}?schema=Bad-Name`));
    expect(!r.ok && isInvalidInput(r.error)).toBe(true);
    if (!r.ok) expect((r.error as Error).message).toMatch(/^--store schema: expected a schema name of lowercase letters/);
  });

  it('says the server is unreachable, naming it, when nothing listens there', async () => {
    const r = await settle(openStore('postgres://postgres@127.0.0.1:1/test?schema=nowhere'));
    expect(!r.ok && isUnavailable(r.error)).toBe(true);
    if (!r.ok) expect((r.error as Error).message).toMatch(/^PostgreSQL at 127\.0\.0\.1:1\/test: .*ECONNREFUSED.*is the server running/);
  });

  it('refuses every call after close with CLOSED', async () => {
    const { stores } = await openFresh();
    const store = stores[0] as PostgresStore;
    await store.close();
    await store.close();
    const r = await settle(store.append('s', 'k', [{ type: 'T', time: T0, data: 1 }]));
    expect(!r.ok && (r.error as { code: string }).code).toBe('CLOSED');
  });
});
