/**
 * The timeline inspector (`spive inspect`) on a 10M-row trace.
 *
 * The trace is synthetic (test/cli/inspect/synthetic-trace.ts: the columns and mix of a real one,
 * written by DuckDB from range(N) into a temp folder, never committed), because a 10M-row simulation
 * would take minutes. The screen is the real one (cli/inspect/app.tsx) rendered by ink into
 * ink-testing-library's fake terminal at 120x40.
 *
 * - inspect.open.10m (ms; lower is better): from openSource(trace) to the first frame with the
 *   overview's lanes drawn (one aggregation pass over the Parquet file, then the overview from the
 *   aggregate). Median of 3, each with a fresh DuckDB instance; the file is in the page cache.
 * - inspect.keystroke.10m.p50 / .max (ms; lower is better): from a key written to the terminal to
 *   the last frame it caused, i.e. the screen complete: lanes, cursor, and the detail pane with the
 *   selected event's causal chain (every query the key caused answered). A fixed tour of 40 keys:
 *   zoom in 10 times (past the aggregate's resolution, so the deepest levels read the events in the
 *   window), move the cursor and pan, change lanes, step to the next event (with its causal chain),
 *   zoom out, jump to the ends and back to the overview.
 * - inspect.lanes.10m.p50 / .max (ms): the same keys, until the lanes and cursor show the new view
 *   (the detail pane may still be filling in).
 *
 * Baseline for both: the plainest DuckDB pass over the same file, `SELECT (simulated_ms * k)::INTEGER,
 * count(*) ... GROUP BY 1` (a time histogram) in a fresh instance, median of 3: opening costs about
 * one such pass; a keystroke should cost a small fraction of one.
 */
import { createElement } from 'react';
import { join } from 'node:path';
import { Duck, sqlString } from '../../analyzer/duckdb.ts';
import { fmt, info, makeTemp, median, percentile, removeTemp, type BenchResult } from './util.ts';
import { writeSyntheticTrace } from '../cli/inspect/synthetic-trace.ts';

const KEYS = ['+', '+', '+', 'l', 'l', 'j', ']', '+', '+', 'L', '+', '+', '+', 'h', 'j', ']', ']', 'k', '+', '+', 'H', 'l', '-', '-', '-', 'G', 'g', '-', '-', 'j', ']', '-', '-', '0', 'L', 'H', 'l', 'k', '+', '0'];

export async function inspectBench(rows: number, results: (r: BenchResult) => void): Promise<void> {
  const { render } = await import('ink-testing-library');
  const { Inspector } = await import('../../cli/inspect/app.tsx');
  const { openSource } = await import('../../cli/inspect/sources.ts');
  const dir = makeTemp('inspect');
  try {
    const path = join(dir, 'trace.parquet');
    let t = performance.now();
    await writeSyntheticTrace(path, rows);
    info(`inspect: wrote a ${fmt(rows)}-row trace in ${fmt((performance.now() - t) / 1000)} s`);

    const baselines: number[] = [];
    for (let i = 0; i < 3; i++) baselines.push(await histogramMs(path));
    const baseline = median(baselines);

    const opens: number[] = [];
    const keys: number[] = [];
    const laneTimes: number[] = [];
    for (let rep = 0; rep < 3; rep++) {
      t = performance.now();
      const data = await openSource(path);
      let drawn = 0;
      let drawnAt = 0;
      const app = render(createElement(Inspector, { data, width: 120, height: 40, onDrawn: () => { drawn++; drawnAt = performance.now(); } }));
      while (drawn === 0) await tick();
      opens.push(performance.now() - t);
      if (rep === 0) {
        // The keystroke tour, once (it starts from the overview the open just drew).
        for (const key of KEYS) {
          const before = app.lastFrame();
          const drawsBefore = drawn;
          const started = performance.now();
          app.stdin.write(key);
          const lastFrameAt = await settled(data, () => app.lastFrame(), before);
          keys.push(lastFrameAt - started);
          // Keys that change the window redraw the lanes from a query; the others (cursor, lane) at once.
          laneTimes.push(drawn > drawsBefore ? drawnAt - started : Math.min(lastFrameAt, firstChange) - started);
        }
        info(`inspect: last screen of the tour:\n${app.lastFrame()}`);
      }
      app.unmount();
      await data.close();
    }
    info(`inspect: open ${opens.map((x) => fmt(x)).join(', ')} ms; keys ${keys.map((x, i) => `${KEYS[i]} ${fmt(x)}/${fmt(laneTimes[i] as number)}`).join(', ')} ms (complete/lanes); baseline histogram ${fmt(baseline)} ms`);
    results({ bench: 'inspect.open.10m', value: median(opens), unit: 'ms', baseline });
    results({ bench: 'inspect.keystroke.10m.p50', value: median(keys), unit: 'ms', baseline });
    results({ bench: 'inspect.keystroke.10m.max', value: percentile(keys, 100), unit: 'ms', baseline });
    results({ bench: 'inspect.lanes.10m.p50', value: median(laneTimes), unit: 'ms', baseline });
    results({ bench: 'inspect.lanes.10m.max', value: percentile(laneTimes, 100), unit: 'ms', baseline });
  } finally {
    removeTemp(dir);
  }
}

/** A plain one-pass time histogram of the file in a fresh DuckDB instance. */
async function histogramMs(path: string): Promise<number> {
  const started = performance.now();
  const duck = await Duck.open(':memory:');
  try {
    await duck.rows(`SELECT (simulated_ms * 0.08)::INTEGER AS b, count(*) AS n FROM read_parquet(${sqlString(path)}) GROUP BY 1`);
  } finally {
    duck.close();
  }
  return performance.now() - started;
}

let firstChange = 0;

/**
 * Waits until the screen is complete after a key: no query pending and nothing new for QUIET_MS.
 * Returns when the last frame change happened (the quiet wait itself is not counted); records the
 * first frame change in `firstChange`.
 */
async function settled(data: { pending: number; queries: number }, frame: () => string | undefined, before: string | undefined): Promise<number> {
  const QUIET_MS = 60;
  let last = before;
  let lastChangeAt = performance.now();
  let quietSince = lastChangeAt;
  let queries = data.queries;
  firstChange = Number.POSITIVE_INFINITY;
  for (;;) {
    await tick();
    const now = performance.now();
    const f = frame();
    if (f !== last) {
      last = f;
      lastChangeAt = now;
      quietSince = now;
      firstChange = Math.min(firstChange, now);
    }
    if (data.queries !== queries || data.pending > 0) {
      queries = data.queries;
      quietSince = now;
    }
    if (now - quietSince > QUIET_MS) return lastChangeAt;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
