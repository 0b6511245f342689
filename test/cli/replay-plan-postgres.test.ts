/**
 * `spive replay-plan` on a PostgreSQL store: a copy of a generated bank dataset (`spive store copy`)
 * plans the same work as the embedded store it came from — the same events, shards, bytes and
 * snapshot bytes per strategy, and the same downstream — reading sealed ranges from the local
 * Parquet export and the rest through the store; after appends, the export and the statistics grow
 * incrementally and agree with a catalogue built from nothing.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { runCli } from '../helpers/fake-streams.ts';
import { seedBankCosts } from './bank-costs.ts';
import { service } from '../helpers/services.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { dropSchema, freshSchema, storeUrl } from '../store/postgres/pg-test-db.ts';

const available = await service('postgres');
const DATASET = 'datasets/bank-small';
/** Small ranges, so that the 4,888 events of the dataset make several exported ranges and a tail. */
const RANGE = 1000;

interface Strategy {
  name: string;
  applicable: boolean;
  shards: number;
  eventsToRead: number;
  bytesToRead: number;
  snapshotBytes: number;
}
interface PlanResult {
  strategies: Strategy[];
  downstream: Array<{ process: string; shards: number; eventsToRead: number }>;
  change: { fromVersion: string | null; since: number | null };
  stats: { events: number };
  statistics: { filesAdded: number; tailEvents: number; rebuilt: boolean };
  export?: { rangesExported: number; rowsExported: number; files: number; exportedThrough: number; restarted: string | null };
  catalogue: string;
}

/** What a plan must agree on whatever store it came from (estimated times depend on the store's speed). */
function work(plan: PlanResult) {
  return {
    strategies: plan.strategies.map((s) => ({ name: s.name, applicable: s.applicable, shards: s.shards, eventsToRead: s.eventsToRead, bytesToRead: s.bytesToRead, snapshotBytes: s.snapshotBytes })),
    downstream: plan.downstream.map((d) => ({ process: d.process, shards: d.shards, eventsToRead: d.eventsToRead })),
    change: plan.change,
    events: plan.stats.events,
  };
}


async function plan(store: string, catalogue: string, ...args: string[]): Promise<PlanResult> {
  if (!existsSync(join(catalogue, 'stats.duckdb'))) await seedBankCosts(catalogue);
  const r = await runCli('replay-plan', '--store', store, '--catalogue', catalogue, '--app', 'examples/bank', '--process', 'ledger', '--json', ...args);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as PlanResult;
}

