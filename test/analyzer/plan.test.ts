/**
 * The planner chooses the strategy that is right by construction: a bug window at the very end with
 * fresh snapshots → time ray; a handful of affected keys among many → shards from scratch; hot keys
 * with cheap rays next to cold keys with costly snapshots → per-shard mix. Histories are written by
 * the real runtime; the cost model is fixed where the answer must not depend on machine noise.
 */
import { describe, expect, it } from 'vitest';
import { MemoryStore } from 'spive';
import { StatsCatalogue } from '../../analyzer/catalogue/catalogue.ts';
import { storeHistory } from '../../analyzer/catalogue/store-source.ts';
import { planReplay, type PlanRequest } from '../../analyzer/plan.ts';
import type { CostModel, StrategyEstimate } from '../../analyzer/types.ts';
import { historyApp, historyInputs, writeHistory, type HistoryAppOptions, type HistoryShape } from './fixtures.ts';

const FIXED: Omit<CostModel, 'process'> = { nsPerEvent: 2000, nsPerByte: 10, nsPerSnapshotByte: 10, nsPerSnapshot: 20_000, nsPerShard: 10_000, source: 'default', samples: 0 };
const fixedCosts = new Map(['tally', 'regions'].map((p) => [p, { process: p, ...FIXED }]));

async function planFor(stored: HistoryAppOptions, shape: HistoryShape, request: Partial<PlanRequest> & { version?: string }) {
  const store = new MemoryStore();
  const times = await writeHistory(store, stored, shape);
  const catalogue = await StatsCatalogue.open(null);
  await catalogue.update(storeHistory(store));
  const version = request.version ?? 'v2';
  const { app } = historyApp({ ...stored, version });
  try {
    const plan = await planReplay({ store, catalogue, app, appFile: 'history-app.ts', appVersion: version, process: 'tally', costs: fixedCosts, ...request });
    return { plan, times, store };
  } finally {
    catalogue.close();
  }
}

const row = (plan: { strategies: readonly StrategyEstimate[] }, name: string) => plan.strategies.find((s) => s.name === name) as StrategyEstimate;

