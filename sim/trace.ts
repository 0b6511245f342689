/**
 * The trace of a run: one row per happening (scheduler step, committed append, fault, runtime log
 * entry, effect, violation), kept as columns. Its SHA-256 — over every row, in order (see
 * trace-hasher.ts) — is the run's fingerprint: the same seed must give the same hash, byte for byte.
 * `writeParquet` saves it for DuckDB and the inspector.
 */
import { TraceHasher } from './trace-hasher.ts';

export interface TraceRow {
  readonly step: number;
  readonly simulatedMs: number;
  readonly kind: string;
  readonly actor: string;
  readonly stream: string;
  readonly key: string;
  readonly position: number;
  readonly detail: string;
  /**
   * The global position of the input event this row came from (0: none): for an append of a process's
   * outputs, the input recorded in their `meta.in`; for an effect, the input that requested it. It is
   * what lets the inspector follow a causal chain.
   */
  readonly cause?: number;
}

export const TRACE_COLUMNS = ['step', 'simulated_ms', 'kind', 'actor', 'stream', 'key', 'position', 'detail', 'cause'] as const;

export class Trace {
  private readonly hasher = new TraceHasher();
  readonly steps: number[] = [];
  readonly times: number[] = [];
  readonly kinds: string[] = [];
  readonly actors: string[] = [];
  readonly streams: string[] = [];
  readonly keys: string[] = [];
  readonly positions: number[] = [];
  readonly details: string[] = [];
  readonly causes: number[] = [];

  constructor(private readonly keepRows: boolean) {}

  get length(): number {
    return this.keepRows ? this.steps.length : this.count;
  }
  private count = 0;

  add(row: TraceRow): void {
    this.addRow(row.step, row.simulatedMs, row.kind, row.actor, row.stream, row.key, row.position, row.detail, row.cause ?? 0);
  }

  /** `add`, field by field: no row object (one row per commit and per runtime log line). */
  addRow(step: number, simulatedMs: number, kind: string, actor: string, stream: string, key: string, position: number, detail: string, cause: number): void {
    this.count++;
    this.hasher.row(step, simulatedMs, kind, actor, stream, key, position, detail, cause);
    if (!this.keepRows) return;
    this.steps.push(step);
    this.times.push(simulatedMs);
    this.kinds.push(kind);
    this.actors.push(actor);
    this.streams.push(stream);
    this.keys.push(key);
    this.positions.push(position);
    this.details.push(detail);
    this.causes.push(cause);
  }

  /** A scheduler step: the same row as `add` makes of it, without the row object (one per step). */
  addStep(step: number, simulatedMs: number, label: string): void {
    this.count++;
    this.hasher.step(step, simulatedMs, label);
    if (!this.keepRows) return;
    this.steps.push(step);
    this.times.push(simulatedMs);
    this.kinds.push('step');
    this.actors.push(label);
    this.streams.push('');
    this.keys.push('');
    this.positions.push(0);
    this.details.push('');
    this.causes.push(0);
  }

  /** The fingerprint; call once, at the end. */
  digest(): string {
    return this.hasher.digest();
  }

  async writeParquet(path: string): Promise<void> {
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    try {
      await connection.run('CREATE TABLE trace (step BIGINT, simulated_ms DOUBLE, kind VARCHAR, actor VARCHAR, stream VARCHAR, key VARCHAR, position BIGINT, detail VARCHAR, cause BIGINT)');
      const appender = await connection.createAppender('trace');
      for (let i = 0; i < this.steps.length; i++) {
        appender.appendBigInt(BigInt(this.steps[i] as number));
        appender.appendDouble(this.times[i] as number);
        appender.appendVarchar(this.kinds[i] as string);
        appender.appendVarchar(this.actors[i] as string);
        appender.appendVarchar(this.streams[i] as string);
        appender.appendVarchar(this.keys[i] as string);
        appender.appendBigInt(BigInt(this.positions[i] as number));
        appender.appendVarchar(this.details[i] as string);
        appender.appendBigInt(BigInt(this.causes[i] as number));
        appender.endRow();
      }
      appender.closeSync();
      await connection.run(`COPY trace TO '${path.replaceAll("'", "''")}' (FORMAT parquet, COMPRESSION zstd)`);
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  }
}
