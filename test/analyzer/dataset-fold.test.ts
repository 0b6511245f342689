/**
 * The offline fold against the real runtime, on an app that uses every rule (fixtures/fold-app.ts):
 * for any input sequence, the fold's appends per shard (type, time, data, meta.m, meta.v) and its
 * snapshots equal what Platform's runners write over the same inputs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryStore, Platform, type Snapshot, type StoredEvent } from 'spive';
import { AppFold, graphOrder, type FoldedBatch } from '../../analyzer/dataset/fold.ts';
import { collect } from '../helpers/async.ts';
import app, { draw, join } from './fixtures/fold-app.ts';

interface Input {
  stream: 'a' | 'b';
  key: string;
  type: 'Tick' | 'Skip' | 'Ping';
  n: number;
  time: number;
}

const input = fc.record({
  stream: fc.constantFrom<'a' | 'b'>('a', 'a', 'b'),
  key: fc.constantFrom('x', 'y', 'z'),
  type: fc.constantFrom<Input['type']>('Tick', 'Tick', 'Tick', 'Skip', 'Ping'),
  n: fc.integer({ min: 0, max: 50 }),
  time: fc.integer({ min: 1000, max: 1012 }), // narrow: many ties between inputs
});

const shape = (e: { type: string; time: number; data: unknown; meta?: Record<string, unknown> }) => ({ type: e.type, time: e.time, data: e.data, m: e.meta?.m, v: e.meta?.v });

function foldOf(inputs: readonly Input[]) {
  const batches: FoldedBatch[] = [];
  const snapshots: Array<Omit<Snapshot, 'sizeBytes'>> = [];
  const fold = new AppFold({ app, version: 'unused', sink: { batch: (b) => batches.push(b), snapshot: (s) => snapshots.push(s) } });
  for (const i of inputs) fold.input(i.stream, i.key, i.type, i.time, { k: i.key, n: i.n });
  return { fold, batches, snapshots };
}

async function runtimeOf(inputs: readonly Input[], expectIn: Record<string, number>) {
  const store = new MemoryStore();
  for (const i of inputs) await store.append(i.stream, i.key, [{ type: i.type, time: i.time, data: { k: i.key, n: i.n } }]);
  const platform = await Platform.start(app, { store, version: 'unused', idle: false, ingressIdle: false });
  try {
    // A join waits for its quiet input at the end, so `settle` would not return: wait for the counts instead.
    for (let waited = 0; ; waited += 5) {
      const status = platform.status().processes;
      if (status.every((p) => p.eventsIn >= (expectIn[p.process] ?? 0)) && platform.runner('draw')?.isIdle()) break;
      if (waited > 3_000) throw new Error(`runtime did not reach the fold's input counts: ${JSON.stringify(status.map((p) => [p.process, p.eventsIn, p.mode]))} vs ${JSON.stringify(expectIn)}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, 20)); // let the last pipelined appends land
  } finally {
    await platform.stop();
  }
  return store;
}

describe('offline fold', () => {
  it('orders processes so every writer comes before its readers', () => {
    expect(graphOrder(app).map((p) => p.name)).toEqual(['draw', 'join']);
  });

  it('writes exactly what the runners write, for any inputs', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(input, { minLength: 1, maxLength: 60 }), async (inputs) => {
        const { fold, batches, snapshots } = foldOf(inputs);
        const expectIn = Object.fromEntries(fold.stats().map((s) => [s.process, s.eventsIn]));
        const store = await runtimeOf(inputs, expectIn);
        for (const stream of ['mid', 'out']) {
          const theirs = new Map<string, StoredEvent[]>();
          for (const e of await collect(store.readStream(stream))) theirs.set(e.key, [...(theirs.get(e.key) ?? []), e]);
          const mine = new Map<string, StoredEvent[]>();
          for (const b of batches.filter((b) => b.stream === stream)) mine.set(b.key, [...(mine.get(b.key) ?? []), ...b.events]);
          expect([...mine.keys()].sort()).toEqual([...theirs.keys()].sort());
          for (const [key, events] of theirs) expect((mine.get(key) ?? []).map(shape), `${stream}/${key}`).toEqual(events.map(shape));
        }
        for (const p of [draw, join]) {
          const version = p.version as string;
          const theirs = await store.listSnapshots({ process: p.name, version });
          const mine = snapshots.filter((s) => s.process === p.name);
          expect(mine.map((s) => [s.shard, s.position, s.time]).sort()).toEqual(theirs.map((s) => [s.shard, s.position, s.time]).sort());
          for (const s of mine) {
            if (s.shard === '$round') continue; // consumed positions differ: the two stores lay events out differently
            const other = await store.getSnapshot({ process: p.name, version, shard: s.shard, atOrBefore: s.position });
            expect(new TextDecoder().decode(s.data)).toBe(new TextDecoder().decode(other?.data));
          }
        }
      }),
      { numRuns: 12 },
    );
  }, 60_000);

  it('hands a sink taking single appends from their parts (FoldSink.event) the same appends and snapshots as batches', () => {
    type Flat = { stream: string; key: string; seq: number; position: number; time: number; type: string; text: string; data: unknown; meta: unknown };
    const collector = (appends: Flat[], snapshots: unknown[][]) => ({
      batch: (b: FoldedBatch) => b.events.forEach((e, i) => appends.push({ stream: e.stream, key: e.key, seq: e.seq, position: e.position, time: e.time, type: e.type, text: b.dataTexts[i] as string, data: e.data, meta: b.outputMeta })),
      snapshot: (s: Omit<Snapshot, 'sizeBytes'>) => snapshots.push([s.process, s.version, s.shard, s.position, s.time, new TextDecoder().decode(s.data)]),
    });
    fc.assert(
      fc.property(fc.array(input, { minLength: 1, maxLength: 60 }), (inputs) => {
        const batches: Flat[] = [];
        const parts: Flat[] = [];
        const batchSnapshots: unknown[][] = [];
        const partSnapshots: unknown[][] = [];
        let single = 0;
        const a = new AppFold({ app, version: 'unused', sink: collector(batches, batchSnapshots) });
        const b = new AppFold({
          app,
          version: 'unused',
          sink: {
            ...collector(parts, []), // appends of several events still come as batches
            event: (_cell, stream, key, seq, position, time, type, text, data, v, m, in0, in1) => {
              single++;
              parts.push({ stream, key, seq, position, time, type, text, data, meta: v === undefined ? undefined : { v, m, in: [in0, in1] } });
            },
            snapshotText: (...s) => partSnapshots.push(s),
          },
        });
        for (const i of inputs) {
          a.input(i.stream, i.key, i.type, i.time, { k: i.key, n: i.n });
          b.input(i.stream, i.key, i.type, i.time, { k: i.key, n: i.n });
        }
        expect(single).toBeGreaterThan(0);
        expect(parts).toEqual(batches);
        expect(partSnapshots).toEqual(batchSnapshots);
        expect(b.stats()).toEqual(a.stats());
      }),
      { numRuns: 30 },
    );
  });

  it('reports a handler that throws as the runner does, naming the process and the event', () => {
    const bad = { ...app, processes: [{ ...draw, handlers: [{ Tick: () => { throw new Error('boom'); } }] }] } as typeof app;
    const fold = new AppFold({ app: bad, version: 'v', sink: { batch: () => undefined, snapshot: () => undefined } });
    expect(() => fold.input('a', 'x', 'Tick', 1, { k: 'x', n: 1 })).toThrow(/process draw stopped: .*a\/x#1 .*threw: boom/);
  });
});
