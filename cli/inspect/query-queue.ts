/**
 * Queries to one DuckDB connection, one at a time (a connection runs one query; and closing must not
 * pull DuckDB from under a running one). Two rules keep the screen responsive while keys arrive
 * faster than answers: the lanes go first (lower `priority` runs first), and work for a view the
 * user has already left is dropped — a query of an older call in the same `slot` that has not
 * started yet is rejected with StaleQuery instead of run.
 */
import type { Duck } from '../../analyzer/duckdb.ts';

export class StaleQuery extends Error {
  override name = 'StaleQuery';
}

export function isStale(e: unknown): boolean {
  return e instanceof StaleQuery;
}

interface Job {
  readonly sql: string;
  /** Read the result as columns (DuckDB vectors) instead of row objects. */
  readonly asColumns: boolean;
  readonly priority: number;
  readonly slot: string | undefined;
  readonly generation: number;
  resolve(result: unknown): void;
  reject(e: unknown): void;
}

export class QueryQueue {
  private readonly jobs: Job[] = [];
  private running: Promise<void> | undefined;
  private readonly generations = new Map<string, number>();
  private closed = false;
  /** Queries issued so far, and those not yet answered (a benchmark watches them). */
  issued = 0;
  pending = 0;

  constructor(private readonly duck: Duck) {}

  /** Starts a new call in `slot`: queries of earlier calls in it that have not started are dropped. */
  begin(slot: string): number {
    const generation = (this.generations.get(slot) ?? 0) + 1;
    this.generations.set(slot, generation);
    return generation;
  }

  /** The result as columns (much faster than row objects for large results). */
  columns(sql: string): Promise<Record<string, unknown[]>> {
    return this.enqueue(sql, true, {}) as Promise<Record<string, unknown[]>>;
  }

  run<T extends Record<string, unknown>>(sql: string, options: { priority?: number; slot?: string; generation?: number } = {}): Promise<T[]> {
    return this.enqueue(sql, false, options) as Promise<T[]>;
  }

  private enqueue(sql: string, asColumns: boolean, options: { priority?: number; slot?: string; generation?: number }): Promise<unknown> {
    if (this.closed) return Promise.reject(new StaleQuery('the inspector is closing'));
    this.issued++;
    this.pending++;
    return new Promise<unknown>((resolve, reject) => {
      this.jobs.push({
        sql,
        asColumns,
        priority: options.priority ?? 1,
        slot: options.slot,
        generation: options.generation ?? 0,
        resolve,
        reject,
      });
      this.running ??= this.drain();
    });
  }

  /** Resolves once nothing is queued or running. */
  async idle(): Promise<void> {
    while (this.running !== undefined) await this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.idle();
  }

  private async drain(): Promise<void> {
    try {
      for (;;) {
        const job = this.next();
        if (job === undefined) return;
        try {
          if (job.slot !== undefined && job.generation < (this.generations.get(job.slot) ?? 0)) throw new StaleQuery(`superseded (${job.slot})`);
          job.resolve(job.asColumns ? (await this.duck.columns(job.sql)).columns : await this.duck.rows(job.sql));
        } catch (e) {
          job.reject(e);
        } finally {
          this.pending--;
        }
      }
    } finally {
      this.running = undefined;
    }
  }

  private next(): Job | undefined {
    if (this.jobs.length === 0) return undefined;
    let best = 0;
    for (let i = 1; i < this.jobs.length; i++) if ((this.jobs[i] as Job).priority < (this.jobs[best] as Job).priority) best = i;
    return this.jobs.splice(best, 1)[0];
  }
}
