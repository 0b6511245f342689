/**
 * `spive replay` on an embedded store that `spive run` holds: the plan is handed to the running
 * instance (its one writer), which executes it while its runners keep serving — events appended
 * meanwhile are taken by the old version — and the command prints the same result as on its own.
 * Real child processes; datasets/bank-small with examples/bank/transfer-limit.ts as the change.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { killIfRunning, spive as cli, startRun, startSpive as start, type Child } from '../helpers/spive-child.ts';
import { tempDir } from '../helpers/temp-dir.ts';

describe('spive replay on a store that spive run holds', () => {
  const temp = tempDir('spive-handoff-');
  const store = join(temp.path, 'store');
  const plan = join(temp.path, 'plan.json');
  let run: Child | undefined;
  afterAll(async () => {
    await killIfRunning(run);
    temp.cleanup();
  });

  it('hands the plan over; the run keeps taking new events while the replay runs; same result as a replay of its own', async () => {
    cpSync('datasets/bank-small', store, { recursive: true });
    const started = await startRun('examples/bank', store);
    run = started.run;
    const { endpoint } = started;
    const status = async () => (await (await fetch(`${endpoint}/status`)).json()) as { processes: Array<{ process: string; eventsIn: number; mode: string }> };
    // Planning reads the store while it is held (read-only).
    const planned = cli('replay-plan', '--store', store, '--app', 'examples/bank/transfer-limit.ts', '--process', 'ledger', '--since', '2024-01-06T00:00:00Z', '--out', plan, '--json');
    expect(planned.code, planned.stderr).toBe(0);
    const ledgerBefore = (await status()).processes.find((p) => p.process === 'ledger')?.eventsIn ?? 0;

    // The replay and, at the same time, new transfers for the running instance.
    const replay = start(['replay', '--plan', plan, '--store', store, '--verify', '--json']);
    const transfers = Array.from({ length: 40 }, (_, i) => JSON.stringify({ type: 'Deposited', data: { id: `live-${i}`, account: `acct-${i % 5}`, amount: 10 } })).join('\n');
    const append = start(['append', 'transfers', '--store', store], transfers);
    expect(await append.exited, append.output()).toBe(0);
    expect(await replay.exited, replay.output()).toBe(0);

    const result = JSON.parse(replay.output().trim().split('\n').pop() as string) as { verified: boolean; executedBy: string; shards: number; eventsWritten: number; outputStream: string; resumedShards: number };
    expect(result.executedBy).toMatch(/^spive run examples\/bank \(pid \d+\)$/);
    expect(result).toMatchObject({ verified: true, outputStream: 'ledger--transfer-limit-1', resumedShards: 0 });
    expect(result.eventsWritten).toBeGreaterThan(0);
    // The old version kept serving: the live deposits went through the running ledger.
    for (let i = 0; i < 100 && ((await status()).processes.find((p) => p.process === 'ledger')?.eventsIn ?? 0) < ledgerBefore + 40; i++) await new Promise((r) => setTimeout(r, 50));
    const after = await status();
    expect(after.processes.find((p) => p.process === 'ledger')?.eventsIn).toBeGreaterThanOrEqual(ledgerBefore + 40);
    expect(after.processes.every((p) => p.mode === 'live')).toBe(true);

    // The same as a replay of its own on a copy of the store as it was: what the replay wrote (fork
    // records and new events of the rebuilt shards) is the same. (The version's view differs by the
    // live deposits: shards the replay left alone are read from the base, which kept growing.)
    const alone = join(temp.path, 'alone');
    cpSync('datasets/bank-small', alone, { recursive: true });
    const own = cli('replay', '--plan', plan, '--store', alone, '--json');
    expect(own.code, own.stderr).toBe(0);
    const read = (dir: string) => JSON.parse(cli('store', 'read', dir, 'ledger--transfer-limit-1', '--platform', '--limit', '0', '--json').stdout) as { events: Array<{ key: string; seq: number; type: string; data: unknown }> };
    // By shard and seq: shards are written a few at a time, in whatever order they finish.
    const byShard = (dir: string) =>
      read(dir)
        .events.map(({ key, seq, type, data }) => ({ key, seq, type, data }))
        .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.seq - b.seq));
    // The live deposits went to acct-0 … acct-4: whether the replay read them depends on timing, so
    // those shards are left out; every other shard must be exactly what a replay of its own wrote.
    const quiet = (events: ReturnType<typeof byShard>) => events.filter((e) => !/^acct-[0-4]$/.test(e.key));
    const handed = quiet(byShard(store));
    const local = quiet(byShard(alone));
    expect(handed.length).toBeGreaterThan(0);
    expect(handed).toEqual(local);

    // Again: every shard is complete, nothing is written twice.
    const again = start(['replay', '--plan', plan, '--store', store, '--json']);
    expect(await again.exited, again.output()).toBe(0);
    expect(JSON.parse(again.output().trim().split('\n').pop() as string)).toMatchObject({ eventsWritten: 0, resumedShards: result.shards });
  }, 180_000);

  it('a plan the running instance refuses (the app changed since planning) exits 2 naming the field and the holder', async () => {
    const stale = join(temp.path, 'stale.json');
    const p = JSON.parse(readFileSync(plan, 'utf8')) as { change: { toVersion: string } };
    writeFileSync(stale, JSON.stringify({ ...p, change: { ...p.change, toVersion: 'transfer-limit-0' } }));
    const r = cli('replay', '--plan', stale, '--store', store);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/change\.toVersion: the plan rebuilds ledger as version transfer-limit-0, but .* now gives version transfer-limit-1: the app changed since planning .*\(in spive run examples\/bank \(pid \d+\)\)/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    // Flags that make no sense for a handed-over replay are refused before anything is sent.
    const flag = cli('replay', '--plan', plan, '--store', store, '--catalogue', temp.path);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/--catalogue: the store is held by spive run/);
    run?.child.kill('SIGINT');
    expect(await run?.exited).toBe(0);
  }, 60_000);
});
