/** The per-process health table `spive run` shows: metrics the user never had to write. */
import type { PlatformStatus } from '../src/runtime/platform.ts';

export interface RateTracker {
  /** events/s per process since the previous call. */
  rates(status: PlatformStatus, nowMs: number): Map<string, number>;
}

export function rateTracker(): RateTracker {
  let previous: { at: number; counts: Map<string, number> } | undefined;
  return {
    rates(status, nowMs) {
      const counts = new Map(status.processes.map((p) => [p.process, p.eventsIn]));
      const rates = new Map<string, number>();
      for (const [name, count] of counts) {
        const before = previous?.counts.get(name);
        const dt = previous === undefined ? 0 : (nowMs - previous.at) / 1000;
        rates.set(name, before === undefined || dt <= 0 ? 0 : (count - before) / dt);
      }
      previous = { at: nowMs, counts };
      return rates;
    },
  };
}

export function formatStatus(status: PlatformStatus, rates: Map<string, number>, nowMs: number): string {
  const rows = [['process', 'version', 'mode', 'in', 'out', 'events/s', 'lag', 'shards', 'snapshots', 'note']];
  for (const p of status.processes) {
    const lag = p.watermark === null ? '-' : formatMs(Math.max(0, nowMs - p.watermark));
    rows.push([
      p.process,
      p.version,
      p.mode,
      String(p.eventsIn),
      String(p.eventsOut),
      String(Math.round(rates.get(p.process) ?? 0)),
      lag,
      String(p.shards),
      String(p.snapshotRounds),
      p.error ?? '',
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const lines = rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
  for (const g of status.gateways) {
    const overdue = g.overdueSinceMs === null ? '' : `  OVERDUE since ${new Date(g.overdueSinceMs).toISOString()} (${g.lastError})`;
    lines.push(`gateway ${g.name}: ${g.performed} performed, ${g.suppressed} suppressed in catch-up, ${g.retries} retries${overdue}`);
  }
  for (const i of status.ingress) lines.push(`ingress ${i.stream}: ${i.events} events, ${i.idleEvents} idle events`);
  return lines.join('\n');
}

function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)}m`;
  return `${(ms / 3_600_000).toFixed(1)}h`;
}
