/* @jsxRuntime automatic @jsxImportSource react -- the JSX transform must not depend on the tsconfig of the user's working directory (tsx reads the nearest one). */
/**
 * The interactive inspector: keys change the view (view-state.ts), effects fetch what the view needs
 * from the data layer (aggregates for the lanes, single rows for the detail pane) and the screen
 * parts draw it. Fetches are versioned so a slow answer for an old view never overwrites a newer one.
 */
import { Box, useApp, useInput, useStdout } from 'ink';
import { useEffect, useRef, useState } from 'react';
import { describeFilter, parseFilter } from './filter.ts';
import { formatTime } from './format.ts';
import { isStale } from './query-queue.ts';
import { actionFor, type Action } from './keymap.ts';
import { Axis, Detail, Footer, Header, Help, Lanes, layout } from './screen.tsx';
import { cellTotal } from './strip.ts';
import type { TimelineData } from './timeline-data.ts';
import type { CausalChain, InspectEvent, LaneStrip } from './types.ts';
import { cursorWindow, focus, moveCursor, moveLane, overview, pan, toEnd, zoom, type View } from './view-state.ts';

export interface InspectorProps {
  readonly data: TimelineData;
  /** Screen size; default: the terminal's, following resizes. */
  readonly width?: number;
  readonly height?: number;
  /** Called each time the lanes were redrawn for a new view (benchmarks and tests wait on it). */
  readonly onDrawn?: () => void;
}

type Mode = 'normal' | 'filter' | 'help';