describe('replay-plan chooses', () => {
  it('a time ray when the bug window is at the very end and snapshots are fresh (calibrated on this machine)', async () => {
    const shape = { eventsPerKey: Array.from({ length: 40 }, () => 100), spanMs: 86_400_000 };
    const lastTime = historyInputs(shape).at(-1)?.time as number;
    const since = lastTime - 3_600_000;
    const { plan } = await planFor({ version: 'v1', snapshotEvery: 200 }, shape, { since, workers: 2, costs: new Map() });
    expect(plan.chosen).toBe('time-ray-from-snapshot');
    expect(plan.cost.source).toBe('sample');
    expect(plan.cost.samples).toBeGreaterThan(0);
    expect(plan.strategies.map((s) => s.name)).toEqual(['shards-from-scratch', 'time-ray-from-snapshot', 'per-shard-mix', 'full-rebuild']);
    const ray = row(plan, 'time-ray-from-snapshot');
    const scratch = row(plan, 'shards-from-scratch');
    // Of the changed process's inputs: the downstream process follows from scratch either way (the
    // replay engine rebuilds downstream shards from the beginning).
    const downstreamEvents = plan.downstream.reduce((n, d) => n + d.eventsToRead, 0);
    expect(ray.eventsToRead - downstreamEvents).toBeLessThan((scratch.eventsToRead - downstreamEvents) / 5);
    // Every task restores a snapshot of the old version taken at or before the change.
    expect(plan.tasks.length).toBe(40);
    for (const t of plan.tasks) {
      expect(t.mode).toBe('ray');
      expect(t.snapshot?.version).toBe('v1');
      expect(t.snapshot?.time).toBeLessThanOrEqual(since);
    }
    expect(plan.change).toEqual({ process: 'tally', fromVersion: 'v1', toVersion: 'v2', since, keys: null });
  });

  it('shards from scratch when a handful of keys among many changed', async () => {
    const shape = { eventsPerKey: Array.from({ length: 200 }, () => 10) };
    const { plan } = await planFor({ version: 'v1', snapshotEvery: 100 }, shape, { keys: "key IN ('k3', 'k17', 'k150')" });
    expect(plan.chosen).toBe('shards-from-scratch');
    expect(plan.tasks.map((t) => t.key).sort()).toEqual(['k150', 'k17', 'k3']);
    expect(plan.tasks.every((t) => t.mode === 'scratch' && t.events === 10)).toBe(true);
    const ray = row(plan, 'time-ray-from-snapshot');
    expect(ray.applicable).toBe(false);
    expect(ray.reason).toMatch(/beginning/);
    expect(row(plan, 'per-shard-mix').applicable).toBe(false);
    // 3 tally shards of 10 inputs, plus the 3 regions they reach (each region gathers 50 keys × 10 tallies);
    // a full rebuild reads all 2,000 inputs and all 2,000 tallies.
    expect(row(plan, 'shards-from-scratch').eventsToRead).toBe(3 * 10 + 3 * 50 * 10);
    expect(row(plan, 'full-rebuild').eventsToRead).toBe(2000 + 2000);
    // Downstream by lineage: `regions` re-keys tallies by region (k % 4): exactly those regions follow.
    const [regions] = plan.downstream;
    expect(regions?.process).toBe('regions');
    expect(regions?.lineage).toBe('exact');
    expect([...(regions?.sampleKeys ?? [])].sort()).toEqual([...new Set([3, 17, 150].map((k) => `r${k % 4}`))].sort());
  });

  it('a per-shard mix when hot keys ray cheaply and cold keys have costly snapshots', async () => {
    const hot = 4;
    const shape = { eventsPerKey: [...Array.from({ length: hot }, () => 800), ...Array.from({ length: 40 }, () => 3)] };
    const lastTime = historyInputs(shape).at(-1)?.time as number;
    const since = lastTime - 0.2 * 86_400_000;
    const { plan } = await planFor({ version: 'v1', snapshotEvery: 500, stateBytes: 20_000 }, shape, { since });
    expect(plan.chosen).toBe('per-shard-mix');
    const modes = new Map(plan.tasks.map((t) => [t.key, t.mode]));
    for (let k = 0; k < hot; k++) expect(modes.get(`k${k}`)).toBe('ray');
    const cold = plan.tasks.filter((t) => Number(t.key.slice(1)) >= hot);
    expect(cold.length).toBeGreaterThan(0);
    expect(cold.every((t) => t.mode === 'scratch')).toBe(true);
    const mix = row(plan, 'per-shard-mix');
    expect(mix.estimatedWallMs).toBeLessThan(row(plan, 'time-ray-from-snapshot').estimatedWallMs);
    expect(mix.estimatedWallMs).toBeLessThan(row(plan, 'shards-from-scratch').estimatedWallMs);
  });
});

describe('replay-plan edge cases', () => {
  it('a store without snapshots: only the from-scratch strategies apply, and the result says why', async () => {
    const shape = { eventsPerKey: Array.from({ length: 10 }, () => 20) };
    const lastTime = historyInputs(shape).at(-1)?.time as number;
    const { plan } = await planFor({ version: 'v1', snapshotEvery: 0 }, shape, { since: lastTime - 3_600_000 });
    expect(row(plan, 'time-ray-from-snapshot')).toMatchObject({ applicable: false, reason: expect.stringMatching(/no snapshots/) });
    expect(row(plan, 'per-shard-mix').applicable).toBe(false);
    expect(['shards-from-scratch', 'full-rebuild']).toContain(plan.chosen);
  });

  it('nothing to replay when the version is unchanged and no --since is given', async () => {
    const { plan } = await planFor({ version: 'v1', snapshotEvery: 100 }, { eventsPerKey: [5, 5] }, { version: 'v1' });
    expect(plan.chosen).toBeNull();
    expect(plan.tasks).toEqual([]);
    expect(plan.why).toMatch(/nothing needs replaying/);
  });

  it('more workers shorten the wall time but not below the hottest shard', async () => {
    const shape = { eventsPerKey: [400, ...Array.from({ length: 30 }, () => 20)] };
    const one = (await planFor({ version: 'v1', snapshotEvery: 0 }, shape, { workers: 1 })).plan;
    const eight = (await planFor({ version: 'v1', snapshotEvery: 0 }, shape, { workers: 8 })).plan;
    const a = row(one, 'shards-from-scratch');
    const b = row(eight, 'shards-from-scratch');
    expect(b.estimatedCpuMs).toBeCloseTo(a.estimatedCpuMs, 6);
    expect(b.estimatedWallMs).toBeLessThan(a.estimatedWallMs);
    const hottest = Math.max(...eight.tasks.map((t) => t.cpuMs));
    expect(b.estimatedWallMs).toBeGreaterThanOrEqual(hottest);
  });
});
