/**
 * `spive inspect --summary`: the overview printed once as text (CI logs, pipes), or as one JSON
 * object with --json. Same lanes and glyphs as the interactive screen, without colour.
 */
import { formatSpan, formatTime } from './format.ts';
import { glyphs, MARKERS, RATE_LEGEND } from './strip.ts';
import type { TimelineData } from './timeline-data.ts';
import type { Category } from './types.ts';
import { fullWindow } from './view-state.ts';

export interface Summary {
  readonly source: string;
  readonly kind: 'trace' | 'store';
  readonly rows: number;
  readonly fromMs: number;
  readonly toMs: number;
  readonly lanes: Array<{ lane: string; events: number; counts: Partial<Record<Category, number>>; strip: string }>;
  readonly violations: Array<{ step: number; simulatedMs: number; invariant: string; message: string }>;
}

export async function summarize(data: TimelineData, width: number): Promise<Summary> {
  const labelWidth = Math.min(22, Math.max(8, ...data.lanes.map((l) => l.length + 1)));
  const columns = Math.max(10, width - labelWidth - 1);
  const strips = await data.strips(fullWindow(data.info), columns);
  const { byLane } = await data.totals();
  const violations = (await data.violations()).map((v) => ({ step: v.step, simulatedMs: v.timeMs, invariant: v.actor, message: v.detail }));
  return {
    source: data.info.path,
    kind: data.info.kind,
    rows: data.info.rows,
    fromMs: data.info.fromMs,
    toMs: data.info.toMs,
    lanes: strips.map((s) => ({ lane: s.lane, events: s.total, counts: byLane.get(s.lane) ?? {}, strip: glyphs(s).map((g) => g.char).join('') })),
    violations,
  };
}

export function summaryText(s: Summary, width: number): string[] {
  const info = { kind: s.kind };
  const labelWidth = Math.min(22, Math.max(8, ...s.lanes.map((l) => l.lane.length + 1)));
  const lines = [
    `${s.source} · ${s.kind} · ${s.rows.toLocaleString('en-US')} rows · ${formatTime(info, s.fromMs)} → ${formatTime(info, s.toMs)} (${formatSpan(s.toMs - s.fromMs)})`,
    '',
  ];
  for (const l of s.lanes) {
    const label = l.lane.length >= labelWidth ? `${l.lane.slice(0, labelWidth - 2)}…` : l.lane.padEnd(labelWidth);
    lines.push(`${label}│${l.strip}`);
  }
  lines.push('');
  const loud = MARKERS.map((m) => ({ m, n: s.lanes.reduce((sum, l) => sum + (l.counts[m.category] ?? 0), 0) })).filter((x) => x.n > 0);
  lines.push(loud.length === 0 ? 'no faults, crashes, lease changes, snapshots or violations' : loud.map((x) => `${x.m.char} ${x.m.category} ${x.n}`).join(' · '));
  lines.push(`markers: ${MARKERS.map((m) => `${m.char} ${m.category}`).join(', ')}; ${RATE_LEGEND.split(';')[0]}`);
  if (s.violations.length === 0) {
    lines.push('no violations');
  } else {
    lines.push(`${s.violations.length} violation(s); the first at step ${s.violations[0]?.step} (${formatTime(info, s.violations[0]?.simulatedMs ?? 0)}): ${s.violations[0]?.invariant}: ${s.violations[0]?.message}`);
  }
  return lines;
}
