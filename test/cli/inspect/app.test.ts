/** The inspector's screen for a small trace, through ink-testing-library: what a user would see. */
import { createElement } from 'react';
import { render } from 'ink-testing-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Inspector } from '../../../cli/inspect/app.tsx';
import { layout } from '../../../cli/inspect/screen.tsx';
import { openSource } from '../../../cli/inspect/sources.ts';
import type { TimelineData } from '../../../cli/inspect/timeline-data.ts';
import { fullWindow } from '../../../cli/inspect/view-state.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { plain, SMALL_TRACE_ROWS, writeSmallTrace } from './small-trace.ts';

const WIDTH = 100;
const HEIGHT = 30;
let dir: ReturnType<typeof tempDir>;
let path: string;

beforeAll(async () => {
  dir = tempDir('spive-inspect-');
  path = `${dir.path}/small.parquet`;
  await writeSmallTrace(path);
});
afterAll(() => dir.cleanup());

/** Renders the inspector and returns helpers that wait for the screen to show something. */
async function open() {
  const data = await openSource(path);
  const app = render(createElement(Inspector, { data, width: WIDTH, height: HEIGHT }));
  const screen = () => plain(app.lastFrame());
  const until = async (test: (s: string) => boolean, what: string) => {
    for (let i = 0; i < 200; i++) {
      if (test(screen())) return screen();
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`the screen never showed ${what}:\n${screen()}`);
  };
  const press = async (keys: string, test: (s: string) => boolean, what: string) => {
    app.stdin.write(keys);
    return until(test, what);
  };
  await until((s) => s.includes('violations'), 'its lanes');
  return { data, app, screen, until, press, close: async () => { app.unmount(); await data.close(); } };
}

function laneLine(screen: string, lane: string): string {
  const line = screen.split('\n').find((l) => l.startsWith(`${lane} `));
  if (line === undefined) throw new Error(`no lane ${lane} on the screen:\n${screen}`);
  return line;
}

/** The strip column an event at `timeMs` falls in, on the overview of the small trace. */
function columnOf(data: TimelineData, timeMs: number): number {
  const l = layout(WIDTH, HEIGHT, data.lanes);
  const w = fullWindow(data.info);
  return Math.floor(((timeMs - w.fromMs) / (w.toMs - w.fromMs)) * l.columns);
}

function stripOf(data: TimelineData, line: string): string {
  return [...line].slice(layout(WIDTH, HEIGHT, data.lanes).labelWidth + 1).join('');
}

