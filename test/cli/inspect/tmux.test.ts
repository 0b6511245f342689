/**
 * `spive inspect` for real: a simulation trace written by `spive simulate --trace`, the inspector in a
 * tmux pseudo-terminal (120x40), keys sent with send-keys, the screen read with capture-pane.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers/temp-dir.ts';

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const ROOT = new URL('../../../', import.meta.url).pathname;
const SESSION = `spive-inspect-test-${process.pid}`;
let dir: ReturnType<typeof tempDir>;

function tmux(...args: string[]): string {
  return execFileSync('tmux', args, { encoding: 'utf8' });
}

const screen = () => tmux('capture-pane', '-p', '-t', SESSION);

async function until(test: (s: string) => boolean, what: string, timeoutMs = 20_000): Promise<string> {
  for (const started = Date.now(); Date.now() - started < timeoutMs; ) {
    const s = screen();
    if (test(s)) return s;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the terminal never showed ${what}:\n${screen()}`);
}

// The issue asks for this test: CI must have tmux (it fails there without it); elsewhere it is skipped.
describe.skipIf(!hasTmux && process.env.CI !== 'true')('spive inspect in a terminal', () => {
  beforeAll(() => {
    dir = tempDir('spive-inspect-tmux-');
    execFileSync('node', ['bin/spive.js', 'simulate', 'examples/bank', '--seed', '3', '--workload', '{"events": 300}', '--trace', `${dir.path}/run.parquet`], { cwd: ROOT, stdio: 'ignore' });
    // Under .ci/run CI=true is in the environment: the inspector must still draw every frame on a terminal.
    tmux('new-session', '-d', '-s', SESSION, '-x', '120', '-y', '40', '-c', ROOT, `env CI=true node bin/spive.js inspect ${dir.path}/run.parquet; echo "exited $?"; sleep 60`);
  });
  afterAll(() => {
    spawnSync('tmux', ['kill-session', '-t', SESSION]);
    dir.cleanup();
  });

  it('shows the overview, selects and follows events, filters, and quits with q', async () => {
    // The first screen waits for node, tsx and DuckDB to start: slow when the machine is busy (npm test runs files in parallel).
    let s = await until((x) => x.includes('overview') && x.includes('stream transfers'), 'the overview', 90_000);
    for (const lane of ['stream balances', 'stream ledger', 'stream transfers', 'ledger-b', 'balances-b', 'faults']) expect(s).toMatch(new RegExp(`^${lane} +│`, 'm'));
    expect(s.split('\n').every((line) => [...line].length <= 120)).toBe(true);

    // Select the ledger stream (second lane) and its first event: an output with its input.
    const selectedLine = (x: string) => /▶ .*/.exec(x)?.[0];
    tmux('send-keys', '-t', SESSION, 'j');
    s = await until((x) => x.includes('cell stream ledger') && /← input: +[\d.]+ s {2}append transfers\//.test(x), 'the ledger lane selected, its first event with its input');
    const first = selectedLine(s);
    tmux('send-keys', '-t', SESSION, ']');
    s = await until((x) => selectedLine(x) !== first && /▶ [\d.]+ s {2}append ledger\//.test(x) && /← input: +[\d.]+ s {2}append transfers\//.test(x), 'the next ledger event with its input');
    const input = /← input: +[\d.]+ s {2}append (transfers\/\S+)/.exec(s)?.[1] as string;
    tmux('send-keys', '-t', SESSION, 'Enter');
    s = await until((x) => x.includes(`▶`) && x.includes('cell stream transfers') && /→ outputs: [\d.]+ s {2}append ledger\//.test(x), 'the input selected, with its output');
    expect(s).toContain(`append ${input}`);

    // Zoom in twice around the cursor.
    tmux('send-keys', '-t', SESSION, '+');
    await until((x) => x.includes('zoom 2x'), 'zoom 2x');
    tmux('send-keys', '-t', SESSION, '+');
    await until((x) => x.includes('zoom 4x'), 'zoom 4x');

    // Filter by the input's key: every lane left has matches, and n finds the next one.
    const key = input.split('/')[1]?.split('@')[0] as string;
    tmux('send-keys', '-t', SESSION, '/');
    await until((x) => x.includes('Enter applies'), 'the filter prompt');
    tmux('send-keys', '-t', SESSION, '-l', `key:${key}`);
    await until((x) => x.includes(`/key:${key}`), 'the typed filter');
    tmux('send-keys', '-t', SESSION, 'Enter');
    // Lanes without a match (the faults lane) are gone, and the first match is selected.
    s = await until((x) => /[\d,]+ of [\d,]+ rows match/.test(x) && !/^faults /m.test(x) && new RegExp(`▶ .*/${key}@`).test(x), 'the filter applied');
    expect(s).toMatch(/^stream transfers +│/m);
    tmux('send-keys', '-t', SESSION, 'n');
    await until((x) => (x.match(new RegExp(`▶ .*/${key}@`, 'g')) ?? []).length === 1 && !x.includes('no later match') && x !== s, 'the next match');

    // A smaller terminal: the screen is laid out again to its width.
    tmux('resize-window', '-t', SESSION, '-x', '90', '-y', '30');
    s = await until((x) => x.split('\n').every((line) => [...line].length <= 90) && /^stream transfers +│/m.test(x) && x.includes('▶'), 'the screen re-laid to 90 columns');
    expect(Math.max(...s.split('\n').map((line) => [...line].length))).toBeGreaterThan(80);

    tmux('send-keys', '-t', SESSION, '?');
    await until((x) => x.includes('markers') && x.includes('follow the causal chain'), 'the key map');
    tmux('send-keys', '-t', SESSION, 'q');
    await until((x) => x.includes('exited 0'), 'the inspector exiting with 0');
  }, 240_000);
});
