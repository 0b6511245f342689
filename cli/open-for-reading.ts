/** Opening any store to read it from a command: an embedded one read-only (so a store `spive run` holds can be read). */
import type { EventStore } from '../src/store/event-store.ts';
import { EmbeddedStore } from '../src/store/embedded/embedded-store.ts';
import { openStore, parseStoreLocation } from '../src/store/open-store.ts';
import { UsageError } from './exit-codes.ts';

/** `field` names the flag or argument the location came from, for the error of a bad one. */
export async function openForReading(location: string, warn: (m: string) => void, field: string): Promise<EventStore> {
  const parsed = parseStoreLocation(location, field);
  if (parsed.kind === 'memory') throw new UsageError(`${field}: memory: is empty in a new process; give a path, file:<dir>, postgres://… or nats://…`);
  return parsed.kind === 'embedded' ? EmbeddedStore.open(parsed.dir, { readOnly: true, warn }) : openStore(parsed);
}
