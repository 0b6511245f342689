/** Ordered reads: every message once and in order, whether the reader keeps up or falls behind (pauses). */
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderedChunks, ReadRegistry, type OrderedRead } from '../../../src/store/nats/ordered-reads.ts';
import { service } from '../../helpers/services.ts';
import { freshPrefix, NATS_SERVER } from './nats-fixture.ts';

const available = await service('nats');
const MESSAGES = 3000;

describe.skipIf(!available)('ordered reads', () => {
  const prefix = freshPrefix();
  const stream = `${prefix}-events`;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let js: JetStreamClient;

  beforeAll(async () => {
    nc = await connect({ servers: NATS_SERVER });
    jsm = await jetstreamManager(nc);
    js = jetstream(nc);
    await jsm.streams.add({ name: stream, subjects: [`${prefix}.>`] });
    // Two subjects interleaved, so that a filtered read skips sequences.
    await Promise.all(Array.from({ length: MESSAGES }, (_, i) => js.publish(`${prefix}.${i % 2 ? 'a' : 'b'}`, new TextEncoder().encode(String(i)))));
  });
  afterAll(async () => {
    await jsm.streams.delete(stream).catch(() => undefined);
    await nc.close();
  });

  /** Reads with `read`, counting the consumers created; `slow`: the reader waits a little after each chunk. */
  async function readAll(read: Omit<OrderedRead, 'stream'>, slow: boolean): Promise<{ seqs: number[]; consumers: number }> {
    let consumers = 0;
    const counting = new Proxy(js, {
      get: (target, name, receiver) => {
        const value = Reflect.get(target, name, receiver) as unknown;
        if (name !== 'consumers') return value;
        return new Proxy(value as object, {
          get: (c, n, r) => {
            if (n === 'get') consumers++;
            const f = Reflect.get(c, n, r) as unknown;
            return typeof f === 'function' ? f.bind(c) : f;
          },
        });
      },
    });
    const seqs: number[] = [];
    for await (const chunk of orderedChunks(counting, jsm, { stream, ...read }, new ReadRegistry())) {
      seqs.push(...chunk.map((m) => m.seq));
      if (slow) await new Promise((resolve) => setTimeout(resolve, 2));
    }
    return { seqs, consumers };
  }

  const all = Array.from({ length: MESSAGES }, (_, i) => i + 1);

  it.each([false, true])('delivers every message once, in order, with one consumer when the reader keeps up (eager: %s)', async (eager) => {
    const { seqs, consumers } = await readAll({ filter: `${prefix}.>`, eager }, false);
    expect(seqs).toEqual(all);
    expect(consumers).toBe(1);
  });

  const consumerCount = async (): Promise<number> => (await jsm.consumers.list(stream).next()).length;

  it('pauses a reader that falls behind and resumes exactly where it stopped', async () => {
    const before = await consumerCount();
    const { seqs, consumers } = await readAll({ filter: `${prefix}.a`, startSeq: 101, pauseAtMessages: 16, chunk: 8 }, true);
    expect(seqs).toEqual(all.filter((s) => s >= 101 && s % 2 === 0));
    expect(consumers).toBeGreaterThan(1);
    // Paused consumers are deleted, not left on the server until their inactivity threshold (the last
    // one is, as after every read).
    expect(await consumerCount()).toBeLessThanOrEqual(before + 1);
  });

  it('ends an eager read with nothing to read without keeping the consumer it started', async () => {
    const before = await consumerCount();
    const { seqs, consumers } = await readAll({ filter: `${prefix}.nothing`, eager: true }, false);
    expect(seqs).toEqual([]);
    expect(consumers).toBe(1);
    // The consumer started alongside the look-up of the end is created and deleted in the background.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await consumerCount()).toBe(before);
  });

  it('fails an eager read whose consumer cannot start with that failure, once its end is known', async () => {
    const refusing = new Proxy(js, {
      get: (target, name, receiver) => {
        if (name !== 'consumers') return Reflect.get(target, name, receiver) as unknown;
        // Refused at once, while the end is still being looked up.
        return { get: () => Promise.reject(new Error('consumer refused')) };
      },
    });
    const read = async (): Promise<void> => {
      for await (const chunk of orderedChunks(refusing, jsm, { stream, filter: `${prefix}.>`, eager: true }, new ReadRegistry())) expect(chunk).toEqual([]);
    };
    await expect(read()).rejects.toThrow('consumer refused');
  });

  // Last: it appends to the stream.
  it('ends an eager bounded read at the newest message when it starts, whatever lands while its consumer starts', async () => {
    const subject = `${prefix}.c`;
    const publish = (n: number) => Promise.all(Array.from({ length: n }, () => js.publish(subject, new Uint8Array(1))));
    const first = (await publish(50))[0]?.seq as number;
    const lastBefore = first + 49;
    const reading = readAll({ filter: subject, eager: true }, false);
    // Lands while the read looks up its end and starts its consumer (or just after).
    const landed = await publish(50);
    const lastAfter = landed[landed.length - 1]?.seq as number;
    const { seqs } = await reading;
    // A contiguous run of the subject's messages from its first on, ending somewhere in the writes that raced it.
    const end = seqs[seqs.length - 1] as number;
    expect(end).toBeGreaterThanOrEqual(lastBefore);
    expect(end).toBeLessThanOrEqual(lastAfter);
    const expected = [...Array.from({ length: 50 }, (_, i) => first + i), ...landed.map((a) => a.seq)].filter((q) => q <= end);
    expect(seqs).toEqual(expected);
  });
});
