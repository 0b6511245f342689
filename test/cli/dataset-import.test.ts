/** `spive dataset generate` and `spive import` on the command line: --json, exit codes, messages. */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedStore } from 'spive';
import { collect } from '../helpers/async.ts';
import { runCli } from '../helpers/fake-streams.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));
function temp() {
  const d = tempDir();
  cleanups.push(d.cleanup);
  return d.path;
}

describe('spive dataset generate', () => {
  it('prints one JSON object describing a store that verifies, and the same options give the same store', async () => {
    const dir = temp();
    const args = ['dataset', 'generate', 'bank', '--events', '600', '--keys', '40', '--seed', '5', '--days', '2', '--json'];
    const r = await runCli(...args, '--out', `${dir}/one`);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(out).toMatchObject({ events: 600, path: `${dir}/one` });
    expect(out.keys).toBeGreaterThan(1);
    expect(out.keys).toBeLessThanOrEqual(40);
    expect(out.maxTime - out.minTime).toBeLessThan(2 * 86_400_000);
    const verify = await runCli('store', 'verify', `${dir}/one`, '--json');
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, events: out.storeEvents });
    const again = await runCli(...args, '--out', `${dir}/two`);
    expect(again.code).toBe(0);
    for (const name of readdirSync(`${dir}/one/wal`)) expect(readFileSync(`${dir}/two/wal/${name}`).equals(readFileSync(`${dir}/one/wal/${name}`)), name).toBe(true);
  });

  it('commits only stores that verify (datasets/)', async () => {
    const r = await runCli('store', 'verify', 'datasets/bank-small', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, events: 4888, snapshots: 451 });
  });

  it('generates the game example too', async () => {
    const dir = temp();
    const r = await runCli('dataset', 'generate', 'game', '--out', `${dir}/g`, '--events', '400', '--snapshot-every', '100', '--json');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.streams.map((s: { stream: string }) => s.stream)).toEqual(['board', 'matches', 'ratings', 'results']);
    expect(out.processes.find((p: { process: string }) => p.process === 'scoring').rounds).toBe(4);
  });

  it('exits 2 naming the flag or argument on bad usage', async () => {
    const dir = temp();
    writeFileSync(`${dir}/file`, 'x');
    for (const [args, message] of [
      [['dataset', 'generate', 'nope', '--out', `${dir}/x`], /<example>: expected one of bank, game, got "nope"/],
      [['dataset', 'generate', 'bank', '--out', dir], /--out: expected a new or empty folder/],
      [['dataset', 'generate', 'bank', '--out', `${dir}/y`, '--skew', '-1'], /--skew expects a number >= 0/],
      [['dataset', 'generate', 'bank', '--out', `${dir}/y`, '--events', '0'], /--events expects a positive integer/],
    ] as const) {
      const r = await runCli(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    expect((await runCli('dataset', 'generate', '--help')).stdout).toMatch(/Examples:/);
  });
});

describe('spive import', () => {
  it('loads a CSV into a store and prints {events, keys, minTime, maxTime}', async () => {
    const dir = temp();
    writeFileSync(`${dir}/log.csv`, 'user,at,what,amount\nann,2024-05-01T10:00:00Z,Buy,5\nbob,1714557600000,View,0\nann,2024-05-01 12:00:00,View,7\n');
    const r = await runCli('import', `${dir}/log.csv`, '--store', `${dir}/s`, '--stream', 'clicks', '--key', 'user', '--time', 'at', '--type', 'what', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ events: 3, keys: 2, minTime: Date.UTC(2024, 4, 1, 10), maxTime: Date.UTC(2024, 4, 1, 12) });
    const store = await EmbeddedStore.open(`${dir}/s`, { readOnly: true });
    try {
      const events = await collect(store.readShard('clicks', 'ann'));
      expect(events.map((e) => [e.type, e.data])).toEqual([['Buy', { amount: 5 }], ['View', { amount: 7 }]]);
    } finally {
      await store.close();
    }
  });

  it('exits 2 on bad rows, naming file and rows, with nothing appended', async () => {
    const dir = temp();
    writeFileSync(`${dir}/log.jsonl`, '{"user":"ann","at":1}\n{"user":null,"at":2}\n{"user":"bob","at":"soon"}\n');
    const r = await runCli('import', `${dir}/log.jsonl`, '--store', `${dir}/s`, '--stream', 'clicks', '--key', 'user', '--time', 'at', '--json');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`${dir}/log.jsonl: row 2: user: no key`);
    expect(r.stderr).toContain(`${dir}/log.jsonl: row 3: at: unparsable time "soon"`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const store = await EmbeddedStore.open(`${dir}/s`, { readOnly: true });
    expect((await store.stats()).events).toBe(0);
    await store.close();
  });

  it('exits 2 on bad usage: both --type and --type-value, an unknown column', async () => {
    const dir = temp();
    writeFileSync(`${dir}/log.csv`, 'user,at\nann,1\n');
    const both = await runCli('import', `${dir}/log.csv`, '--store', 'memory:', '--stream', 's', '--key', 'user', '--time', 'at', '--type', 'x', '--type-value', 'y');
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--type and --type-value/);
    const column = await runCli('import', `${dir}/log.csv`, '--store', 'memory:', '--stream', 's', '--key', 'who', '--time', 'at');
    expect(column.code).toBe(2);
    expect(column.stderr).toMatch(/--key: expected a column of .*\(it has user, at\), got "who"/);
  });
});
