/**
 * The PostgreSQL the tests use (`SPIVE_TEST_POSTGRES`, default the project machines' server) and
 * fresh schemas: each test gets its own and drops it afterwards, so tests run in parallel and leave
 * nothing behind.
 */
import pg from 'pg';

export const TEST_DATABASE_URL = process.env.SPIVE_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';

let counter = 0;

/** A schema name no other test (in this or another worker process) uses. */
export function freshSchema(label = 't'): string {
  counter++;
  return `spive_${label}_${process.pid}_${counter}`;
}

export function storeUrl(schema: string): string {
  return `${TEST_DATABASE_URL}?schema=${schema}`;
}

/** A plain client on the test database, for raw SQL. Callers end it. */
export async function rawClient(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  return client;
}

export async function dropSchema(schema: string): Promise<void> {
  const client = await rawClient();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}
