/**
 * Store locations, as the CLI and apps name them: `memory:`, `file:<dir>` or a plain path (the
 * embedded store), `postgres://…` and `nats://…`.
 */
import { InvalidInputError } from '../model/errors.ts';
import type { EventStore } from './event-store.ts';
import { EmbeddedStore, type EmbeddedStoreOptions } from './embedded/embedded-store.ts';
import { MemoryStore, type MemoryStoreOptions } from './memory/memory-store.ts';
import { parseNatsLocation } from './nats/nats-location.ts';
import { NatsStore } from './nats/nats-store.ts';
import { PostgresStore } from './postgres/postgres-store.ts';

/** Where the embedded store lives when no location is given. */
export const DEFAULT_STORE_LOCATION = './.spive';

export type StoreLocation =
  | { readonly kind: 'memory' }
  | { readonly kind: 'embedded'; readonly dir: string }
  | { readonly kind: 'postgres'; readonly url: string }
  | { readonly kind: 'nats'; readonly url: string };

export function parseStoreLocation(text: string, field = '--store'): StoreLocation {
  if (typeof text !== 'string' || text.trim() === '') {
    throw new InvalidInputError(field, 'a store location: a path, file:<dir>, memory:, postgres://… or nats://…', text);
  }
  if (text === 'memory:') return { kind: 'memory' };
  if (text.startsWith('file:')) {
    const dir = text.slice('file:'.length).replace(/^\/\/(?=\/)/, '');
    if (dir === '') throw new InvalidInputError(field, 'file:<dir> with a folder', text);
    return { kind: 'embedded', dir };
  }
  if (/^postgres(ql)?:\/\//.test(text)) return { kind: 'postgres', url: text };
  if (text.startsWith('nats://')) return { kind: 'nats', url: text };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    throw new InvalidInputError(field, 'a path, file:<dir>, memory:, postgres://… or nats://…', text);
  }
  return { kind: 'embedded', dir: text };
}

export interface OpenStoreOptions extends EmbeddedStoreOptions, MemoryStoreOptions {}

export async function openStore(location: string | StoreLocation, options: OpenStoreOptions = {}): Promise<EventStore> {
  const parsed = typeof location === 'string' ? parseStoreLocation(location) : location;
  switch (parsed.kind) {
    case 'memory':
      return new MemoryStore(options);
    case 'embedded':
      return EmbeddedStore.open(parsed.dir, options);
    case 'postgres':
      return PostgresStore.open(parsed.url, { clock: options.clock });
    case 'nats':
      return NatsStore.open(parseNatsLocation(parsed.url), { clock: options.clock });
  }
}
