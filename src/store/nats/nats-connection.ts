/**
 * Opening a NATS JetStream store: connect, check that JetStream is on, and create the store's stream
 * and snapshot bucket if they do not exist yet (idempotently: several processes may open at once).
 */
import { DiscardPolicy, jetstream, jetstreamManager, JetStreamApiError, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { UnavailableError } from '../../model/errors.ts';
import type { NatsLayout } from './nats-layout.ts';
import type { NatsLocation } from './nats-location.ts';

export interface NatsHandles {
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  readonly js: JetStreamClient;
  readonly snapshots: KV;
  /** The server's largest message, in bytes (a batch must fit in one message). */
  readonly maxPayloadBytes: number;
}

/** JetStream's code for "stream not found". */
const STREAM_NOT_FOUND = 10059;
/** How long the server remembers a Nats-Msg-Id: retries within it are deduplicated. */
export const DUPLICATE_WINDOW_MS = 120_000;

export async function openNats(location: NatsLocation, layout: NatsLayout, connectTimeoutMs: number): Promise<NatsHandles> {
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: location.server,
      name: `spive:${layout.prefix}`,
      timeout: connectTimeoutMs,
      ...(location.user === undefined ? {} : { user: location.user, pass: location.pass ?? '' }),
    });
  } catch (e) {
    throw new UnavailableError(`NATS server ${location.server}`, `not reachable (${e instanceof Error ? e.message : String(e)})`);
  }
  try {
    let jsm: JetStreamManager;
    try {
      jsm = await jetstreamManager(nc);
    } catch (e) {
      throw new UnavailableError(`NATS server ${location.server}`, `JetStream is not available (start nats-server with -js): ${e instanceof Error ? e.message : String(e)}`);
    }
    await ensureEventsStream(jsm, layout);
    const snapshots = await new Kvm(nc).create(layout.snapshotsBucket, { history: 1, storage: StorageType.File });
    return { nc, jsm, js: jetstream(nc), snapshots, maxPayloadBytes: nc.info?.max_payload ?? 1024 * 1024 };
  } catch (e) {
    await nc.close().catch(() => undefined);
    throw e;
  }
}

async function ensureEventsStream(jsm: JetStreamManager, layout: NatsLayout): Promise<void> {
  const config = {
    name: layout.eventsStream,
    subjects: [...layout.streamSubjects],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    // Events are immutable and positions contiguous: the server refuses to delete or purge them.
    deny_delete: true,
    deny_purge: true,
    allow_direct: true,
    duplicate_window: DUPLICATE_WINDOW_MS * 1_000_000,
  };
  try {
    await jsm.streams.info(layout.eventsStream);
    return;
  } catch (e) {
    if (!(e instanceof JetStreamApiError && e.code === STREAM_NOT_FOUND)) throw e;
  }
  try {
    await jsm.streams.add(config);
  } catch (e) {
    // Another process created it between our info and add: fine if it exists now.
    await jsm.streams.info(layout.eventsStream).catch(() => {
      throw e;
    });
  }
}

/** Deletes the store's stream and bucket (tests and `drop`); missing ones are not an error. */
export async function dropNats(handles: NatsHandles, layout: NatsLayout): Promise<void> {
  await handles.jsm.streams.delete(layout.eventsStream).catch(ignoreNotFound);
  await handles.snapshots.destroy().catch(ignoreNotFound);
}

function ignoreNotFound(e: unknown): void {
  if (e instanceof JetStreamApiError && e.code === STREAM_NOT_FOUND) return;
  throw e;
}
