/**
 * `nats://[user:password@]host[:port][?prefix=<name>]`: where a NATS JetStream store is. `prefix`
 * (default `spive`) names the JetStream stream, KV bucket and subjects of the store (nats-layout.ts),
 * so one server holds many stores; tests use a fresh prefix each.
 */
import { InvalidInputError } from '../../model/errors.ts';
import { PREFIX_PATTERN } from './nats-layout.ts';

export const DEFAULT_NATS_PORT = 4222;
export const DEFAULT_PREFIX = 'spive';

export interface NatsLocation {
  /** `host:port`, as the NATS client takes it. */
  readonly server: string;
  readonly prefix: string;
  readonly user?: string;
  readonly pass?: string;
}

const EXPECTED = 'nats://host[:port][?prefix=<letters, digits, _ or ->]';

export function parseNatsLocation(text: string, field = '--store'): NatsLocation {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidInputError(field, EXPECTED, text);
  }
  if (url.protocol !== 'nats:' || url.hostname === '') throw new InvalidInputError(field, EXPECTED, text);
  if (url.pathname !== '' && url.pathname !== '/') {
    throw new InvalidInputError(field, `${EXPECTED} (no path; name the store with ?prefix=)`, text);
  }
  for (const name of url.searchParams.keys()) {
    if (name !== 'prefix') throw new InvalidInputError(`${field} parameter ${name}`, 'only prefix=<name> is known', text);
  }
  const prefix = url.searchParams.get('prefix') ?? DEFAULT_PREFIX;
  if (!PREFIX_PATTERN.test(prefix)) {
    throw new InvalidInputError(`${field} parameter prefix`, 'letters, digits, _ or - (1-64 chars)', prefix);
  }
  const port = url.port === '' ? DEFAULT_NATS_PORT : Number(url.port);
  const location: NatsLocation = { server: `${url.hostname}:${port}`, prefix };
  if (url.username === '') return location;
  return { ...location, user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) };
}

/** The location as text, without the password (for `store.location` and messages). */
export function formatNatsLocation(location: NatsLocation): string {
  const user = location.user === undefined ? '' : `${encodeURIComponent(location.user)}@`;
  return `nats://${user}${location.server}?prefix=${location.prefix}`;
}
