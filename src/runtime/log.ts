/**
 * What the runtime tells the world: structured happenings (a runner went live, an effect was
 * suppressed, a retry became overdue). `spive run` prints them; the simulator records them in its
 * trace; tests collect them.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogEntry {
  readonly level: LogLevel;
  /** A stable kind, e.g. `runner.live`, `effect.suppressed`, `gateway.overdue`. */
  readonly kind: string;
  readonly message: string;
  readonly fields?: Readonly<Record<string, unknown>>;
}

export interface RuntimeLog {
  write(entry: LogEntry): void;
}

export const silentLog: RuntimeLog = { write: () => undefined };

/** Keeps every entry: for tests and for `spive run`'s recent-events pane. */
export class MemoryLog implements RuntimeLog {
  readonly entries: LogEntry[] = [];
  write(entry: LogEntry): void {
    this.entries.push(entry);
  }
  ofKind(kind: string): LogEntry[] {
    return this.entries.filter((e) => e.kind === kind);
  }
}
