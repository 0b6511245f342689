/* @jsxRuntime automatic @jsxImportSource react -- the JSX transform must not depend on the tsconfig of the user's working directory (tsx reads the nearest one). */
/**
 * The inspector's screen parts, presentational only (all data comes in as props): the header, the
 * time axis with the cursor, the lanes, the detail pane, the key map and the footer.
 */
import { basename } from 'node:path';
import { Box, Text } from 'ink';
import { eventLine, fitWidth, formatSpan, formatTime } from './format.ts';
import { KEYMAP } from './keymap.ts';
import { glyphs, MARKERS, RATE_LEGEND, spans } from './strip.ts';
import type { CausalChain, InspectEvent, LaneStrip, SourceInfo } from './types.ts';
import type { View } from './view-state.ts';

export interface Layout {
  readonly width: number;
  readonly labelWidth: number;
  readonly columns: number;
  readonly laneRows: number;
}

/** Lines the screen spends on things other than lanes: header, axis, separator, detail (6), footer. */
export const FIXED_LINES = 10;

export function layout(width: number, height: number, lanes: readonly string[]): Layout {
  const labelWidth = Math.min(22, Math.max(8, ...lanes.map((l) => l.length + 1)));
  return { width, labelWidth, columns: Math.max(10, width - labelWidth - 1), laneRows: Math.max(3, height - FIXED_LINES) };
}

export function Header(props: { info: SourceInfo; view: View; layout: Layout; matches: number; filter: string | undefined; busy: boolean }) {
  const { info, view } = props;
  const span = view.window.toMs - view.window.fromMs;
  const full = Math.max(info.toMs - info.fromMs, 1) * 1.0001;
  const zoom = full / span < 1.01 ? 'overview' : `zoom ${Math.round(full / span)}x`;
  const rows = props.filter === undefined ? `${info.rows.toLocaleString('en-US')} rows` : `${props.matches.toLocaleString('en-US')} of ${info.rows.toLocaleString('en-US')} rows match`;
  const text = `${basename(info.path)} · ${zoom} · ${formatTime(info, view.window.fromMs)} → ${formatTime(info, view.window.toMs)} (${formatSpan(span)}) · ${rows}${props.busy ? ' · …' : ''}`;
  return <Text bold>{fitWidth(text, props.layout.width)}</Text>;
}

export function Axis(props: { info: SourceInfo; view: View; layout: Layout }) {
  const { layout: l, view } = props;
  const colMs = (view.window.toMs - view.window.fromMs) / l.columns;
  const at = formatTime(props.info, view.window.fromMs + view.cursor * colMs);
  const rule = Array.from({ length: l.columns }, (_, c) => (c === view.cursor ? '▼' : c % 10 === 0 ? '┬' : '─')).join('');
  return (
    <Text>
      <Text dimColor>{fitWidth(`@ ${at}`, l.labelWidth)}</Text>
      <Text dimColor>┌</Text>
      <Text color="white">{rule}</Text>
    </Text>
  );
}

export function Lanes(props: { strips: readonly LaneStrip[]; view: View; layout: Layout }) {
  const { layout: l, view } = props;
  // Keep the selected lane in view: scroll by whole pages of lanes.
  const first = Math.floor(view.lane / l.laneRows) * l.laneRows;
  const shown = props.strips.slice(first, first + l.laneRows);
  return (
    <Box flexDirection="column">
      {shown.map((strip, i) => {
        const selected = first + i === view.lane;
        const gs = glyphs(strip);
        const before = spans(gs.slice(0, view.cursor));
        const under = gs[view.cursor];
        const after = spans(gs.slice(view.cursor + 1));
        return (
          <Text key={strip.lane}>
            <Text inverse={selected} bold={selected}>{fitWidth(strip.lane, l.labelWidth)}</Text>
            <Text dimColor>│</Text>
            {before.map((s, j) => (<Text key={`b${j}`} color={s.colour}>{s.text}</Text>))}
            {under === undefined ? null : <Text color={under.colour} inverse={selected}>{under.char === ' ' && selected ? ' ' : under.char}</Text>}
            {after.map((s, j) => (<Text key={`a${j}`} color={s.colour}>{s.text}</Text>))}
          </Text>
        );
      })}
      {props.strips.length > l.laneRows ? <Text dimColor>{fitWidth(`lanes ${first + 1}-${first + shown.length} of ${props.strips.length} (↑↓ to scroll)`, l.width)}</Text> : null}
    </Box>
  );
}

