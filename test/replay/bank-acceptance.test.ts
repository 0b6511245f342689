/**
 * The acceptance test: the bank's history is written by the shipped app (version bank-v1);
 * the ledger gets a planted fix (test/replay/fixtures/bank-fixed.ts: transfers above the limit are
 * rejected from FIX_SINCE on); `spive replay-plan` plans it and `spive replay` executes it. The new
 * version's view of the ledger and of the balances downstream must equal a fault-free run of the
 * fixed app on the same inputs — per shard, event for event, with the same merged input numbers —
 * and so must the final balances. Every strategy gives the same result.
 */
import { cpSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedStore } from 'spive';
import { runCli } from '../helpers/fake-streams.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import fixedApp, { FIX_SINCE } from './fixtures/bank-fixed.ts';
import { balancesOf, freshRun, inputsFor, readView, typesAndData, writeBankStore, type Shards } from './helpers.ts';

const APP = 'test/replay/fixtures/bank-fixed.ts';
const inputs = inputsFor(11, 3000);
let dir: ReturnType<typeof tempDir>;
let reference: Awaited<ReturnType<typeof freshRun>>;

beforeAll(async () => {
  dir = tempDir('spive-replay-');
  await writeBankStore(`${dir.path}/pristine`, inputs);
  reference = await freshRun(fixedApp, inputs);
}, 120_000);

afterAll(() => dir.cleanup());

async function views(store: string): Promise<{ ledger: Shards; balances: Shards }> {
  const s = await EmbeddedStore.open(store, { readOnly: true });
  try {
    return { ledger: await readView(s, 'ledger', 'fixed-1'), balances: await readView(s, 'balances', 'fixed-1') };
  } finally {
    await s.close();
  }
}

describe('spive replay: the bank ledger after a planted fix', () => {
  it.each([[null], ['shards-from-scratch']])('gives the balances of a fault-free run of the fixed app (strategy %s)', async (strategy) => {
    const store = `${dir.path}/store-${strategy ?? 'chosen'}`;
    cpSync(`${dir.path}/pristine`, store, { recursive: true });
    const planFile = `${store}.plan.json`;
    const planned = await runCli('replay-plan', '--store', store, '--app', APP, '--process', 'ledger', '--since', String(FIX_SINCE), '--out', planFile, '--json');
    expect(planned.code, planned.stderr).toBe(0);
    const plan = JSON.parse(readFileSync(planFile, 'utf8'));
    expect(plan.change).toMatchObject({ fromVersion: 'bank-v1', toVersion: 'fixed-1', since: FIX_SINCE });
    if (strategy === null) expect(plan.chosen).toBe('time-ray-from-snapshot');

    const r = await runCli('replay', '--plan', planFile, '--store', store, '--json', ...(strategy === null ? [] : ['--strategy', strategy]));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const result = JSON.parse(r.stdout);
    expect(result.strategy).toBe(strategy ?? 'time-ray-from-snapshot');
    expect(result).toMatchObject({ outputStream: 'ledger--fixed-1', resumedShards: 0, verified: null });
    expect(result.shards).toBeGreaterThan(6);
    expect(result.eventsRead).toBeGreaterThan(0);
    expect(result.eventsWritten).toBeGreaterThan(0);
    expect(result.suppressedEffects).toBeGreaterThan(0);
    expect(typeof result.actualWallMs).toBe('number');
    expect(typeof result.estimatedWallMs).toBe('number');

    const got = await views(store);
    // Final balances equal; and so does every event of both streams, with the same merged input numbers.
    expect(balancesOf(got.balances)).toEqual(reference.finalBalances);
    expect([...reference.finalBalances.values()].some((b, i) => b !== [...balancesOf(reference.balances).values()][i])).toBe(false);
    expect(got.ledger).toEqual(reference.ledger);
    expect(typesAndData(got.balances)).toEqual(typesAndData(reference.balances));
    // The fix matters: the old ledger differs from the new one.
    const old = await EmbeddedStore.open(store, { readOnly: true });
    try {
      const base = await readView(old, 'ledger', 'no-such-version');
      expect(typesAndData(base)).not.toEqual(typesAndData(reference.ledger));
    } finally {
      await old.close();
    }
  });
});
