/**
 * `spive replay --switch`: on a store that `spive run` holds, the running instance replays the change,
 * starts the new version beside the old one while transfers keep arriving, and switches the ledger and
 * the balances over in one step; from then on new transfers meet the new rule, `store read` shows the
 * new version (`--base`: the old one, as it was), and the old code may not run on the store any more.
 * On a store nobody holds, the switch is recorded and the next `spive run` of the new code takes over.
 * Real child processes; datasets/bank-small with examples/bank/transfer-limit.ts as the change.
 */
import { spawnSync } from 'node:child_process';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { killIfRunning, spive as cli, startRun, startSpive as start, until, type Child } from '../helpers/spive-child.ts';
import { tempDir } from '../helpers/temp-dir.ts';

interface ReadResult {
  generation: string | null;
  events: Array<{ key: string; seq: number; type: string; data: Record<string, unknown>; position: number }>;
}

const read = (store: string, ...args: string[]) => {
  const r = cli('store', 'read', store, ...args, '--limit', '0', '--json');
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as ReadResult;
};

/** A transfer above the limit (examples/bank/transfer-limit.ts: 100) that acct-1 can afford. */
const bigTransfer = (id: string) => JSON.stringify({ type: 'TransferRequested', data: { id, from: 'acct-1', to: 'acct-2', amount: 150 } });
const deposit = (id: string) => JSON.stringify({ type: 'Deposited', data: { id, account: 'acct-1', amount: 1000 } });

describe('spive replay --switch', () => {
  const temp = tempDir('spive-switch-');
  let run: Child | undefined;
  afterAll(async () => {
    await killIfRunning(run);
    temp.cleanup();
  });

  it('switches a running instance over while transfers arrive; new transfers meet the new rule; the old version stays', async () => {
    const store = join(temp.path, 'held');
    const plan = join(temp.path, 'plan.json');
    cpSync('datasets/bank-small', store, { recursive: true });
    const started = await startRun('examples/bank', store);
    run = started.run;
    const { endpoint } = started;
    const status = async () => (await (await fetch(`${endpoint}/status`)).json()) as { processes: Array<{ process: string; version: string; mode: string; eventsIn: number }> };
    const planned = cli('replay-plan', '--store', store, '--app', 'examples/bank/transfer-limit.ts', '--process', 'ledger', '--since', '2024-01-06T00:00:00Z', '--out', plan, '--json');
    expect(planned.code, planned.stderr).toBe(0);

    // Before: the running (old) ledger lets a big transfer through.
    const before = start(['append', 'transfers', '--store', store], [deposit('before-d'), bigTransfer('before-t')].join('\n'));
    expect(await before.exited, before.output()).toBe(0);

    const replay = start(['replay', '--plan', plan, '--store', store, '--switch', '--json']);
    const during = start(['append', 'transfers', '--store', store], Array.from({ length: 30 }, (_, i) => deposit(`during-${i}`)).join('\n'));
    expect(await during.exited, during.output()).toBe(0);
    expect(await replay.exited, replay.output()).toBe(0);
    const result = JSON.parse(replay.output().trim().split('\n').pop() as string) as { switchOver: { generation: string; streams: string[]; pauseMs: number; catchUpMs: number; processes: Array<{ process: string; toVersion: string }> } };
    expect(result.switchOver).toMatchObject({ generation: 'transfer-limit-1', streams: ['ledger', 'balances'] });
    expect(result.switchOver.processes[0]).toMatchObject({ process: 'ledger', toVersion: 'transfer-limit-1' });
    expect(result.switchOver.pauseMs).toBeGreaterThanOrEqual(0);
    await until(async () => (await status()).processes.find((p) => p.process === 'ledger')?.version === 'transfer-limit-1', 'the new ledger to run', run);
    expect((await status()).processes.every((p) => p.mode === 'live')).toBe(true);

    // After: the new ledger rejects a big transfer; the one before the switch was let through by the old
    // version, and the new version — whose rule applies since 6 January — rejects it too.
    const after = start(['append', 'transfers', '--store', store], bigTransfer('after-t'));
    expect(await after.exited, after.output()).toBe(0);
    const outcome = (r: ReadResult, id: string) => r.events.find((e) => e.data.id === id)?.type;
    await until(() => outcome(read(store, 'ledger', '--key', 'acct-1'), 'after-t') !== undefined, 'the new ledger to take the transfer', run);
    const current = read(store, 'ledger', '--key', 'acct-1');
    expect(current.generation).toBe('transfer-limit-1');
    expect(outcome(current, 'after-t')).toBe('Rejected');
    expect(outcome(current, 'before-t')).toBe('Rejected');
    for (let i = 0; i < 30; i++) expect(outcome(current, `during-${i}`)).toBe('Credited');
    // The old version stays as it was: it let the first one through and never saw the last.
    const base = read(store, 'ledger', '--key', 'acct-1', '--base');
    expect(base.generation).toBeNull();
    expect(outcome(base, 'before-t')).toBe('Debited');
    expect(outcome(base, 'after-t')).toBeUndefined();

    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
    // The old code may not write the switched streams any more.
    const old = cli('run', 'examples/bank', '--store', store, '--until-idle');
    expect(old.code).toBe(2);
    expect(old.stderr).toMatch(/process ledger is version .* here, but the store was switched over to its version transfer-limit-1 .*run the app with the new code/);
    expect(old.stderr).not.toMatch(/\n\s+at /);
    const again = cli('run', 'examples/bank/transfer-limit.ts', '--store', store, '--until-idle', '--json');
    expect(again.code, again.stderr).toBe(0);
  }, 300_000);

  it('on a store nobody holds, records the switch; the next run of the new code takes over', async () => {
    const store = join(temp.path, 'alone');
    const plan = join(temp.path, 'plan-alone.json');
    cpSync('datasets/bank-small', store, { recursive: true });
    const planned = cli('replay-plan', '--store', store, '--app', 'examples/bank/transfer-limit.ts', '--process', 'ledger', '--since', '2024-01-06T00:00:00Z', '--out', plan, '--json');
    expect(planned.code, planned.stderr).toBe(0);
    const replay = cli('replay', '--plan', plan, '--store', store, '--switch');
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stdout).toMatch(/switched ledger, balances to generation transfer-limit-1: start spive run with the new code/);
    const stats = cli('store', 'stats', store, '--json');
    expect(JSON.parse(stats.stdout).generation).toMatchObject({ generation: 'transfer-limit-1', streams: { ledger: 'ledger', balances: 'balances' } });
    // A second switch of the same streams is refused.
    const twice = cli('replay', '--plan', plan, '--store', store, '--switch');
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/already switched to generation transfer-limit-1/);
    const appended = spawnSync(process.execPath, ['bin/spive.js', 'append', 'transfers', '--store', store, '--app', 'examples/bank/transfer-limit.ts'], { encoding: 'utf8', input: bigTransfer('late-t') });
    expect(appended.status, appended.stderr).toBe(0);
    const r = cli('run', 'examples/bank/transfer-limit.ts', '--store', store, '--until-idle');
    expect(r.code, r.stderr).toBe(0);
    const current = read(store, 'ledger', '--key', 'acct-1');
    expect(current.events.find((e) => e.data.id === 'late-t')?.type).toBe('Rejected');
  }, 300_000);
});
