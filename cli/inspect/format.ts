/** How times and events read on screen: simulated seconds for a trace, UTC times for a store. */
import type { InspectEvent, SourceInfo } from './types.ts';

export function formatTime(info: Pick<SourceInfo, 'kind'>, ms: number): string {
  if (info.kind === 'trace') return `${(ms / 1000).toFixed(3)} s`;
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

/** A duration, in the unit that keeps it short. */
export function formatSpan(ms: number): string {
  if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`;
  if (ms < 1000) return `${ms.toPrecision(3)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toPrecision(3)} s`;
  if (ms < 7_200_000) return `${(ms / 60_000).toPrecision(3)} min`;
  if (ms < 172_800_000) return `${(ms / 3_600_000).toPrecision(3)} h`;
  return `${(ms / 86_400_000).toPrecision(3)} d`;
}

/** One line naming an event: where it is, what it is. */
export function eventLine(info: Pick<SourceInfo, 'kind'>, e: InspectEvent): string {
  const where = e.stream === '' ? (e.key === '' ? '' : ` key ${e.key}`) : ` ${e.stream}/${e.key}@${e.position}`;
  const who = e.actor === '' || e.actor === e.lane ? '' : ` (${e.actor})`;
  return `${formatTime(info, e.timeMs)}  ${e.kind}${where}${who}  ${e.detail}`;
}

export function fitWidth(text: string, width: number): string {
  if (width <= 0) return '';
  return text.length <= width ? text.padEnd(width) : `${text.slice(0, Math.max(0, width - 1))}…`;
}
