/**
 * Brings a schema up to the newest migration. Safe when several processes open the same store at
 * once: a session advisory lock (keyed by the schema name) lets one migrate while the others wait,
 * then find nothing left to do. Each migration runs in its own transaction together with the row
 * that records it, so a crash leaves it either applied and recorded, or neither.
 */
import type pg from 'pg';
import { SpiveError } from '../../model/errors.ts';
import { quoteIdent } from './location.ts';
import { MIGRATIONS, type Migration } from './migrations.ts';

export interface MigrationReport {
  /** Versions applied by this call, in order (empty when the schema was current). */
  readonly applied: readonly number[];
  /** The schema's version afterwards. */
  readonly version: number;
}

export async function migrate(client: pg.ClientBase, schema: string, migrations: readonly Migration[] = MIGRATIONS): Promise<MigrationReport> {
  const s = quoteIdent(schema);
  const lockKey = `spive.migrate:${schema}`;
  await client.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [lockKey]);
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.migrations (
         version    integer     PRIMARY KEY,
         name       text        NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const rows = await client.query<{ version: number }>(`SELECT version FROM ${s}.migrations ORDER BY version`);
    const done = new Set(rows.rows.map((r) => Number(r.version)));
    const newest = migrations.reduce((m, x) => Math.max(m, x.version), 0);
    const unknown = [...done].filter((v) => v > newest);
    if (unknown.length > 0) {
      throw new SpiveError(
        'INVALID_INPUT',
        `the store in schema ${schema} is at version ${Math.max(...unknown)}, newer than this Spive knows (${newest}): upgrade Spive`,
        { schema, version: Math.max(...unknown), known: newest },
      );
    }
    const applied: number[] = [];
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql(s, schema));
        await client.query(`INSERT INTO ${s}.migrations (version, name) VALUES ($1, $2)`, [m.version, m.name]);
        await client.query('COMMIT');
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw e;
      }
      applied.push(m.version);
    }
    return { applied, version: Math.max(newest, ...done) };
  } finally {
    await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [lockKey]).catch(() => undefined);
  }
}

/** `migrate` on a connection of `pool`, released afterwards (what every opener of a schema runs first). */
export async function migratePool(pool: pg.Pool, schema: string): Promise<MigrationReport> {
  const client = await pool.connect();
  try {
    return await migrate(client, schema);
  } finally {
    client.release();
  }
}
