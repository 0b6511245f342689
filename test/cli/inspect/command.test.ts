/** `spive inspect` on the command line: the summary for CI logs, --json, and exit codes 0/1/2. */
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/fake-streams.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { SMALL_TRACE_ROWS, writeSmallTrace } from './small-trace.ts';

let dir: ReturnType<typeof tempDir>;
let withViolation: string;
let clean: string;

beforeAll(async () => {
  dir = tempDir('spive-inspect-cli-');
  withViolation = `${dir.path}/violation.parquet`;
  clean = `${dir.path}/clean.parquet`;
  await writeSmallTrace(withViolation);
  await writeSmallTrace(clean, SMALL_TRACE_ROWS.filter((r) => r.kind !== 'violation'));
});
afterAll(() => dir.cleanup());

describe('spive inspect --summary', () => {
  it('prints the overview as text and exits 1 when the trace records a violation', async () => {
    const r = await runCli('inspect', withViolation, '--summary', '--width', '80');
    expect(r.code).toBe(1);
    const lines = r.stdout.split('\n');
    const violations = lines.find((l) => l.startsWith('violations '));
    expect(violations).toMatch(/│ *!/);
    expect(lines.filter((l) => l.includes('│')).every((l) => [...l].length <= 80)).toBe(true); // the lanes fit --width
    expect(r.stdout).toMatch(/1 violation\(s\); the first at step 7 \(0\.750 s\): balance never negative: acct-2 is at -5/);
    expect(r.stdout).toMatch(/X crash 1/);
    expect(r.stderr).toBe('');
  });

  it('exits 0 for a trace without violations; with --json prints exactly one object', async () => {
    const r = await runCli('inspect', clean, '--summary', '--json');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const summary = JSON.parse(lines[0] as string);
    expect(summary.rows).toBe(SMALL_TRACE_ROWS.length - 1);
    expect(summary.violations).toEqual([]);
    expect(summary.lanes.map((l: { lane: string }) => l.lane)).toEqual(['stream ledger', 'stream transfers', 'ledger-b', 'faults']);
    expect(summary.lanes.find((l: { lane: string }) => l.lane === 'stream transfers').events).toBe(2);
  });

  it('prints the summary when stdout is not a terminal, saying so on stderr', async () => {
    const r = await runCli('inspect', clean);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^stream transfers +│/m);
    expect(r.stderr).toMatch(/stdout is not a terminal/);
  });

  it('rejects a missing path, a file that is not a trace, a folder that is not a store, a bad --width: exit 2, one line', async () => {
    const text = `${dir.path}/notes.txt`;
    writeFileSync(text, 'hello');
    const cases: Array<[string[], RegExp]> = [
      [[`${dir.path}/nope.parquet`], /no such file or folder: .*nope\.parquet/],
      [[text], /notes\.txt is not a Parquet trace/],
      [[dir.path], /not an embedded store \(no FORMAT file\)/],
      [[clean, '--width', 'wide'], /--width expects a positive integer/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli('inspect', ...args, '--summary');
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stdout).toBe('');
    }
  });
});
