/**
 * `postgres://…` store locations: the connection string pg understands, plus Spive's own `schema`
 * parameter (default `spive`), which pg must not see. One database can hold several stores, one per
 * schema (tests use a fresh schema each and drop it afterwards).
 */
import { InvalidInputError } from '../../model/errors.ts';

export const DEFAULT_SCHEMA = 'spive';

/** Lowercase so it never needs quoting surprises; short so derived names stay under PostgreSQL's 63 bytes. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,47}$/;

export interface PostgresLocation {
  /** What pg connects with (the URL without `schema`). */
  readonly connectionString: string;
  readonly schema: string;
  /** `host:port/database`, for messages: never the password. */
  readonly server: string;
  /** The store's `location`: the URL without credentials. */
  readonly display: string;
}

export function parsePostgresLocation(text: string, field = '--store'): PostgresLocation {
  const expected = 'postgres://[user@]host[:port]/database[?schema=<name>]';
  if (typeof text !== 'string' || !/^postgres(ql)?:\/\//.test(text)) throw new InvalidInputError(field, expected, text);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidInputError(field, expected, redact(text));
  }
  if (url.hostname === '') throw new InvalidInputError(field, `${expected} with a host`, redact(text));
  const schema = url.searchParams.get('schema') ?? DEFAULT_SCHEMA;
  if (!SCHEMA_NAME.test(schema)) {
    throw new InvalidInputError(`${field} schema`, 'a schema name of lowercase letters, digits and _ (1-48 chars, not starting with a digit)', schema);
  }
  url.searchParams.delete('schema');
  const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || '(default database)';
  const server = `${url.hostname}:${url.port || '5432'}/${database}`;
  return {
    connectionString: url.href,
    schema,
    server,
    display: `postgres://${url.username ? `${url.username}@` : ''}${url.host}${url.pathname}?schema=${schema}`,
  };
}

/** The URL with its password blanked, for error messages. */
function redact(text: string): string {
  return text.replace(/(\/\/[^:/@]*:)[^@/]*@/, '$1***@');
}

/** A schema name as a quoted SQL identifier (already restricted to safe characters). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
