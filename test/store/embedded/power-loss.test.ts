/**
 * Power loss on the simulated disk (sim/disk.ts): for each seed, a random workload on a fresh store,
 * power cut at a random disk operation, reopen on what survived, and check that nothing acknowledged
 * is lost, nothing partial is visible, recovery is itself durable, and the store goes on working.
 * `SPIVE_POWER_CUTS` sets the number of seeds (default 100; `npm run soak` runs 1000).
 */
import { describe, expect, it } from 'vitest';
import { EmbeddedStore, seededRandom } from 'spive';
import { SimDisk } from '../../../sim/disk.ts';
import { countFromEnv, powerLossSuite } from './crash-checks.ts';
import { checkStore, makeBatch, type BatchSpec, type Placement } from './crash-workload.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

describe('embedded store on the simulated disk', () => {
  it('survives a power cut after any single operation of its first open and first appends', async () => {
    let cuts = 0;
    for (const [seed, survive] of [[1, 0], [2, 1], [3, 0.5], [4, 1]] as const) {
      const options = { unsyncedWritesSurvive: survive, unsyncedNamesSurvive: survive, maxYields: 0 };
      // Count the operations of a clean run, then cut after each one in turn.
      const work = async (disk: SimDisk, acked: string[]) => {
        const store = await EmbeddedStore.open('/data/s', { fs: disk, lock: false, parquet: false, segmentBytes: 4096 });
        for (let i = 0; i < 3; i++) {
          const b = makeBatch(seed, 0, i);
          await store.append(b.stream, b.key, b.events);
          acked.push(b.id);
        }
        // Background sealing goes on after the last append: wait for it, so every cut lands inside `work`.
        await store.close();
      };
      const probe = new SimDisk(seededRandom(seed).stream('disk'), options);
      await work(probe, []);
      for (let at = 1; at <= probe.stats.operations; at++) {
        const disk = new SimDisk(seededRandom(seed).stream('disk'), options);
        let cut: SimDisk | undefined;
        const acked: string[] = [];
        let ackedAtCut: string[] = [];
        disk.afterOperation = (_op, n) => {
          if (n === at) {
            cut = disk.powerCut(seededRandom(seed * 1000 + at).stream('cut'));
            ackedAtCut = [...acked];
          }
        };
        await work(disk, acked);
        expect(cut, `seed ${seed}: operation ${at} happened during the run`).toBeDefined();
        const store = await EmbeddedStore.open('/data/s', { fs: cut as SimDisk, lock: false, parquet: false, warn: () => undefined });
        const ids: string[] = [];
        for await (const batch of store.readAll()) for (const e of batch) ids.push(String((e.data as { b: string }).b));
        const present = [...new Set(ids)];
        // Acknowledged batches are there, in order; anything else is a later batch that made it whole.
        expect(present.slice(0, ackedAtCut.length), `seed ${seed}, cut after operation ${at}`).toEqual(ackedAtCut);
        const b = makeBatch(seed, 0, 0);
        await expect(store.append(b.stream, b.key, b.events)).resolves.toMatchObject({ firstPosition: ids.length + 1 });
        await store.close();
        cuts++;
      }
    }
    expect(cuts).toBeGreaterThan(40);
  });

  it('never runs two commit groups at once, whatever the timing of appends', async () => {
    // Append A and await it; in the very next microtask append B, then C a few microtasks later.
    // B's submit starts a new flush in the gap before the previous flush had finished unwinding,
    // which once cleared the "flush running" flag under B's flush: C then started a second flush
    // beside it, both wrote at the same offset, and positions were handed out twice.
    for (const real of [false, true]) {
      for (let gap = 0; gap < 12; gap++) {
        const dir = real ? tempDir('spive-race-') : undefined;
        const fs = real ? undefined : new SimDisk(seededRandom(gap), { maxYields: 0 });
        const options = { fs, lock: false, parquet: false, autoSeal: false, warn: (m: string) => expect.fail(m) };
        const path = dir?.path ?? '/s';
        try {
          const store = await EmbeddedStore.open(path, options);
          const [a, b, c] = [0, 1, 2].map((i) => makeBatch(gap, 0, i)) as [BatchSpec, BatchSpec, BatchSpec];
          const acked = new Map<string, Placement>();
          acked.set(a.id, await store.append(a.stream, a.key, a.events));
          const pb = store.append(b.stream, b.key, b.events);
          for (let t = 0; t < gap; t++) await Promise.resolve();
          const pc = store.append(c.stream, c.key, c.events);
          acked.set(b.id, await pb);
          acked.set(c.id, await pc);
          await store.close();
          const again = await EmbeddedStore.open(path, options);
          const specs = new Map([a, b, c].map((x) => [x.id, x]));
          const check = await checkStore(again, { batch: (id) => specs.get(id), acked });
          expect(check.violations, `${real ? 'real disk' : 'simulated disk'}, gap ${gap}`).toEqual([]);
          expect(check.present.size).toBe(3);
          await again.close();
        } finally {
          dir?.cleanup();
        }
      }
    }
  }, 20_000);
});

describe('the power-loss workload', () => {
  it('engages group commit: concurrent appends share fsyncs', async () => {
    const disk = new SimDisk(seededRandom(7), { maxYields: 2 });
    const store = await EmbeddedStore.open('/s', { fs: disk, lock: false, parquet: false, autoSeal: false });
    const before = disk.stats.syncs;
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => makeBatch(7, 0, i)).map((b) => store.append(b.stream, b.key, b.events)));
    expect(results.map((r) => r.firstPosition)).toEqual([...results.map((r) => r.firstPosition)].sort((a, b) => a - b));
    expect(disk.stats.syncs - before).toBeGreaterThan(0);
    expect(disk.stats.syncs - before).toBeLessThan(10);
    await store.close();
  });
});

powerLossSuite(countFromEnv('SPIVE_POWER_CUTS', 100));
