/**
 * The simulator on the bank: clean runs for many seeds under default and swarm faults, the same
 * trace hash for the same seed (in this process and in another), different hashes for different
 * seeds, and the determinism guard.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { defineApp, defineProcess, defineStream } from 'spive';
import { simulate } from 'spive/sim';
import bank from '../../examples/bank/app.ts';

const SEEDS = Number(process.env.SPIVE_SIM_SEEDS ?? 12);

describe('simulating the bank', () => {
  for (const faults of ['default', 'swarm'] as const) {
    it(`has no violation for seeds 1..${SEEDS} with --faults ${faults}, and every seed's hash is its own`, async () => {
      const hashes = new Set<string>();
      for (let seed = 1; seed <= SEEDS; seed++) {
        const r = await simulate(bank, { seed, faults, appSpec: 'examples/bank' });
        expect(r.violations, `seed ${seed}: ${r.repro}`).toEqual([]);
        expect(r.events).toBeGreaterThan(1000);
        expect(r.steps).toBeGreaterThan(r.events);
        hashes.add(r.traceHash);
      }
      expect(hashes.size).toBe(SEEDS);
    }, 300_000);
  }

  it('injects the faults of the plan and counts them', async () => {
    const counts: Record<string, number> = {};
    for (let seed = 1; seed <= 6; seed++) {
      const r = await simulate(bank, { seed, faults: 'default' });
      for (const [k, n] of Object.entries(r.faults)) counts[k] = (counts[k] ?? 0) + n;
    }
    for (const kind of ['slow', 'requestLost', 'replyLost', 'crash', 'partition', 'gatewayError']) expect(counts[kind], kind).toBeGreaterThan(0);
    const none = await simulate(bank, { seed: 1, faults: 'none' });
    expect(none.faults).toEqual({});
  }, 120_000);

  it('gives the same trace hash for the same seed, in this process and in another', async () => {
    const a = await simulate(bank, { seed: 42, faults: 'swarm', workload: { events: 300 } });
    const b = await simulate(bank, { seed: 42, faults: 'swarm', workload: { events: 300 } });
    expect(b.traceHash).toBe(a.traceHash);
    expect(b.steps).toBe(a.steps);
    const out = execFileSync(process.execPath, ['bin/spive.js', 'simulate', 'examples/bank', '--seed', '42', '--faults', 'swarm', '--workload', '{"events":300}', '--json'], { encoding: 'utf8' });
    const cli = JSON.parse(out);
    expect(cli.traceHash).toBe(a.traceHash);
    expect(Object.keys(cli).sort()).toEqual(['events', 'faults', 'plan', 'repro', 'seed', 'simulatedMs', 'steps', 'traceHash', 'violations', 'wallMs']);
    expect(cli.repro).toBe(`npx spive simulate examples/bank --seed 42 --faults swarm --workload '{"events":300}'`);
  }, 120_000);

  it('fails a run whose handler reads the wall clock, naming the call and the process', async () => {
    const ticks = defineStream<{ Tick: { n: number } }>('ticks', { key: (e) => `k${e.data.n % 3}` });
    const out = defineStream<{ Stamped: { at: number } }>('stamped');
    const stamp = defineProcess({
      name: 'stamper',
      inputs: { ticks },
      output: out,
      initial: () => 0,
      on: { ticks: { Tick: (s, _e, ctx) => (ctx.emit('Stamped', { at: Date.now() }), s + 1) } },
    });
    const app = defineApp({
      name: 'clock-reader',
      streams: [ticks, out],
      processes: [stamp],
      workload: { events: 5, make: ({ i }) => ({ stream: ticks, type: 'Tick', data: { n: i } }) },
    });
    const r = await simulate(app, { seed: 1, faults: 'none' });
    expect(r.violations[0]?.invariant).toBe('determinism');
    expect(r.violations[0]?.message).toMatch(/process stamper \(handler for ticks\/Tick\) called Date\.now\(\) during simulation/);
    expect(typeof Date.now()).toBe('number'); // the guard is gone after the run
  });
});

describe('traces', () => {
  it('keeping the rows (--trace) does not change the hash, and the rows go to Parquet that DuckDB reads', async () => {
    const { tempDir } = await import('../helpers/temp-dir.ts');
    const dir = tempDir();
    try {
      const plain = await simulate(bank, { seed: 9, faults: 'default', workload: { events: 200 } });
      const kept = await simulate(bank, { seed: 9, faults: 'default', workload: { events: 200 }, keepTrace: true });
      expect(kept.traceHash).toBe(plain.traceHash);
      expect(kept.trace.length).toBeGreaterThan(kept.steps);
      const path = `${dir.path}/run.parquet`;
      await kept.trace.writeParquet(path);
      const { DuckDBInstance } = await import('@duckdb/node-api');
      const db = await DuckDBInstance.create(':memory:');
      const c = await db.connect();
      try {
        const rows = (await c.runAndReadAll(`SELECT count(*)::INTEGER, count(*) FILTER (kind = 'append')::INTEGER, max(step)::INTEGER FROM read_parquet('${path}')`)).getRows();
        expect(rows[0]).toEqual([kept.trace.length, kept.trace.kinds.filter((k) => k === 'append').length, kept.steps]);
      } finally {
        c.closeSync();
        db.closeSync();
      }
    } finally {
      dir.cleanup();
    }
  });
});

describe('the embedded store in the simulator', () => {
  it('loses power (unsynced writes dropped or torn) and restarts, losing nothing acknowledged', async () => {
    let storeCrashes = 0;
    for (let seed = 1; seed <= 4; seed++) {
      const faults = { storeCrash: { meanIntervalMs: 2000, downtimeMs: { min: 100, max: 1000 } } };
      const r = await simulate(bank, { seed, faults, store: 'embedded', workload: { events: 600 } });
      expect(r.violations, r.repro).toEqual([]);
      expect(r.repro).toContain('--store embedded');
      storeCrashes += r.faults.storeCrash ?? 0;
    }
    expect(storeCrashes).toBeGreaterThan(0);
  }, 120_000);
});

describe('simulating the game', () => {
  it(`has no violation for seeds 1..${Math.min(SEEDS, 8)} with --faults swarm (fan-out, fan-in and a hot global key)`, async () => {
    const { default: game } = await import('../../examples/game/app.ts');
    for (let seed = 1; seed <= Math.min(SEEDS, 8); seed++) {
      const r = await simulate(game, { seed, faults: 'swarm', appSpec: 'examples/game' });
      expect(r.violations, r.repro).toEqual([]);
    }
  }, 300_000);
});
