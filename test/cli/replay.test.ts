/** `spive replay` on the command line: the contract (--json, exit codes, --help), --effects, --verify, progress, clear errors. */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeStreams, runCli } from '../helpers/fake-streams.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { inputsFor, writeBankStore } from '../replay/helpers.ts';

const FROM_START = 'test/replay/fixtures/bank-fixed-from-start.ts';
let dir: ReturnType<typeof tempDir>;
let n = 0;

beforeAll(async () => {
  dir = tempDir('spive-cli-replay-');
  await writeBankStore(`${dir.path}/pristine`, inputsFor(5, 500));
}, 60_000);

afterAll(() => dir.cleanup());

/** A fresh copy of the store and a plan for it. */
async function planned(...args: string[]): Promise<{ store: string; plan: string }> {
  const store = `${dir.path}/store-${n++}`;
  cpSync(`${dir.path}/pristine`, store, { recursive: true });
  const plan = `${store}.plan.json`;
  const r = await runCli('replay-plan', '--store', store, '--app', FROM_START, '--process', 'ledger', '--out', plan, '--json', ...args);
  expect(r.code, r.stderr).toBe(0);
  return { store, plan };
}

describe('spive replay', () => {
  it('prints one JSON object with the contract fields, lists suppressed effects with --effects, and resumes as a no-op', async () => {
    const { store, plan } = await planned();
    const r = await runCli('replay', '--plan', plan, '--store', store, '--json', '--effects');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const result = JSON.parse(r.stdout);
    for (const field of ['strategy', 'eventsRead', 'actualWallMs', 'estimatedWallMs', 'verified', 'shards', 'eventsWritten', 'suppressedEffects', 'outputStream', 'resumedShards']) expect(result).toHaveProperty(field);
    expect(result).toMatchObject({ strategy: 'shards-from-scratch', verified: null, outputStream: 'ledger--fixed-0', resumedShards: 0 });
    expect(result.effects).toHaveLength(result.suppressedEffects);
    expect(result.effects[0]).toMatchObject({ process: 'ledger', gateway: 'notifications', idempotencyKey: expect.stringMatching(/^ledger\/a\d\/transfers@\d+\/0$/) });
    expect(result.effects.some((e: { changed: boolean; request: { message: string } }) => e.changed && /above the transfer limit/.test(e.request.message))).toBe(true);
    expect(result.processes.map((p: { process: string; outputStream: string }) => [p.process, p.outputStream])).toEqual([['ledger', 'ledger--fixed-0'], ['balances', 'balances--fixed-0']]);
    expect(result.calibration).toMatchObject({ factor: expect.any(Number) });

    // The analyzer now prefers the cost measured by this replay.
    const again = JSON.parse((await runCli('replay-plan', '--store', store, '--app', FROM_START, '--process', 'ledger', '--json')).stdout);
    expect(again.cost.source).toBe('replay');

    const second = JSON.parse((await runCli('replay', '--plan', plan, '--store', store, '--json')).stdout);
    expect(second).toMatchObject({ eventsWritten: 0, shards: result.shards, resumedShards: result.shards });
    expect(second).not.toHaveProperty('effects');
  });

  it('prints a readable summary, "would have done" lines with --effects, and a progress bar only on a terminal', async () => {
    const { store, plan } = await planned();
    const { main } = await import('../../cli/main.ts');
    const { streams, output } = fakeStreams(true);
    const code = await main(['node', 'spive', 'replay', '--plan', plan, '--store', store, '--effects'], streams);
    expect(code).toBe(0);
    expect(output.stdout).toMatch(/replayed ledger \(bank-v1 → fixed-0\) with shards-from-scratch/);
    expect(output.stdout).toMatch(/ledger@fixed-0 → ledger--fixed-0: \d+ shards/);
    expect(output.stdout).toMatch(/would have done notifications \{.*\} \(ledger\/a\d\/transfers@\d+\/0/);
    expect(output.stderr).toMatch(/ledger \[[#.]{24}\] [\d,]+\/[\d,]+ events, \d+\/\d+ shards, [\d,]+ ev\/s/);
  });

  it('--verify: exit 1 naming the first differing shard and event when shards outside the plan change', async () => {
    // The plan claims only a0 changes; the fixed rule changes every account.
    const { store, plan } = await planned('--keys', "key = 'a0'");
    const r = await runCli('replay', '--plan', plan, '--store', store, '--json', '--verify');
    expect(r.code).toBe(1);
    const result = JSON.parse(r.stdout);
    expect(result.verified).toBe(false);
    expect(result.verify.firstDifference).toMatchObject({ shard: expect.stringMatching(/^a[1-5]$/), seq: expect.any(Number) });
    const text = await runCli('replay', '--plan', plan, '--store', store, '--verify');
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/verified: false — shard a[1-5] differs at seq \d+/);
  });

  it('--strategy plans the tasks again for the forced strategy', async () => {
    const { store, plan } = await planned();
    const r = await runCli('replay', '--plan', plan, '--store', store, '--json', '--strategy', 'full-rebuild');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).strategy).toBe('full-rebuild');
    const bad = await runCli('replay', '--plan', plan, '--store', store, '--strategy', 'time-ray-from-snapshot');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--strategy.*time-ray-from-snapshot does not: the change starts at the beginning/);
  });

  it('--workers 2 runs the handlers on worker threads and writes what one thread writes', async () => {
    const one = await planned();
    const two = await planned();
    const a = JSON.parse((await runCli('replay', '--plan', one.plan, '--store', one.store, '--json', '--effects')).stdout);
    const r = await runCli('replay', '--plan', two.plan, '--store', two.store, '--json', '--effects', '--workers', '2');
    expect(r.code, r.stderr).toBe(0);
    const b = JSON.parse(r.stdout);
    expect(b.workers).toBe(2);
    for (const field of ['eventsRead', 'eventsWritten', 'shards', 'suppressedEffects', 'outputStream']) expect(b[field], field).toEqual(a[field]);
    const sorted = (effects: Array<{ idempotencyKey: string }>) => [...effects].sort((x, y) => x.idempotencyKey.localeCompare(y.idempotencyKey));
    expect(sorted(b.effects)).toEqual(sorted(a.effects));
    const { EmbeddedStore } = await import('spive');
    const contents = async (path: string) => {
      const s = await EmbeddedStore.open(path, { readOnly: true });
      const out: string[] = [];
      for (const stream of ['ledger--fixed-0', 'balances--fixed-0']) for await (const batch of s.readStream(stream)) for (const e of batch) out.push(JSON.stringify([e.stream, e.key, e.seq, e.type, e.time, e.data, e.meta]));
      await s.close();
      return out.sort();
    };
    const written = await contents(two.store);
    expect(written.length).toBeGreaterThan(0);
    expect(written).toEqual(await contents(one.store));
  });

  it('has --help with examples', async () => {
    const r = await runCli('replay', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Examples:\n  spive replay-plan/);
    expect(r.stdout).toMatch(/--strategy <name>/);
  });

  it('rejects bad plans, a changed app, a missing store and bad flags: exit 2, naming the file and field, no stack trace', async () => {
    const { store, plan } = await planned();
    const good = JSON.parse(readFileSync(plan, 'utf8'));
    const write = (name: string, value: unknown) => {
      const path = `${dir.path}/${name}.json`;
      writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value));
      return path;
    };
    const cases: Array<[string[], RegExp]> = [
      [['--plan', `${dir.path}/nope.json`, '--store', store], /plan file .*nope\.json not found/],
      [['--plan', write('not-json', '{oops'), '--store', store], /not-json\.json: expected a JSON plan/],
      [['--plan', write('no-mode', { ...good, tasks: [{ ...good.tasks[0], mode: 'sideways' }] }), '--store', store], /no-mode\.json: tasks\[0\]\.mode: expected 'scratch' or 'ray', got "sideways"/],
      [['--plan', write('format', { ...good, format: 'x' }), '--store', store], /format\.json: format: expected "spive-replay-plan"/],
      [['--plan', write('changed', { ...good, change: { ...good.change, toVersion: 'fixed-9' } }), '--store', store], /changed\.json: change\.toVersion: the plan rebuilds ledger as version fixed-9, but .* now gives version fixed-0: the app changed since planning/],
      [['--plan', plan, '--store', `${dir.path}/no-store`], /store .*no-store.* not found/],
      [['--plan', plan, '--store', store, '--strategy', 'fastest'], /--strategy expects one of shards-from-scratch/],
      [['--plan', plan, '--store', store, '--workers', '0'], /--workers/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli('replay', ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stdout).toBe('');
    }
  });
});