export function Detail(props: { info: SourceInfo; lane: string | undefined; cell: string; selected: InspectEvent | undefined; chain: CausalChain | undefined; layout: Layout }) {
  const { info, selected, chain, layout: l } = props;
  const lines: Array<{ text: string; colour?: 'red' | 'yellow' | 'cyan' | 'green' | 'gray' }> = [];
  lines.push({ text: `cell ${props.lane ?? '-'} · ${props.cell}`, colour: 'gray' });
  if (selected === undefined) {
    lines.push({ text: 'no event under the cursor in this lane (] / [ find the next / previous one)' });
  } else {
    lines.push({ text: `▶ ${eventLine(info, selected)}`, ...(selected.kind === 'violation' || selected.kind.startsWith('fault.') ? { colour: 'red' as const } : {}) });
    lines.push({ text: `  step ${selected.step} · lane ${selected.lane} · actor ${selected.actor || '-'}${selected.position > 0 ? ` · position ${selected.position}${selected.count > 1 ? `..${selected.position + selected.count - 1}` : ''}` : ''}${selected.cause > 0 ? ` · input #${selected.cause}` : ''}` });
    if (chain === undefined) {
      // Still loading: say so rather than show an empty chain.
      for (const label of ['← input:  ', '→ outputs:', 'effects:  ']) lines.push({ text: `  ${label} …`, colour: 'gray' });
    } else {
      const input = chain.input;
      lines.push({ text: `  ← input:   ${input === undefined ? (selected.cause > 0 ? `#${selected.cause} (not in this source)` : '-') : `${eventLine(info, input)}   [Enter]`}` });
      const outputs = chain.outputs;
      lines.push({ text: `  → outputs: ${outputs.length === 0 ? '-' : `${eventLine(info, outputs[0] as InspectEvent)}${outputs.length > 1 ? ` (+${outputs.length - 1} more)` : ''}   [o]`}` });
      const effects = chain.effects;
      lines.push({ text: `  effects:   ${effects.length === 0 ? '-' : effects.map((e) => `${e.kind === 'effect.suppressed' ? 'suppressed' : 'performed'}: ${e.detail}`).join(' | ')}`, ...(effects.some((e) => e.kind === 'effect.suppressed') ? { colour: 'cyan' as const } : {}) });
    }
  }
  while (lines.length < 6) lines.push({ text: '' });
  return (
    <Box flexDirection="column">
      <Text dimColor>{'─'.repeat(l.width)}</Text>
      {lines.slice(0, 6).map((line, i) => (
        <Text key={i} color={line.colour}>{fitWidth(line.text, l.width)}</Text>
      ))}
    </Box>
  );
}

export function Help(props: { layout: Layout }) {
  return (
    <Box flexDirection="column">
      <Text bold>keys</Text>
      {KEYMAP.map((k) => (
        <Text key={k.keys}>{fitWidth(`  ${k.keys.padEnd(16)} ${k.what}`, props.layout.width)}</Text>
      ))}
      <Text bold>markers</Text>
      {MARKERS.map((m) => (
        <Text key={m.char}>
          {'  '}
          <Text color={m.colour}>{m.char}</Text>
          {fitWidth(`  ${m.meaning}`, props.layout.width - 3)}
        </Text>
      ))}
      <Text>{fitWidth(`  ${RATE_LEGEND}`, props.layout.width)}</Text>
    </Box>
  );
}

export function Footer(props: { mode: 'normal' | 'filter' | 'help'; filterText: string; message: string; layout: Layout }) {
  if (props.mode === 'filter') return <Text>{fitWidth(`/${props.filterText}▏  (stream:S key:K type:T actor:A kind:K or text; Enter applies, Esc cancels)`, props.layout.width)}</Text>;
  const hint = props.mode === 'help' ? '? or Esc closes the key map' : '? keys · / filter · n N matches · v violation · Enter input · o output · q quit';
  return <Text inverse>{fitWidth(props.message === '' ? hint : props.message, props.layout.width)}</Text>;
}
