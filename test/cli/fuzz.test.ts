/**
 * `spive fuzz`: exit codes 0/1/2, `--json` prints exactly one object, `--junit` writes a well-formed
 * JUnit XML report, and the printed `spive simulate` command, run as a real process, reproduces the
 * violation.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.ts';
import { junitReport } from '../../cli/commands/fuzz.ts';
import type { FuzzResult } from '../../sim/fuzz.ts';
import { fakeStreams, runCli } from '../helpers/fake-streams.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

const run = runCli;

function folder(): string {
  const d = tempDir();
  cleanups.push(d.cleanup);
  return d.path;
}

/** A small well-formedness check: one root, balanced tags, quoted attributes, only known entities. */
function expectWellFormedXml(xml: string): void {
  expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n')).toBe(true);
  const body = xml.slice(xml.indexOf('?>') + 2);
  const entity = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/;
  const token = /<(\/?)([A-Za-z][\w.-]*)((?:\s+[\w.-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/y;
  const stack: string[] = [];
  let roots = 0;
  let at = 0;
  while (at < body.length) {
    token.lastIndex = at;
    const m = token.exec(body);
    expect(m, `not XML at ${JSON.stringify(body.slice(at, at + 60))}`).not.toBeNull();
    if (m === null) return;
    at = token.lastIndex;
    const [, close, name, attrs, selfClosing, text] = m;
    if (text !== undefined) {
      expect(entity.test(text), `raw & in ${JSON.stringify(text.slice(0, 80))}`).toBe(false);
      if (stack.length === 0) expect(text.trim()).toBe('');
      continue;
    }
    expect(entity.test(attrs ?? ''), `raw & in attributes of <${name}>`).toBe(false);
    if (close === '/') expect(stack.pop()).toBe(name);
    else if (selfClosing !== '/') {
      if (stack.length === 0) roots++;
      stack.push(name as string);
    }
  }
  expect(stack).toEqual([]);
  expect(roots).toBe(1);
}

describe('spive fuzz', () => {
  it('exits 1 on a planted bug, prints one JSON object with the contract fields, writes a JUnit report with the failure', async () => {
    const junit = join(folder(), 'fuzz.xml');
    const r = await run('fuzz', 'examples/buggy/arrival-order', '--seed', '1', '--runs', '100', '--time-budget', '30s', '--json', '--junit', junit);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const result = JSON.parse(r.stdout);
    for (const field of ['runs', 'failed', 'counterexample', 'repro', 'shrinks', 'violation', 'coverage', 'elapsedMs']) expect(result).toHaveProperty(field);
    expect(result.failed).toBe(true);
    expect(result.violation.invariant).toBe('final state equals the fault-free run');
    expect(Object.keys(result.counterexample).sort()).toEqual(['faults', 'seed', 'workload']);
    expect(result.repro).toMatch(/^npx spive simulate examples\/buggy\/arrival-order --seed \d+ --faults '\{"base":"none"[^']*\}'( --workload '\{[^']*\}')?$/);
    expect(Object.keys(result.coverage).sort()).toEqual(['faults', 'marks', 'never', 'runs']);

    const xml = readFileSync(junit, 'utf8');
    expectWellFormedXml(xml);
    expect(xml).toMatch(/<testsuite [^>]*failures="1"/);
    expect(xml).toMatch(/<testcase [^>]*name="fuzz examples\/buggy\/arrival-order"/);
    expect(xml).toMatch(/<failure [^>]*type="final state equals the fault-free run"/);
    expect(xml).toContain(result.repro.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'));

    // The printed command, run as a real process exactly as printed (shell quoting included), reproduces it.
    const sim = spawnSync('sh', ['-c', result.repro.replace(/^npx spive /, `"${process.execPath}" bin/spive.js `)], { encoding: 'utf8' });
    expect(sim.status, sim.stderr).toBe(1);
    expect(sim.stdout).toContain(`VIOLATION of "${result.violation.invariant}" at step ${result.violation.step}`);
  });

  it('prints the minimal case, the repro command and the coverage for humans', async () => {
    const r = await run('fuzz', 'examples/buggy/arrival-order', '--runs', '100', '--time-budget', '30s');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/COUNTEREXAMPLE found at run \d+/);
    expect(r.stdout).toMatch(/reproduce with:\n {2}npx spive simulate examples\/buggy\/arrival-order --seed \d+ --faults '/);
    expect(r.stdout).toMatch(/coverage over \d+ search runs?:/);
    expect(r.stdout).toMatch(/never exercised: /);
    expect(r.stderr).toBe(''); // progress only on a TTY
  });

  it('exits 0 on a correct app, with a JUnit report without failures', async () => {
    const junit = join(folder(), 'fuzz.xml');
    const r = await run('fuzz', 'examples/bank', '--runs', '3', '--seed', '2', '--json', '--junit', junit);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ runs: 3, failed: false, counterexample: null, repro: null, shrinks: 0, violation: null });
    const xml = readFileSync(junit, 'utf8');
    expectWellFormedXml(xml);
    expect(xml).toMatch(/<testsuite [^>]*tests="1" failures="0"/);
    expect(xml).not.toContain('<failure');
  });

  it('shows progress on stderr only on a terminal, and never on stdout', async () => {
    const { streams, output } = fakeStreams(true);
    const code = await main(['node', 'spive', 'fuzz', 'examples/bank', '--runs', '2', '--json'], streams);
    expect(code).toBe(0);
    expect(output.stderr).toMatch(/fuzzing examples\/bank: \d+ runs?/);
    expect(output.stdout.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(output.stdout).runs).toBe(2);
  });

  it('exits 2 on bad usage with one line naming the flag, no stack trace, and writes nothing', async () => {
    const dir = folder();
    const cases: Array<[string[], RegExp]> = [
      [['--runs', '0'], /--runs expects a positive integer/],
      [['--runs', 'many'], /--runs expects a positive integer/],
      [['--seed', '1.5'], /--seed expects an integer/],
      [['--time-budget', '60'], /--time-budget expects a duration/],
      [['--junit', join(dir, 'missing', 'fuzz.xml')], /--junit: the folder of .* does not exist/],
      [['--junit', dir], /--junit: .* is a folder/],
      [['--store', 'disk'], /--store: expected memory or embedded/],
    ];
    for (const [args, message] of cases) {
      const r = await run('fuzz', 'examples/bank', ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stdout).toBe('');
    }
    expect(existsSync(join(dir, 'missing'))).toBe(false);
    const missing = await run('fuzz', 'examples/no-such-app');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('examples/no-such-app');
    const help = await run('fuzz', '--help');
    expect(help.code).toBe(0);
    for (const flag of ['--runs', '--seed', '--time-budget', '--junit', '--json']) expect(help.stdout).toContain(flag);
  });

  it('escapes what it writes into the JUnit XML', () => {
    const nasty = 'a <tag> & "quotes" \'apos\' \u0001 ]]> end';
    const result: FuzzResult = {
      seed: 1,
      runs: 1,
      simulations: 1,
      failed: true,
      counterexample: { seed: 1, faults: { base: 'none' }, workload: {} },
      original: { seed: 1, faults: { base: 'none' }, workload: {} },
      repro: `npx spive simulate "x&y" --seed 1 --faults '{"base":"none"}'`,
      shrinks: 0,
      violation: { invariant: nasty, step: 1, simulatedMs: 1, message: nasty },
      coverage: { runs: 1, faults: {}, marks: { [nasty]: 1 }, never: [nasty] },
      interrupted: false,
      shrinkInterrupted: false,
      foundAfterMs: 0,
      elapsedMs: 1,
    };
    const xml = junitReport(result, 'app "<&>"');
    expectWellFormedXml(xml);
    expect(xml).not.toContain('\u0001');
    expect(xml).toContain('a &lt;tag&gt; &amp; &quot;quotes&quot; &apos;apos&apos;');
  });
});
