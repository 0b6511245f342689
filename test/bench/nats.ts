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
 *   over the stream just appended, summing a payload field of every event. Baseline: the raw client
 *   doing the same read the way an app would: a plain ordered consumer over the same messages (same
 *   pull buffer, messages taken in the client's callback like the store's), decoding each message's
 *   data values (the events' data, exactly what the app appended, nothing of Spive's) with the fastest
 *   decoder there is for them, Spive's own (`dataValues`: format 3 keeps data in a binary encoding,
 *   not JSON), and summing the same field. That decode is in the baseline because the store cannot
 *   skip it either: it hands out `data` as values. Everything else is the store's alone: the CRC and
 *   the checks, times and types from the binary head, one object per event, batching, the async
 *   iterator. Target: ratio >= 0.7.
 * - nats.read.stream.single.vs-transport, nats.read.stream.batch100.vs-transport: the same store
 *   figure against the consumer receiving the same messages and decoding nothing (it touches each
 *   payload's length): the issue's own baseline (like PostgreSQL's COPY without parsing). Target
 *   ratio >= 0.7 too; with 100 events per message it is bounded by the decoding consumer above,
 *   which the store cannot beat (it decodes the same data, then checks the CRC and builds an event
 *   per event): that consumer alone measured 0.67 of this one on a quiet machine (docs/nats-store.md).
 * Median of 15 each (a read of 200,000 events takes 20-30 ms here; with a median of 7, three runs of
 * the same code gave 0.54-0.83 for batch100.vs-transport), the three reads interleaved (each round
 * starting with the next one), after an untimed pass of each. The machine is shared: compare ratios,
 * and run it more than once.
 */
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { DeliverPolicy, jetstream, jetstreamManager, StorageType, type JetStreamClient } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { dataValues } from '../../src/store/nats/batch-format.ts';
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

export const NATS_BENCHES = [
  'nats.append.single',
  'nats.append.batched',
  'nats.read.stream.single',
  'nats.read.stream.batch100',
  'nats.read.stream.single.vs-transport',
  'nats.read.stream.batch100.vs-transport',
] as const;

const READ_REPS = 15;

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
      const viaTransport: number[] = [];
      const filter = `${prefix}.ev.${d.stream}.*`;
      // One untimed pass of each first: JIT warm-up, and the server's file cache.
      await readRaw(js, store.eventsStreamName, filter, d, true);
      await readRaw(js, store.eventsStreamName, filter, d, false);
      await readStore(store, d);
      // This process's CPU time per event of each read: steadier than wall time on a shared machine.
      const cpuStore: number[] = [];
      const cpuRaw: number[] = [];
      const cpuTransport: number[] = [];
      const timed = async (rates: number[], cpu: number[], read: () => Promise<number>): Promise<void> => {
        const before = process.cpuUsage();
        rates.push(await read());
        const used = process.cpuUsage(before);
        cpu.push(((used.user + used.system) * 1000) / d.events);
      };
      const reads = [
        () => timed(viaRaw, cpuRaw, () => readRaw(js, store.eventsStreamName, filter, d, true)),
        () => timed(viaTransport, cpuTransport, () => readRaw(js, store.eventsStreamName, filter, d, false)),
        () => timed(viaStore, cpuStore, () => readStore(store, d)),
      ];
      // Each round starts with a different one, so that none always follows the same neighbour.
      for (let i = 0; i < READ_REPS; i++) for (let j = 0; j < reads.length; j++) await (reads[(i + j) % reads.length] as () => Promise<void>)();
      const name = d.batch === 1 ? 'nats.read.stream.single' : `nats.read.stream.batch${d.batch}`;
      info(`read ${d.name}: store ${viaStore.map(fmt).join(', ')} events/s`);
      info(`read ${d.name}: raw ordered consumer decoding the data values ${viaRaw.map(fmt).join(', ')} events/s; decoding nothing ${viaTransport.map(fmt).join(', ')} events/s`);
      info(
        `read ${d.name}: client CPU per event (median): store ${fmt(median(cpuStore))} ns, raw decoding the data ${fmt(median(cpuRaw))} ns, raw decoding nothing ${fmt(median(cpuTransport))} ns (load average ${loadavg()[0]?.toFixed(2)})`,
      );
      results({ bench: name, value: median(viaStore), unit: 'events/s', baseline: median(viaRaw) });
      results({ bench: `${name}.vs-transport`, value: median(viaStore), unit: 'events/s', baseline: median(viaTransport) });
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

/**
 * The baseline: a plain ordered consumer over the same messages. `decode`: each message's data values
 * (the events' data and nothing else) decoded once and the same field summed: the least an app reading
 * these events must do. Otherwise payloads are only touched.
 */
async function readRaw(js: JetStreamClient, stream: string, filter: string, d: Dataset, decode: boolean): Promise<number> {
  const t = performance.now();
  const consumer = await js.consumers.get(stream, { filter_subjects: filter, deliver_policy: DeliverPolicy.All });
  const total = (await consumer.info()).num_pending;
  let seen = 0;
  let bytes = 0;
  let sum = 0;
  let events = 0;
  let finished!: () => void;
  const done = new Promise<void>((resolve) => (finished = resolve));
  const messages = await consumer.consume({
    ...PULL_BUFFER,
    callback: (msg) => {
      const data = msg.data;
      bytes += data.length;
      if (decode) {
        const datas = dataValues(data) as Array<{ amount: number }>;
        for (const e of datas) sum += e.amount;
        events += datas.length;
      }
      if (++seen === total) finished();
    },
  });
  // Ends when the last message is in, or when the consumer stops (failed: the count check below says so).
  await Promise.race([done, messages.closed()]);
  await messages.close();
  const expected = Math.ceil(d.events / d.batch);
  if (seen !== expected || bytes === 0) throw new Error(`raw consumer read ${seen} messages, expected ${expected}`);
  if (decode && (events !== d.events || !Number.isFinite(sum))) throw new Error(`raw consumer decoded ${events} events, expected ${d.events}`);
  return d.events / ((performance.now() - t) / 1000);
}

