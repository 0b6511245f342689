/** Snapshot rounds: restore the newest of your own version, replay only the rest; ignore other versions. */
import { describe, expect, it } from 'vitest';
import { EmbeddedStore, MemoryLog, Platform } from 'spive';
import { tempDir } from '../helpers/temp-dir.ts';
import { counterApp } from './fixtures/apps.ts';

const quiet = { idle: false as const, ingressIdle: false as const };

describe('snapshots', () => {
  it('restores the newest round of its version and re-reads only the inputs after it', async () => {
    const dir = tempDir();
    try {
      const { app, counter } = counterApp({ snapshots: { everyEvents: 10 }, version: 'v1' });
      let store = await EmbeddedStore.open(dir.path);
      let platform = await Platform.start(app, { store, ...quiet });
      for (let n = 0; n < 47; n++) await platform.append('clicks', { type: 'Clicked', data: { n }, time: n });
      await platform.settle();
      const before = Object.fromEntries(['user-0', 'user-1', 'user-2', 'user-3', 'user-4'].map((k) => [k, platform.view().state(counter, k)]));
      expect(platform.runner('counter')?.status().snapshotRounds).toBe(4);
      await platform.stop();
      await store.close();

      store = await EmbeddedStore.open(dir.path);
      const snapshots = await store.listSnapshots({ process: 'counter', version: 'v1' });
      expect(snapshots.filter((s) => s.shard === '$round').map((s) => s.position)).toEqual([10, 20, 30, 40]);
      const log = new MemoryLog();
      platform = await Platform.start(app, { store, log, ...quiet });
      await platform.settle();
      const status = platform.runner('counter')?.status();
      expect(status?.restoredFromM).toBe(40);
      expect(status?.eventsIn).toBe(7); // 41..47 only
      expect(status?.caughtUp).toBe(7); // their outputs existed: catch-up, no new output
      expect(status?.eventsOut).toBe(0);
      for (const [k, state] of Object.entries(before)) expect(platform.view().state(counter, k)).toEqual(state);
      expect(log.ofKind('snapshot.restored')[0]?.message).toMatch(/input #40/);
      await platform.stop();
      await store.close();
    } finally {
      dir.cleanup();
    }
  });

  it('ignores snapshots made by another version, with a log line, and rebuilds from the inputs', async () => {
    const dir = tempDir();
    try {
      const v1 = counterApp({ snapshots: { everyEvents: 5 }, version: 'v1' });
      let store = await EmbeddedStore.open(dir.path);
      let platform = await Platform.start(v1.app, { store, ...quiet });
      for (let n = 0; n < 20; n++) await platform.append('clicks', { type: 'Clicked', data: { n }, time: n });
      await platform.settle();
      const expected = platform.view().state(v1.counter, 'user-3');
      await platform.stop();
      await store.close();

      const v2 = counterApp({ snapshots: { everyEvents: 5 }, version: 'v2' });
      store = await EmbeddedStore.open(dir.path);
      const log = new MemoryLog();
      platform = await Platform.start(v2.app, { store, log, ...quiet });
      await platform.settle();
      const status = platform.runner('counter')?.status();
      expect(status?.restoredFromM).toBe(0);
      expect(status?.eventsIn).toBe(20);
      expect(platform.view().state(v2.counter, 'user-3')).toEqual(expected);
      expect(log.ofKind('snapshot.ignored')[0]?.message).toMatch(/ignoring \d+ snapshots made by other versions \(v1\)/);
      // The new version snapshots under its own tag.
      expect((await store.listSnapshots({ process: 'counter', version: 'v2' })).length).toBeGreaterThan(0);
      await platform.stop();
      await store.close();
    } finally {
      dir.cleanup();
    }
  });
});
