/**
 * NATS JetStream store benchmarks, against the server on 127.0.0.1:4222 (skipped with a message on
 * stderr when it is not reachable). The store lives under a fresh prefix and is dropped afterwards.
 * Events are the harness's usual ~100-byte `Deposited` events.
 *
 * - nats.append.single, nats.append.batched (events/s; higher is better). 64 appenders on one store,
 *   appending one event at a time (the runtime's typical output append) / batches of 100, over 1000
 *   shards, each append awaited. Baseline: the raw client publishing the very same message bodies to a
 *   plain stream with as many in flight and no expectations: JetStream without Spive's ordering (every
 *   store write is a conditional publish chained to the previous one: conditional-writer.ts).
 * - nats.read.stream.single, nats.read.stream.batch100 (events/s; higher is better). `readStream`
 *   over the stream just appended, decoding every event and summing a payload field. Baseline: a plain
 *   ordered consumer, same pull buffer, reading the same messages raw (touching each payload), counted
 *   in the events they hold. Median of 3 each, interleaved, after an untimed pass of each. Target: ratio >= 0.7. With 100 events per
 *   message the raw consumer moves ~1 KB per event at network speed while the store must JSON.parse
 *   it (~1 µs per event here): that figure is bound by JSON decoding, not by JetStream.
 */
import { randomUUID } from 'node:crypto';
import { DeliverPolicy, jetstream, jetstreamManager, StorageType, type JetStreamClient } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { batchPayload, encodeBatch } from '../../src/store/nats/event-message.ts';
import { NatsStore } from '../../src/store/nats/nats-store.ts';
import { PULL_BUFFER } from '../../src/store/nats/ordered-reads.ts';
import { reachable, SERVICES } from '../helpers/services.ts';
import { fmt, info, makeBatch, median, type BenchResult } from './util.ts';

export interface NatsSizes {
  readonly singleEvents: number;
  readonly batchedEvents: number;
}

const SHARDS = 1000;
const APPENDERS = 64;
const SERVER = `${SERVICES.nats.host}:${SERVICES.nats.port}`;

interface Dataset {
  readonly name: 'single' | 'batched';
  readonly stream: string;
  readonly events: number;
  readonly batch: number;
}

export const NATS_BENCHES = ['nats.append.single', 'nats.append.batched', 'nats.read.stream.single', 'nats.read.stream.batch100'] as const;

export async function natsBench(sizes: NatsSizes, results: (r: BenchResult) => void): Promise<void> {
  if (!(await reachable(SERVICES.nats.host, SERVICES.nats.port))) {
    info(`skipping nats.*: ${SERVICES.nats.name} is not reachable on ${SERVER} (start it with: ${SERVICES.nats.start})`);
    return;
  }
  const prefix = `bench-${randomUUID().slice(0, 8)}`;
  const store = await NatsStore.open(`nats://${SERVER}?prefix=${prefix}`);
  const nc = await connect({ servers: SERVER });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const rawStream = `${prefix}-raw`;
  try {
    await jsm.streams.add({ name: rawStream, subjects: [`${prefix}-raw.>`], storage: StorageType.File });
    const datasets: Dataset[] = [
      { name: 'single', stream: 'single', events: sizes.singleEvents, batch: 1 },
      { name: 'batched', stream: 'batched', events: sizes.batchedEvents, batch: 100 },
    ];
    for (const d of datasets) {
      const { storeS, rawS } = await appendBoth(store, js, `${prefix}-raw.${d.name}`, d);
      info(`append ${d.name}: ${fmt(d.events)} events in ${fmt(storeS)} s through the store, ${fmt(rawS)} s raw`);
      results({ bench: `nats.append.${d.name}`, value: d.events / storeS, unit: 'events/s', baseline: d.events / rawS });
    }
    for (const d of datasets) {
      const viaStore: number[] = [];
      const viaRaw: number[] = [];
      // One untimed pass of each first: JIT warm-up, and the server's file cache.
      await readRaw(js, store.eventsStreamName, `${prefix}.ev.${d.stream}.*`, d);
      await readStore(store, d);
      for (let i = 0; i < 3; i++) {
        viaRaw.push(await readRaw(js, store.eventsStreamName, `${prefix}.ev.${d.stream}.*`, d));
        viaStore.push(await readStore(store, d));
      }
      const name = d.batch === 1 ? 'nats.read.stream.single' : `nats.read.stream.batch${d.batch}`;
      info(`read ${d.name}: store ${viaStore.map(fmt).join(', ')} events/s; raw ordered consumer ${viaRaw.map(fmt).join(', ')} events/s`);
      results({ bench: name, value: median(viaStore), unit: 'events/s', baseline: median(viaRaw) });
    }
  } finally {
    await jsm.streams.delete(rawStream).catch(() => undefined);
    await store.drop();
    await nc.close();
  }
}

async function appendBoth(store: NatsStore, js: JetStreamClient, rawSubject: string, d: Dataset): Promise<{ storeS: number; rawS: number }> {
  const batches = Math.ceil(d.events / d.batch);
  const batchOf = (b: number) => makeBatch(b * d.batch, Math.min(d.batch, d.events - b * d.batch), b % SHARDS);
  const run = async (one: (b: number) => Promise<unknown>): Promise<number> => {
    let next = 0;
    const t = performance.now();
    await Promise.all(
      Array.from({ length: APPENDERS }, async () => {
        for (let b = next++; b < batches; b = next++) await one(b);
      }),
    );
    return (performance.now() - t) / 1000;
  };
  const storeS = await run((b) => store.append(d.stream, `acct-${b % SHARDS}`, batchOf(b)));
  // The same payloads as the store's (placement included), encoded before the clock starts.
  const bodies = Array.from({ length: batches }, (_, b) => batchPayload(encodeBatch(d.stream, `acct-${b % SHARDS}`, batchOf(b)), b * d.batch + 1, 1));
  const rawS = await run((b) => js.publish(`${rawSubject}.${b % SHARDS}`, bodies[b] as Uint8Array));
  return { storeS, rawS };
}

async function readStore(store: NatsStore, d: Dataset): Promise<number> {
  const t = performance.now();
  let n = 0;
  let sum = 0;
  for await (const batch of store.readStream(d.stream)) {
    n += batch.length;
    for (const e of batch) sum += (e.data as { amount: number }).amount;
  }
  if (n !== d.events || !Number.isFinite(sum)) throw new Error(`readStream(${d.stream}) returned ${n} events, expected ${d.events}`);
  return n / ((performance.now() - t) / 1000);
}

/** The baseline: a plain ordered consumer over the same messages, payloads touched but not decoded. */
async function readRaw(js: JetStreamClient, stream: string, filter: string, d: Dataset): Promise<number> {
  const t = performance.now();
  const consumer = await js.consumers.get(stream, { filter_subjects: filter, deliver_policy: DeliverPolicy.All });
  const total = (await consumer.info()).num_pending;
  const messages = await consumer.consume(PULL_BUFFER);
  let seen = 0;
  let bytes = 0;
  for await (const msg of messages) {
    bytes += msg.data.length;
    if (++seen === total) break;
  }
  await messages.close();
  const expected = Math.ceil(d.events / d.batch);
  if (seen !== expected || bytes === 0) throw new Error(`raw consumer read ${seen} messages, expected ${expected}`);
  return d.events / ((performance.now() - t) / 1000);
}
