/** Connection settings shared by the store's pool and its LISTEN connection. */
import pg from 'pg';

const INT8_OID = 20;

/**
 * bigint columns (positions, seqs, times, tokens) as JS numbers: every value Spive stores is a safe
 * integer (validated on the way in), and pg's default (strings) would cost a conversion per field.
 */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? Number : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

export function clientConfig(connectionString: string): pg.ClientConfig {
  return { connectionString, types, application_name: 'spive', connectionTimeoutMillis: 10_000 };
}

export function createPool(connectionString: string, max: number): pg.Pool {
  const pool = new pg.Pool({ ...clientConfig(connectionString), max });
  // An idle connection dropped by the server must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  return pool;
}
