/** Fresh, uniquely named NATS stores for tests, dropped afterwards (the server is shared). */
import { randomUUID } from 'node:crypto';
import { SERVICES } from '../../helpers/services.ts';

export const NATS_SERVER = `${SERVICES.nats.host}:${SERVICES.nats.port}`;

/** A prefix no other test (or engineer) uses: `t-<uuid>`. */
export function freshPrefix(): string {
  return `t-${randomUUID().slice(0, 18)}`;
}

export function natsUrl(prefix: string): string {
  return `nats://${NATS_SERVER}?prefix=${prefix}`;
}
