/**
 * `spive replay` on a PostgreSQL store: the same plan executed on a PostgreSQL copy of a bank dataset
 * and on the embedded original writes the same new-version outputs (per shard: seq, type, payload,
 * input reference), verifies, and records the measured cost in the store's catalogue folder.
 */
import { cpSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/model/event.ts';
import { copyStore } from '../../src/store/copy-store.ts';
import { EmbeddedStore } from '../../src/store/embedded/embedded-store.ts';
import type { EventStore } from '../../src/store/event-store.ts';
import { PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { realClock } from '../../src/time/clock.ts';
import { canonical } from '../../src/util/json-equal.ts';
import { runCli } from '../helpers/fake-streams.ts';
import { seedBankCosts } from './bank-costs.ts';
import { service } from '../helpers/services.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { dropSchema, freshSchema, storeUrl } from '../store/postgres/pg-test-db.ts';

const available = await service('postgres');

async function outputs(store: EventStore, stream: string): Promise<string[]> {
  const rows: string[] = [];
  for await (const batch of store.readStream(stream)) {
    // canonical: jsonb keeps its own key order, the embedded store the written one.
    for (const e of batch as StoredEvent[]) rows.push(canonical([e.key, e.seq, e.type, e.data, e.meta ?? null]));
  }
  return rows.sort();
}

/** `actual` holds the same new-version ledger and balances outputs as `expected` (both closed after). */
async function expectSameOutputs(expected: EventStore, actual: EventStore, ledgerStream: string): Promise<void> {
  try {
    for (const stream of [ledgerStream, ledgerStream.replace(/^ledger/, 'balances')]) {
      const want = await outputs(expected, stream);
      expect(want.length, stream).toBeGreaterThan(0);
      expect(await outputs(actual, stream)).toEqual(want);
    }
  } finally {
    await actual.close();
    await expected.close();
  }
}

/** The committed bank dataset, copied into a PostgreSQL schema. */
async function copyBankSmall(url: string): Promise<void> {
  const from = await EmbeddedStore.open('datasets/bank-small', { readOnly: true });
  const to = await PostgresStore.open(url);
  try {
    await copyStore(from, to, { clock: realClock });
  } finally {
    await to.close();
    await from.close();
  }
}


describe.skipIf(!available)('spive replay on a PostgreSQL store', () => {
  const schema = freshSchema('replay');
  const url = storeUrl(schema);
  const dir = tempDir();
  const embedded = join(dir.path, 'embedded');

  beforeAll(async () => {
    cpSync('datasets/bank-small', embedded, { recursive: true });
    await copyBankSmall(url);
  }, 60_000);

  afterAll(async () => {
    dir.cleanup();
    await dropSchema(schema);
  });

  it('writes the same new-version outputs as on the embedded store it was copied from', async () => {
    const runs: Record<string, { eventsRead: number; eventsWritten: number; strategy: string; outputStream: string; calibration: unknown; verified: boolean }> = {};
    for (const [name, store] of [
      ['embedded', embedded],
      ['postgres', url],
    ] as const) {
      const catalogue = join(dir.path, `catalogue-${name}`);
      await seedBankCosts(catalogue);
      const plan = join(dir.path, `plan-${name}.json`);
      const planned = await runCli('replay-plan', '--store', store, '--catalogue', catalogue, '--app', 'examples/bank', '--process', 'ledger', '--since', '2024-01-05T00:00:00Z', '--out', plan, '--json');
      expect(planned.stderr).toBe('');
      expect(planned.code).toBe(0);
      const replayed = await runCli('replay', '--plan', plan, '--store', store, '--catalogue', catalogue, '--verify', '--json');
      expect(replayed.stderr).toBe('');
      expect(replayed.code).toBe(0);
      runs[name] = JSON.parse(replayed.stdout);
    }
    const [e, p] = [runs.embedded, runs.postgres] as [NonNullable<typeof runs.embedded>, NonNullable<typeof runs.postgres>];
    expect(p.strategy).toBe(e.strategy);
    expect(p.eventsRead).toBe(e.eventsRead);
    expect(p.eventsWritten).toBe(e.eventsWritten);
    expect(p.eventsWritten).toBeGreaterThan(0);
    // Unaffected shards run again give the old outputs, also where jsonb handed their keys back reordered.
    expect(e.verified).toBe(true);
    expect(p.verified).toBe(true);
    // The measured cost went to the PostgreSQL store's catalogue folder.
    expect(p.calibration).not.toBeNull();
    expect(existsSync(join(dir.path, 'catalogue-postgres', 'stats.duckdb'))).toBe(true);

    await expectSameOutputs(await EmbeddedStore.open(embedded, { readOnly: true }), await PostgresStore.open(url), p.outputStream);
  }, 90_000);

  it('--workers-from: two replays sharing the plan\'s shard tasks write what one writes', async () => {
    const shared = freshSchema('shared');
    const sharedUrl = storeUrl(shared);
    try {
      await copyBankSmall(sharedUrl);
      const catalogue = join(dir.path, 'catalogue-shared');
      await seedBankCosts(catalogue);
      const plan = join(dir.path, 'plan-shared.json');
      const planned = await runCli('replay-plan', '--store', sharedUrl, '--catalogue', catalogue, '--app', 'examples/bank', '--process', 'ledger', '--since', '2024-01-05T00:00:00Z', '--out', plan, '--json');
      expect(planned.code, planned.stderr).toBe(0);
      const both = await Promise.all([0, 1].map(() => runCli('replay', '--plan', plan, '--store', sharedUrl, '--catalogue', catalogue, '--workers-from', sharedUrl, '--json')));
      for (const r of both) expect(r.code, r.stderr).toBe(0);
      type Run = { outputStream: string; processes: Array<{ shards: number }> };
      const [a, b] = both.map((r) => JSON.parse(r.stdout)) as [Run, Run];
      const whole = JSON.parse(planned.stdout) as { tasks: unknown[] };
      // Every shard of the changed process ran once, somewhere: the two shares add up to the plan's tasks.
      expect((a.processes[0]?.shards ?? 0) + (b.processes[0]?.shards ?? 0)).toBe(whole.tasks.length);
      await expectSameOutputs(await PostgresStore.open(url), await PostgresStore.open(sharedUrl), a.outputStream);
    } finally {
      await dropSchema(shared);
    }
  }, 120_000);

  it('--workers-from must be a PostgreSQL database', async () => {
    const r = await runCli('replay', '--plan', join(dir.path, 'plan-postgres.json'), '--store', url, '--workers-from', 'nats://127.0.0.1:4222');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--workers-from: expected postgres:\/\//);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
