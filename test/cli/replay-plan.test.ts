/** `spive replay-plan` on an embedded store: the command-line contract, the plan file, and clear errors (exit 2). */
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedStore } from 'spive';
import { historyInputs, writeHistory } from '../analyzer/fixtures.ts';
import { runCli } from '../helpers/fake-streams.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const APP = 'test/analyzer/history-app.ts';
const shape = { eventsPerKey: Array.from({ length: 30 }, (_, k) => 10 + k) };
let dir: ReturnType<typeof tempDir>;

beforeAll(async () => {
  dir = tempDir();
  const store = await EmbeddedStore.open(`${dir.path}/store`, { segmentBytes: 64 * 1024 });
  await writeHistory(store, { version: 'v1', snapshotEvery: 100 }, shape);
  await store.close();
}, 60_000);

afterAll(() => dir.cleanup());

const store = () => `${dir.path}/store`;

describe('spive replay-plan', () => {
  it('prints one JSON object with every strategy, the chosen one and downstream, and writes the plan', async () => {
    const out = `${dir.path}/plan.json`;
    const since = (historyInputs(shape).at(-1)?.time as number) - 3_600_000;
    const r = await runCli('replay-plan', '--store', store(), '--app', APP, '--process', 'tally', '--since', new Date(since).toISOString(), '--workers', '2', '--out', out, '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.process).toBe('tally');
    expect(result.change).toEqual({ process: 'tally', fromVersion: 'v1', toVersion: 'v2', since, keys: null });
    expect(result.strategies.map((s: { name: string }) => s.name)).toEqual(['shards-from-scratch', 'time-ray-from-snapshot', 'per-shard-mix', 'full-rebuild']);
    for (const s of result.strategies) {
      expect(Object.keys(s).sort()).toEqual(['applicable', 'bytesToRead', 'estimatedCpuMs', 'estimatedWallMs', 'eventsToRead', 'name', 'reason', 'shards', 'snapshotBytes'].sort());
    }
    expect(result.strategies.map((s: { name: string }) => s.name)).toContain(result.chosen);
    expect(result.downstream[0]).toMatchObject({ process: 'regions', lineage: 'exact' });
    expect(existsSync(out)).toBe(true);
    const plan = JSON.parse(readFileSync(out, 'utf8'));
    expect(plan.format).toBe('spive-replay-plan');
    expect(plan.chosen).toBe(result.chosen);
    expect(plan.tasks.length).toBeGreaterThan(0);
    expect(result.statistics.filesAdded + result.statistics.tailEvents).toBeGreaterThan(0);

    // Planning again reads no sealed file twice.
    const again = JSON.parse((await runCli('replay-plan', '--store', store(), '--app', APP, '--process', 'tally', '--json')).stdout);
    expect(again.statistics.filesAdded).toBe(0);
    expect(again.chosen).toBe('shards-from-scratch');
  });

  it('prints a readable table without --json, with the chosen strategy marked and snapshot advice on request', async () => {
    const r = await runCli('replay-plan', '--store', store(), '--app', APP, '--process', 'tally', '--advise-snapshots');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/strategy\s+applies\s+shards\s+events\s+bytes\s+snapshots\s+cpu\s+wall/);
    expect(r.stdout).toMatch(/^\* +shards-from-scratch/m);
    expect(r.stdout).toMatch(/time-ray-from-snapshot: the change starts at the beginning/);
    expect(r.stdout).toMatch(/chosen: shards-from-scratch/);
    expect(r.stdout).toMatch(/regions \(via tallies\): \d+ shards by exact lineage/);
    expect(r.stdout).toMatch(/snapshots of tally: every ~[\d,]+ input events \(Daly/);
  });

  it.each([
    [['--process', 'nope'], /--process.*one of app history's processes \(tally, regions\).*nope/],
    [['--process', 'tally', '--since', '2001-01-01T00:00:00Z'], /--since.*within tally's input history/],
    [['--process', 'tally', '--keys', 'key ==== 3'], /--keys.*DuckDB SQL condition on key/],
    [['--process', 'tally', '--keys', "key = 'no-such-key'"], /--keys.*matches none of 30/],
    [['--process', 'tally', '--workers', '0'], /--workers expects a positive integer/],
  ])('rejects %j with a message naming the flag, exit 2, no stack trace', async (args, message) => {
    const r = await runCli('replay-plan', '--store', store(), '--app', APP, ...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe('');
  });

  it('rejects an app whose graph does not match the store, and a missing store', async () => {
    const mismatch = await runCli('replay-plan', '--store', store(), '--app', 'examples/bank', '--process', 'ledger');
    expect(mismatch.code).toBe(2);
    expect(mismatch.stderr).toMatch(/ledger reads 'transfers', which the store .* does not hold \(it holds: inputs, tallies, totals\)/);
    const missing = await runCli('replay-plan', '--store', `${dir.path}/nowhere`, '--app', APP, '--process', 'tally');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nowhere/);
  });
});