describe('spive inspect, the screen', () => {
  it('shows one row per stream, runner, fault and violation lane, streams first', async () => {
    const ui = await open();
    try {
      const labels = ui.screen().split('\n').map((l) => l.split('│')[0]?.trim()).filter((l) => l !== undefined);
      const order = ['stream ledger', 'stream transfers', 'ledger-b', 'faults', 'violations'].map((lane) => labels.indexOf(lane));
      expect(order.every((i) => i >= 0), ui.screen()).toBe(true);
      expect([...order].sort((a, b) => a - b)).toEqual(order);
      expect(ui.screen()).toContain(`${SMALL_TRACE_ROWS.length} rows`);
      expect(ui.screen()).toContain('overview');
    } finally {
      await ui.close();
    }
  });

  it('puts each marker in the column of its time: the violation, the crash, the catch-up phase', async () => {
    const ui = await open();
    try {
      const violations = stripOf(ui.data, laneLine(ui.screen(), 'violations'));
      expect(violations.indexOf('!')).toBe(columnOf(ui.data, 750));
      expect(violations.replace('!', '').trim()).toBe('');
      const faults = stripOf(ui.data, laneLine(ui.screen(), 'faults'));
      expect(faults.indexOf('X')).toBe(columnOf(ui.data, 500));
      // The runner starts at 100 ms (marker ^) and is in catch-up (·) until it goes live at 600 ms.
      const runner = stripOf(ui.data, laneLine(ui.screen(), 'ledger-b'));
      expect(runner.indexOf('^')).toBe(columnOf(ui.data, 100));
      expect(runner[columnOf(ui.data, 300)]).toBe('·');
      expect(runner[columnOf(ui.data, 800)] ?? ' ').toBe(' '); // ink trims trailing blanks
    } finally {
      await ui.close();
    }
  });

  it('shows the selected event with its input, its effects, and follows the chain with Enter and Backspace', async () => {
    const ui = await open();
    try {
      // The first lane is `stream ledger`: ] selects its first event, the output of transfers/acct-1.
      let s = await ui.press(']', (x) => x.includes('▶ 0.250 s  append ledger/acct-1@2') && x.includes('effects:   performed'), 'the ledger append selected');
      expect(s).toMatch(/← input: +0\.000 s {2}append transfers\/acct-1@1 \(ingress\) {2}1 Deposited/);
      expect(s).toMatch(/effects: +performed: did notifications \{"account":"acct-1"\}/);
      s = await ui.press('\r', (x) => x.includes('▶ 0.000 s  append transfers/acct-1@1') && x.includes('→ outputs: 0'), 'the input selected after Enter');
      expect(s).toMatch(/→ outputs: 0\.250 s {2}append ledger\/acct-1@2/);
      expect(s).toMatch(/cell stream transfers/);
      await ui.press('\x7f', (x) => x.includes('cell stream ledger'), 'the ledger lane again after Backspace');
    } finally {
      await ui.close();
    }
  });

  it('filters with / and steps through the matches with n', async () => {
    const ui = await open();
    try {
      await ui.press('/', (x) => x.includes('Enter applies'), 'the filter prompt');
      ui.app.stdin.write('key:acct-2');
      await ui.until((x) => x.includes('/key:acct-2'), 'the typed filter');
      const s = await ui.press('\r', (x) => x.includes('1 of 8 rows match') && x.includes('▶'), 'the filter applied');
      // Only the lane with a match is left, and its one event is selected.
      expect(s).toContain('stream transfers');
      expect(s).not.toContain('stream ledger');
      expect(s).not.toMatch(/^violations/m);
      expect(s).toContain('▶ 1.000 s  append transfers/acct-2@3');
      expect(stripOf(ui.data, laneLine(s, 'stream transfers')).trim().length).toBe(1);
      await ui.press('N', (x) => x.includes('no earlier match'), 'the end of the matches');
    } finally {
      await ui.close();
    }
  });

  it('steps from the event under the cursor when n or N comes before its lookup finished (G then N at once)', async () => {
    const ui = await open();
    try {
      await ui.press('/', (x) => x.includes('Enter applies'), 'the filter prompt');
      ui.app.stdin.write('kind:append');
      await ui.until((x) => x.includes('/kind:append'), 'the typed filter');
      await ui.press('\r', (x) => x.includes('3 of 8 rows match') && x.includes('▶ 0.000 s  append transfers/acct-1@1'), 'the first match selected');
      // One chunk: N is handled right after G moved the cursor, before the end's event was looked up.
      // From the last event (transfers/acct-2@3 at 1 s) the match before it is the ledger's.
      await ui.press('GN', (x) => x.includes('▶ 0.250 s  append ledger/acct-1@2'), 'the match before the last one');
      expect(ui.screen()).not.toContain('no earlier match');
    } finally {
      await ui.close();
    }
  });

  it('jumps to the first violation with v, zooms with + and shows the key map with ?', async () => {
    const ui = await open();
    try {
      let s = await ui.press('v', (x) => x.includes('▶ 0.750 s  violation'), 'the violation selected');
      expect(s).toContain('acct-2 is at -5');
      const crash = stripOf(ui.data, laneLine(s, 'faults')).indexOf('X');
      // Zooming in keeps the violation under the cursor while the window halves around it: the crash moves.
      s = await ui.press('+', (x) => x.includes('zoom 2x') && stripOf(ui.data, laneLine(x, 'faults')).indexOf('X') !== crash, 'zoom 2x');
      expect(s).toContain('(500 ms)');
      const cursor = [...(s.split('\n')[1] as string)].indexOf('▼') - layout(WIDTH, HEIGHT, ui.data.lanes).labelWidth - 1;
      expect(stripOf(ui.data, laneLine(s, 'violations')).indexOf('!')).toBe(cursor);
      s = await ui.press('?', (x) => x.includes('markers'), 'the key map');
      expect(s).toMatch(/Enter +follow the causal chain/);
      await ui.press('\x1b', (x) => x.includes('violations'), 'the lanes again');
    } finally {
      await ui.close();
    }
  });
});
