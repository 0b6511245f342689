/** Shared helpers of the benchmark harness: output, statistics, temp folders, synthetic events. */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NewEvent } from '../../src/index.ts';

export interface BenchResult {
  readonly bench: string;
  readonly value: number;
  readonly unit: string;
  readonly baseline: number;
}

/** Progress and info: stderr only (stdout carries nothing but result lines). */
export function info(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

/** Rounds to 4 significant digits (at least integers stay integers), so the lines stay readable. */
export function round(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const digits = Math.max(0, 3 - Math.floor(Math.log10(Math.abs(x))));
  return Number(x.toFixed(Math.min(digits, 6)));
}

/** One result line on stdout. `ratio` is always value / baseline. */
export function emit(result: BenchResult): void {
  const line = {
    bench: result.bench,
    value: round(result.value),
    unit: result.unit,
    baseline: round(result.baseline),
    ratio: round(result.value / result.baseline),
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Nearest-rank percentile (p in 0..100). */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length)));
  return s[rank - 1] as number;
}

export function fmt(x: number): string {
  return x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toPrecision(3);
}

// ------------------------------------------------------------------ temp folders

const live = new Set<string>();

/** A fresh folder under `SPIVE_BENCH_DIR` (default: the OS temp dir); removed by `removeTemp`/at exit. */
export function makeTemp(label: string): string {
  const base = process.env.SPIVE_BENCH_DIR ?? tmpdir();
  const dir = mkdtempSync(join(base, `spive-bench-${label}-`));
  live.add(dir);
  return dir;
}

export function removeTemp(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  live.delete(dir);
}

export function removeAllTemps(): void {
  for (const dir of [...live]) removeTemp(dir);
}

/** Total bytes of the files directly in `dir` whose names match `pattern`. */
export function bytesIn(dir: string, pattern: RegExp = /./): number {
  let total = 0;
  for (const name of readdirSync(dir)) if (pattern.test(name)) total += statSync(join(dir, name)).size;
  return total;
}

/** Total bytes of every file under `dir`, recursively (0 when it does not exist). */
export function bytesUnder(dir: string): number {
  let total = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) total += e.isDirectory() ? bytesUnder(join(dir, e.name)) : statSync(join(dir, e.name)).size;
  return total;
}

// ------------------------------------------------------------------ synthetic events

export const STREAM = 'transfers';
const T0 = 1_700_000_000_000;
const CURRENCIES = ['EUR', 'USD', 'GBP'];
const MEMOS = ['salary', 'rent', 'groceries', 'refund', 'transfer'];

/**
 * Event number `n` of a synthetic history: one top-level numeric field (`amount`) and three short
 * strings. Its WAL encoding `[time,"Deposited",{…}]` is about 97 bytes, so a batch of 100 costs about
 * 10 KB of WAL.
 */
export function makeEvent(n: number, account: number): NewEvent {
  return {
    type: 'Deposited',
    time: T0 + n,
    data: {
      amount: (n % 100_003) / 100,
      currency: CURRENCIES[n % 3] as string,
      account: `acc-${account}`,
      memo: MEMOS[n % 5] as string,
    },
  };
}

export function makeBatch(first: number, size: number, account: number): NewEvent[] {
  const events = new Array<NewEvent>(size);
  for (let i = 0; i < size; i++) events[i] = makeEvent(first + i, account);
  return events;
}

/** Gives the event loop a turn (lets pending I/O callbacks and GC-friendly gaps happen between phases). */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Reads the first `bytes` of a file into `into`, a buffer the caller allocates once: the raw baselines
 * read as the store's scans do (a fresh buffer per read costs more than the read itself).
 */
export async function readInto(path: string, into: Uint8Array, bytes: number): Promise<void> {
  const handle = await open(path, 'r');
  try {
    for (let done = 0; done < bytes; ) {
      const { bytesRead } = await handle.read(into, done, bytes - done, done);
      if (bytesRead === 0) throw new Error(`${path}: ${done} bytes, expected ${bytes}`);
      done += bytesRead;
    }
  } finally {
    await handle.close();
  }
}
