/** The command-line contract: help, version, exit codes, one JSON object with --json, no stack traces for user mistakes. */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedStore } from 'spive';
import { runCli } from '../helpers/fake-streams.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

const run = runCli;

describe('spive CLI', () => {
  it('prints help listing the commands, and help for a command', async () => {
    const top = await run('--help');
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/Usage: spive/);
    expect(top.stdout).toMatch(/demo/);
    expect(top.stdout).toMatch(/store/);
    const sub = await run('store', 'verify', '--help');
    expect(sub.code).toBe(0);
    expect(sub.stdout).toMatch(/--json/);
  });

  it('prints the package version', async () => {
    const version = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;
    const r = await run('--version');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });

  it('rejects unknown commands and flags with one line and exit code 2', async () => {
    for (const args of [['frobnicate'], ['demo', '--frobnicate'], ['store', 'stats'], ['demo', '--events', 'many']]) {
      const r = await run(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n').length, r.stderr).toBeLessThanOrEqual(2); // message (+ a suggestion)
      expect(r.stderr).toMatch(/error/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    expect((await run('demo', '--events', 'many')).stderr).toMatch(/--events expects a positive integer, got "many"/);
  });

  it('exits 2 with usage help when no command is given', async () => {
    const r = await run();
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/missing command/);
  });

  it('names the store and what was expected when a store is missing, without a stack trace', async () => {
    const d = tempDir();
    cleanups.push(d.cleanup);
    const r = await run('store', 'stats', `${d.path}/missing`);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${d.path}/missing`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('reports stats and verifies a healthy store, with exactly one JSON object under --json', async () => {
    const d = tempDir();
    cleanups.push(d.cleanup);
    const store = await EmbeddedStore.open(d.path);
    await store.append('orders', 'o1', [{ type: 'Placed', time: 1000, data: { total: 5 } }, { type: 'Paid', time: 2000, data: { total: 5 } }]);
    await store.close();
    const stats = await run('store', 'stats', d.path, '--json');
    expect(stats.code).toBe(0);
    const parsed = JSON.parse(stats.stdout);
    expect(stats.stdout.trim().split('\n').length).toBe(1);
    expect(parsed.events).toBe(2);
    expect(parsed.streams).toEqual([{ stream: 'orders', events: 2, shards: 1, minTime: 1000, maxTime: 2000, lastPosition: 2 }]);
    const verify = await run('store', 'verify', `file:${d.path}`, '--json');
    expect(verify.code).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, events: 2, problem: null });
  });

  it('exits 1 and names file and offset when verify finds corruption', async () => {
    const d = tempDir();
    cleanups.push(d.cleanup);
    const store = await EmbeddedStore.open(d.path);
    for (let i = 0; i < 5; i++) await store.append('s', 'k', [{ type: 'T', time: i, data: { i, pad: 'x'.repeat(50) } }]);
    await store.close();
    const wal = `${d.path}/wal/0000000001.log`;
    const bytes = readFileSync(wal);
    const middle = Math.floor(bytes.length / 2);
    bytes[middle] = (bytes[middle] as number) ^ 0xff;
    writeFileSync(wal, bytes);
    const r = await run('store', 'verify', d.path, '--json');
    expect(r.code).toBe(1);
    const result = JSON.parse(r.stdout);
    expect(result.ok).toBe(false);
    expect(result.problem.file).toBe(wal);
    expect(result.problem.offset).toBeGreaterThan(0);
    expect(result.problem.offset).toBeLessThan(bytes.length);
  });

  it('runs the demo end to end and reports its figures as JSON', async () => {
    const r = await run('demo', '--events', '3000', '--accounts', '20', '--json');
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.events).toBe(3002);
    expect(summary.scannedEvents).toBe(3001);
    expect(summary.topAccounts).toHaveLength(3);
    expect(summary.store).toBeNull();
  });

  it('works as a real binary through npx-style invocation (bin/spive.js)', () => {
    const version = execFileSync(process.execPath, ['bin/spive.js', '--version'], { encoding: 'utf8' });
    expect(version.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const bad = spawnSync(process.execPath, ['bin/spive.js', 'nope'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/unknown command 'nope'/);
  });
});