describe.skipIf(!available)('spive replay-plan on a PostgreSQL store', () => {
  const schema = freshSchema('plan');
  const url = storeUrl(schema);
  const dir = tempDir();
  const pgCatalogue = join(dir.path, 'pg-catalogue');

  beforeAll(async () => {
    const copied = await runCli('store', 'copy', DATASET, url, '--json');
    expect(copied.stderr).toBe('');
    expect(copied.code).toBe(0);
    expect(JSON.parse(copied.stdout)).toMatchObject({ events: 4888, snapshots: 451, streams: 3 });
    // The export's range width is fixed when its folder is first exported; later runs keep it.
    const store = await PostgresStore.open(url);
    try {
      const first = await store.exportHistory({ dir: join(pgCatalogue, 'history'), rangePositions: RANGE });
      expect(first).toMatchObject({ rangesExported: 4, rowsExported: 4000, exportedThrough: 4000, restarted: null });
    } finally {
      await store.close();
    }
  }, 60_000);

  afterAll(async () => {
    dir.cleanup();
    await dropSchema(schema);
  });

  it('store stats shows the copy with the same counts as the original, and a second copy into it is refused', async () => {
    const [original, copy] = await Promise.all([runCli('store', 'stats', DATASET, '--json'), runCli('store', 'stats', '--store', url, '--json')]);
    expect(copy.code).toBe(0);
    const { location: _a, sealedSegments: _s, ...expected } = JSON.parse(original.stdout);
    const { location, ...actual } = JSON.parse(copy.stdout);
    expect(location).toMatch(/^postgres:\/\//);
    expect(actual).toEqual(expected);

    const again = await runCli('store', 'copy', DATASET, url);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/<to>.*an empty store.*holds 4888 events and 451 snapshots/);
    expect(again.stderr).not.toMatch(/\n\s+at /);
  });

  it.each([
    ['from the beginning', []],
    ['since a time with snapshots before it', ['--since', '2024-01-05T00:00:00Z']],
    ['for some keys', ['--since', '2024-01-03T00:00:00Z', '--keys', "key LIKE 'acct-1%'", '--workers', '3']],
  ])('plans the same work as the embedded store it was copied from (%s)', async (_label, args) => {
    const embedded = await plan(DATASET, join(dir.path, `embedded-${_label}`), ...args);
    const postgres = await plan(url, pgCatalogue, ...args);
    expect(work(postgres)).toEqual(work(embedded));
    expect(postgres.catalogue).toBe(resolve(pgCatalogue));
    expect(postgres.strategies.some((s) => s.applicable && s.eventsToRead > 0)).toBe(true);
    // The sealed ranges came from Parquet, the rest (positions after 4,000) through the store.
    expect(postgres.export).toMatchObject({ exportedThrough: 4000, restarted: null });
    expect(postgres.statistics.tailEvents).toBe(888);
    if (args.includes('--since') && !args.includes('--keys')) {
      expect(postgres.strategies.find((s) => s.name === 'time-ray-from-snapshot')).toMatchObject({ applicable: true });
    }
  });

  it('updates the export and the statistics incrementally after appends, agreeing with a fresh catalogue', async () => {
    const before = await plan(url, pgCatalogue);
    expect(before.export?.rangesExported).toBe(0);
    expect(before.statistics.filesAdded).toBe(0);

    // 1,500 more transfer requests: one more range (and part of the next) fills up.
    const store = await PostgresStore.open(url);
    try {
      const head = (await store.stats()).lastPosition;
      for (let i = 0; i < 1500; i += 100) {
        const key = `acct-${i % 7}`;
        const events = Array.from({ length: 100 }, (_, j) => ({ type: 'Deposited', time: 1_704_700_000_000 + i + j, data: { id: `late-${i + j}`, account: key, amount: 1 } }));
        await store.append('transfers', key, events);
      }
      expect((await store.stats()).lastPosition).toBe(head + 1500);
    } finally {
      await store.close();
    }

    const after = await plan(url, pgCatalogue);
    const through = Math.floor((4888 + 1500) / RANGE) * RANGE;
    expect(after.export).toMatchObject({ rangesExported: through / RANGE - 4, rowsExported: through - 4000, exportedThrough: through });
    expect(after.statistics.rebuilt).toBe(false);
    expect(after.statistics.filesAdded).toBeGreaterThan(0);
    expect(after.statistics.filesAdded).toBeLessThanOrEqual(3 * (through / RANGE - 4));
    expect(after.statistics.tailEvents).toBe(4888 + 1500 - through);
    expect(after.stats.events).toBe(4888 + 1500);
    expect(work(after).strategies.find((s) => s.name === 'shards-from-scratch')?.eventsToRead).toBeGreaterThan(work(before).strategies.find((s) => s.name === 'shards-from-scratch')?.eventsToRead as number);

    // The same plan from a catalogue (and export) built from nothing.
    const fresh = await plan(url, join(dir.path, 'fresh-catalogue'));
    expect(work(fresh)).toEqual(work(after));
    expect(existsSync(join(dir.path, 'fresh-catalogue', 'stats.duckdb'))).toBe(true);
  }, 60_000);

  it('names the default catalogue folder after the server, database and schema', async () => {
    const { catalogueDirFor } = await import('../../cli/analyzed-store.ts');
    expect(catalogueDirFor({ kind: 'postgres', url }, undefined)).toBe(join('.spive-analyzer', `127.0.0.1-5432-test-${schema}`));
  });

  it('rejects memory: with exit 2 and a message naming --store', async () => {
    const r = await runCli('replay-plan', '--store', 'memory:', '--app', 'examples/bank', '--process', 'ledger');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--store: memory: is empty in a new process/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
