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

  it('delivers every message once, in order, with one consumer when the reader keeps up', async () => {
    const { seqs, consumers } = await readAll({ filter: `${prefix}.>` }, false);
    expect(seqs).toEqual(all);
    expect(consumers).toBe(1);
  });

  it('pauses a reader that falls behind and resumes exactly where it stopped', async () => {
    const { seqs, consumers } = await readAll({ filter: `${prefix}.a`, startSeq: 101, pauseAtMessages: 16, chunk: 8 }, true);
    expect(seqs).toEqual(all.filter((s) => s >= 101 && s % 2 === 0));
    expect(consumers).toBeGreaterThan(1);
    // Paused consumers are deleted, not left on the server until their inactivity threshold.
    expect((await jsm.consumers.list(stream).next()).length).toBeLessThanOrEqual(2);
  });
});
