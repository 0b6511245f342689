/**
 * Snapshot rounds with runners on different shard ranges of one process (`spive run --shards` in
 * several processes): a runner that restarts restores a round of its own range (or of all shards),
 * never another range's — which would skip its own shards' inputs up to that round's input #m.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryStore, Platform } from 'spive';
import { bucketOf } from '../../src/model/shard.ts';
import { isRoundShard, roundShard } from '../../src/runtime/runner.ts';
import { historyApp } from '../analyzer/fixtures.ts';

const KEYS = Array.from({ length: 64 }, (_, i) => `k${i}`);
const LOW = KEYS.filter((k) => bucketOf(k) < 2048).slice(0, 3);
const HIGH = KEYS.filter((k) => bucketOf(k) >= 2048).slice(0, 3);

describe('snapshot rounds per shard range', () => {
  it('names rounds by range, all shards keeping the plain $round', () => {
    expect(roundShard({ from: 0, to: 4096 })).toBe('$round');
    expect(roundShard({ from: 2048, to: 4096 })).toBe('$round/2048-4096');
    expect(isRoundShard('$round/0-2048') && isRoundShard('$round') && !isRoundShard('$roundabout')).toBe(true);
  });

  it('a runner restarted while the other range ran ahead ends with every input of its shards reflected', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 12 }), // snapshot every N inputs
        fc.integer({ min: 0, max: 30 }), // inputs both ranges take
        fc.integer({ min: 1, max: 40 }), // inputs only the low range takes while the high one is down
        fc.integer({ min: 0, max: 10 }), // inputs after the restart
        async (every, before, meanwhile, after) => {
          const { app } = historyApp({ version: 'v1', snapshotEvery: every });
          const store = new MemoryStore();
          const options = (from: number, to: number, owner: string) => ({ store, version: 'v1', idle: false as const, ingressIdle: false as const, range: { from, to }, owner, processes: ['tally'] });
          const expected = new Map<string, number>();
          let t = 0;
          const put = async (n: number) => {
            for (let i = 0; i < n; i++) {
              const key = [...LOW, ...HIGH][t % (LOW.length + HIGH.length)] as string;
              t++;
              await store.append('inputs', key, [{ type: 'Counted', time: t, data: { key, amount: t, region: 'r' } }]);
              expected.set(key, (expected.get(key) ?? 0) + t);
            }
          };
          const low = await Platform.start(app, options(0, 2048, 'low'));
          let high = await Platform.start(app, options(2048, 4096, 'high'));
          await put(before);
          await Promise.all([low.settle(), high.settle()]);
          await high.stop();
          await put(meanwhile);
          await low.settle();
          high = await Platform.start(app, options(2048, 4096, 'high-again'));
          await put(after);
          await Promise.all([low.settle(), high.settle()]);
          await Promise.all([low.stop(), high.stop()]);
          const last = new Map<string, number>();
          for await (const batch of store.readStream('tallies')) for (const e of batch) if (e.type === 'Tallied') last.set(e.key, (e.data as { total: number }).total);
          expect(new Map([...last].sort())).toEqual(new Map([...expected].sort()));
          const rounds = (await store.listSnapshots({ process: 'tally' })).filter((s) => isRoundShard(s.shard));
          for (const r of rounds) expect(['$round/0-2048', '$round/2048-4096']).toContain(r.shard);
          await store.close();
        },
      ),
      { numRuns: 40 },
    );
  }, 60_000);
});