export function Inspector(props: InspectorProps) {
  const { data } = props;
  const { exit } = useApp();
  const size = useTerminalSize();
  const width = props.width ?? size.width;
  const height = props.height ?? size.height;
  const [lanes, setLanes] = useState<string[]>(data.lanes);
  const l = layout(width, height, lanes);
  const [view, setView] = useState<View>(() => overview(data.info));
  // The latest view, also between renders: keys that arrive in one chunk ("jj]") each build on the last.
  const viewRef = useRef(view);
  const [strips, setStrips] = useState<LaneStrip[]>([]);
  const [selected, setSelected] = useState<InspectEvent | undefined>();
  // A jump (n, Enter, v, ...) selects an exact event; moving the cursor selects the first in the cell
  // (zooming keeps the selected event while it stays in the cursor's cell).
  const pinned = useRef<InspectEvent | undefined>(undefined);
  /** The lanes (a filter's result) the cursor's selection was looked up under. */
  const selectedUnder = useRef<string[] | undefined>(undefined);
  /** The view `selected` belongs to: a key pressed while the lookup for a newer view is in flight must not start from the old event. */
  const selectedFor = useRef<View | undefined>(undefined);
  // The chain of the event with this id (a chain shown next to another event would mislead).
  const [chainOf, setChainOf] = useState<{ id: number; chain: CausalChain } | undefined>();
  const chain = chainOf !== undefined && chainOf.id === selected?.id ? chainOf.chain : undefined;
  const [mode, setMode] = useState<Mode>('normal');
  const [filterText, setFilterText] = useState('');
  const [message, setMessage] = useState('');
  const [busy, setBusy] = useState(false);
  const [drawn, setDrawn] = useState(0);
  const history = useRef<View[]>([]);
  const version = useRef(0);
  const lane = lanes[view.lane];
  // What key handlers read: ink attaches a new handler only after a render commits, so a key that
  // arrives just after a state change would otherwise see the state before it.
  const latest = useRef({ mode, filterText, selected, chain, lanes });
  latest.current = { mode, filterText, selected, chain, lanes };

  // The lanes: one aggregate query per view.
  useEffect(() => {
    const mine = ++version.current;
    void data.strips(view.window, l.columns).then((s) => {
      if (mine !== version.current) return;
      setStrips(s);
      setDrawn((n) => n + 1);
    }, fail);
  }, [data, view.window.fromMs, view.window.toMs, l.columns, lanes]);

  useEffect(() => {
    if (drawn > 0) props.onDrawn?.();
  }, [drawn]);

  // The selected event: the pinned one, or the first of the selected lane in the cursor's cell.
  useEffect(() => {
    const p = pinned.current;
    if (p !== undefined) {
      selectedFor.current = view;
      setSelected(p);
      return;
    }
    const kept = keptSelection(view, l.columns, lanes);
    if (kept !== 'look up') {
      selectedFor.current = view;
      if (kept === undefined) setSelected(undefined);
      return;
    }
    let live = true;
    const under = lanes;
    void data.firstIn(lane as string, cursorWindow(view, l.columns)).then((e) => {
      if (!live) return;
      selectedUnder.current = under;
      selectedFor.current = view;
      setSelected(e);
    }, fail);
    return () => {
      live = false;
    };
  }, [data, lane, view.cursor, view.window.fromMs, view.window.toMs, l.columns, lanes]);

  useEffect(() => {
    if (selected === undefined) return;
    let live = true;
    const id = selected.id;
    void data.chain(selected).then((c) => live && setChainOf({ id, chain: c }), fail);
    return () => {
      live = false;
    };
  }, [data, selected?.id]);

  // A fetch for a view already left is dropped on purpose (query-queue.ts); anything else is shown.
  function fail(e: unknown): void {
    if (!isStale(e)) setMessage(`error: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
  }

  /**
   * What the cursor's selection is in `view` without a query: none (no lane), the current one (zooming
   * keeps the selected event while it stays under the cursor and the filter is the one it was chosen
   * under: no lookup, and its chain is already shown), or 'look up'.
   */
  function keptSelection(view: View, columns: number, lanes: string[]): InspectEvent | undefined | 'look up' {
    const lane = lanes[view.lane];
    if (lane === undefined) return undefined;
    const cell = cursorWindow(view, columns);
    const current = latest.current.selected;
    if (current !== undefined && selectedUnder.current === lanes && current.lane === lane && current.timeMs >= cell.fromMs && current.timeMs < cell.toMs) return current;
    return 'look up';
  }

  /** The selected event of the latest view: the one shown, or, while its lookup is still in flight, looked up now. */
  async function selectionNow(): Promise<InspectEvent | undefined> {
    const view = viewRef.current;
    if (selectedFor.current === view) return latest.current.selected;
    if (pinned.current !== undefined) return pinned.current;
    const { lanes } = latest.current;
    const columns = layout(width, height, lanes).columns;
    const kept = keptSelection(view, columns, lanes);
    // In the jump slot: the cursor's own lookup (the select slot) must not drop this one.
    return kept === 'look up' ? data.firstIn(lanes[view.lane] as string, cursorWindow(view, columns), 'jump') : kept;
  }

  const go = (next: View, pin?: InspectEvent) => {
    pinned.current = pin;
    viewRef.current = next;
    setView(next);
    if (pin !== undefined) {
      selectedFor.current = next;
      setSelected(pin);
    }
  };
  const jump = (e: InspectEvent | undefined, what: string) => {
    if (e === undefined) return setMessage(`no ${what}`);
    history.current.push(viewRef.current);
    go(focus(viewRef.current, layout(width, height, data.lanes).columns, e, data.lanes, data.info), e);
    setMessage('');
  };
  const run = (work: Promise<void>) => {
    setBusy(true);
    void work.catch(fail).finally(() => setBusy(false));
  };

  const act = (action: Action) => {
    const info = data.info;
    const view = viewRef.current;
    const lane = data.lanes[view.lane];
    const { mode } = latest.current;
    setMessage('');
    switch (action) {
      case 'quit': return exit();
      case 'help': return setMode(mode === 'help' ? 'normal' : 'help');
      case 'cursor-left': return go(moveCursor(view, l.columns, -1, info));
      case 'cursor-right': return go(moveCursor(view, l.columns, 1, info));
      case 'page-left': return go(pan(view, l.columns, -Math.floor(l.columns / 2), info));
      case 'page-right': return go(pan(view, l.columns, Math.floor(l.columns / 2), info));
      case 'zoom-in': return go(zoom(view, l.columns, 2, info));
      case 'zoom-out': return go(zoom(view, l.columns, 0.5, info));
      case 'start': return go(toEnd(view, l.columns, 'start', info));
      case 'end': return go(toEnd(view, l.columns, 'end', info));
      case 'overview': return go({ ...overview(info), lane: view.lane });
      case 'lane-up': return go(moveLane(view, -1, lanes.length));
      case 'lane-down': return go(moveLane(view, 1, lanes.length));
      case 'next-event':
      case 'previous-event': {
        if (lane === undefined) return;
        const dir = action === 'next-event' ? 1 : -1;
        return run(
          selectionNow().then(async (selected) => {
            const from = selected ?? ({ id: dir === 1 ? -1 : Number.MAX_SAFE_INTEGER, timeMs: cursorWindow(view, l.columns).fromMs } as InspectEvent);
            const e = await data.step(from, dir, lane);
            if (e === undefined) setMessage(`no ${dir === 1 ? 'later' : 'earlier'} event in ${lane}`);
            else go(focus(viewRef.current, l.columns, e, data.lanes, info), e);
          }),
        );
      }
      // The chain may still be loading for a fresh selection: ask for it (cached once fetched).
      case 'follow-input':
        return run(
          selectionNow().then(async (selected) => {
            if (selected === undefined) return setMessage('select an event first');
            const c = await data.chain(selected);
            setChainOf({ id: selected.id, chain: c });
            if (c.input !== undefined) return jump(c.input, 'input');
            setMessage(selected.cause > 0 ? `input #${selected.cause} is not in this source` : 'this event has no recorded input');
          }),
        );
      case 'follow-output':
        return run(
          selectionNow().then(async (selected) => {
            if (selected === undefined) return setMessage('select an event first');
            const c = await data.chain(selected);
            setChainOf({ id: selected.id, chain: c });
            jump(c.outputs[0] ?? c.effects[0], 'output of the selected event');
          }),
        );
      case 'back': {
        const previous = history.current.pop();
        if (previous === undefined) return setMessage('nothing to go back to');
        return go(previous);
      }
      case 'filter': {
        const text = data.activeFilter === undefined ? '' : describeFilter(data.activeFilter);
        latest.current = { ...latest.current, mode: 'filter', filterText: text };
        setFilterText(text);
        return setMode('filter');
      }
      case 'clear-filter':
        if (mode === 'help') return setMode('normal');
        if (data.activeFilter === undefined) return;
        // Clearing the filter keeps the selected event: the place found stays in view, among all lanes.
        return run(
          selectionNow().then(async (selected) => {
            await data.setFilter(undefined);
            setLanes([...data.lanes]);
            const columns = layout(width, height, data.lanes).columns;
            if (selected === undefined) go({ ...viewRef.current, lane: 0 });
            else go(focus(viewRef.current, columns, selected, data.lanes, info), selected);
          }),
        );
      case 'next-match':
      case 'previous-match': {
        if (data.activeFilter === undefined) return setMessage('no filter: press / to set one');
        return run(
          selectionNow().then(async (selected) => {
            const from = selected ?? ({ id: -1, timeMs: cursorWindow(view, l.columns).fromMs } as InspectEvent);
            jump(await data.step(from, action === 'next-match' ? 1 : -1), `${action === 'next-match' ? 'later' : 'earlier'} match`);
          }),
        );
      }
      case 'first-violation':
        return run(data.firstViolation().then((e) => jump(e, 'violation in this source')));
    }
  };

  useInput((input, key) => {
    if (latest.current.mode === 'filter') {
      if (key.escape || key.return) latest.current = { ...latest.current, mode: 'normal' };
      if (key.escape) return setMode('normal');
      if (key.return) {
        const filter = parseFilter(latest.current.filterText);
        setMode('normal');
        return run(
          data.setFilter(filter).then(async () => {
            setLanes([...data.lanes]);
            const first = filter === undefined ? undefined : await data.firstAfter(data.info.fromMs);
            setMessage(filter === undefined ? 'filter cleared' : `${data.matches.toLocaleString('en-US')} events match ${describeFilter(filter)} (n / N to step through them)`);
            // The lane labels may have changed width with the lanes: place the cursor on the new layout.
            if (first !== undefined) go(focus({ ...viewRef.current, lane: 0 }, layout(width, height, data.lanes).columns, first, data.lanes, data.info), first);
            else go({ ...viewRef.current, lane: 0 });
          }),
        );
      }
      const typed = key.backspace || key.delete ? latest.current.filterText.slice(0, -1) : input !== '' && !key.ctrl && !key.meta ? latest.current.filterText + input : undefined;
      if (typed !== undefined) {
        latest.current = { ...latest.current, filterText: typed };
        setFilterText(typed);
      }
      return;
    }
    const action = actionFor(input, key);
    if (action !== undefined) return act(action);
    // Several plain keys in one chunk (typed fast, or sent by a script): one action each.
    if (input.length > 1 && !key.ctrl && !key.meta) {
      for (const char of input) {
        const a = actionFor(char, { ...key, shift: char !== char.toLowerCase() });
        if (a !== undefined) act(a);
      }
    }
  });

  const cell = strips[view.lane]?.cells[view.cursor];
  const at = cursorWindow(view, l.columns);
  const cellText = `${formatTime(data.info, at.fromMs)} … ${formatTime(data.info, at.toMs)} · ${cell === undefined ? 0 : cellTotal(cell)} events${cell === undefined ? '' : describeCell(cell)}`;
  return (
    <Box flexDirection="column" width={width}>
      <Header info={data.info} view={view} layout={l} matches={data.matches} filter={data.activeFilter === undefined ? undefined : describeFilter(data.activeFilter)} busy={busy} />
      <Axis info={data.info} view={view} layout={l} />
      {mode === 'help' ? <Help layout={l} /> : <Lanes strips={strips} view={view} layout={l} />}
      <Detail info={data.info} lane={lane} cell={cellText} selected={selected} chain={chain} layout={l} />
      <Footer mode={mode} filterText={filterText} message={message} layout={l} />
    </Box>
  );
}

function describeCell(cell: Readonly<Record<string, number | undefined>>): string {
  const parts = Object.entries(cell).filter(([k, n]) => k !== 'event' && (n ?? 0) > 0).map(([k, n]) => `${n} ${k}`);
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`;
}

/** The terminal's size, following resize events (ink redraws on state change). */
function useTerminalSize(): { width: number; height: number } {
  const { stdout } = useStdout();
  const read = () => ({ width: stdout.columns ?? 100, height: stdout.rows ?? 30 });
  const [size, setSize] = useState(read);
  useEffect(() => {
    const onResize = () => setSize(read());
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout]);
  return size;
}
