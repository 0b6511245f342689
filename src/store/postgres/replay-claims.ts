/**
 * Replay shard tasks shared through PostgreSQL (`spive replay --workers-from postgres://…`): one row
 * per (job, phase, key) in `<schema>.replay_tasks`, claimed with `FOR UPDATE SKIP LOCKED` so that
 * replay processes on any number of machines take disjoint batches without waiting on each other.
 * A claim is held until `held_until` (the injected clock's time, as for leases) and renewed by its
 * holder while it works; a holder that dies lets its claims lapse and another process takes them over
 * (safe: a shard's replay continues what an interrupted one wrote, src/replay/fork.ts).
 */
import type pg from 'pg';
import { InvalidInputError } from '../../model/errors.ts';
import type { Random } from '../../random/random.ts';
import type { TaskClaims } from '../../replay/task-claims.ts';
import type { Clock } from '../../time/clock.ts';
import type { TimerHandle, Timers } from '../../time/timers.ts';
import { parsePostgresLocation, quoteIdent } from './location.ts';
import { migratePool } from './migrate.ts';
import { createPool } from './pool.ts';

export interface PostgresClaimsOptions {
  /** Names the replay (every process of one replay passes the same), e.g. the plan's hash. */
  readonly job: string;
  readonly clock: Clock;
  readonly timers: Timers;
  /** Draws this process's holder id (so two processes never share one). */
  readonly random: Random;
  /** How long a claim lasts without renewal (default 30 s); renewed every third of it. */
  readonly holdMs?: number;
  /** How often a process with nothing to claim looks again while others finish (default 500 ms). */
  readonly pollMs?: number;
}

export class PostgresTaskClaims implements TaskClaims {
  private readonly table: string;
  private readonly holder: string;
  private readonly holdMs: number;
  private readonly pollMs: number;
  private renewal: TimerHandle | undefined;
  private closed = false;

  private constructor(
    private readonly pool: pg.Pool,
    schema: string,
    private readonly o: PostgresClaimsOptions,
  ) {
    this.table = `${quoteIdent(schema)}.replay_tasks`;
    this.holder = `replay-${Math.floor(o.random.float() * 2 ** 48).toString(36)}`;
    this.holdMs = o.holdMs ?? 30_000;
    this.pollMs = o.pollMs ?? 500;
  }

  /** Connects to the store's database (`postgres://…?schema=`), migrating its schema (the task table is migration 3) if needed. */
  static async open(url: string, options: PostgresClaimsOptions): Promise<PostgresTaskClaims> {
    if (options.job === '') throw new InvalidInputError('job', 'a non-empty replay job name', options.job);
    const location = parsePostgresLocation(url, '--workers-from');
    const pool = createPool(location.connectionString, 2);
    const claims = new PostgresTaskClaims(pool, location.schema, options);
    try {
      // Under the migrations' advisory lock: processes starting together create the table once.
      await migratePool(pool, location.schema);
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw e;
    }
    return claims;
  }

  async offer(phase: string, keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 10_000) {
      await this.pool.query(`INSERT INTO ${this.table} (job, phase, key) SELECT $1, $2, unnest($3::text[]) ON CONFLICT DO NOTHING`, [this.o.job, phase, keys.slice(i, i + 10_000)]);
    }
  }

  async claim(phase: string, max: number): Promise<string[]> {
    for (;;) {
      const now = this.o.clock.nowMs();
      const taken = await this.pool.query<{ key: string }>(
        `UPDATE ${this.table} SET state = 'held', holder = $3, held_until = $4
         WHERE (job, phase, key) IN (
           SELECT job, phase, key FROM ${this.table}
           WHERE job = $1 AND phase = $2 AND (state = 'pending' OR (state = 'held' AND held_until < $5))
           ORDER BY key LIMIT $6 FOR UPDATE SKIP LOCKED)
         RETURNING key`,
        [this.o.job, phase, this.holder, now + this.holdMs, now, max],
      );
      if (taken.rows.length > 0) {
        this.keepRenewing();
        return taken.rows.map((r) => r.key).sort();
      }
      const left = await this.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${this.table} WHERE job = $1 AND phase = $2 AND state <> 'done'`, [this.o.job, phase]);
      if ((left.rows[0]?.n ?? 0) === 0) return [];
      await this.o.timers.sleep(this.pollMs); // others hold the rest: wait for them, or for their claims to lapse
    }
  }

  async done(phase: string, keys: readonly string[]): Promise<void> {
    await this.pool.query(`UPDATE ${this.table} SET state = 'done', holder = NULL, held_until = NULL WHERE job = $1 AND phase = $2 AND key = ANY($3::text[])`, [this.o.job, phase, [...keys]]);
  }

  /** Extends this process's claims every third of their hold time, for as long as it is open. */
  private keepRenewing(): void {
    if (this.renewal !== undefined || this.closed) return;
    this.renewal = this.o.timers.after(this.holdMs / 3, () => {
      this.renewal = undefined;
      if (this.closed) return;
      this.pool
        .query(`UPDATE ${this.table} SET held_until = $3 WHERE job = $1 AND holder = $2 AND state = 'held'`, [this.o.job, this.holder, this.o.clock.nowMs() + this.holdMs])
        .catch(() => undefined) // a failed renewal only risks a claim lapsing: another process then redoes the batch, safely
        .finally(() => this.keepRenewing());
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.renewal?.cancel();
    await this.pool.end();
  }
}
