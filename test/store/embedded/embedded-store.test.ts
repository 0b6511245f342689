/** What the embedded store promises beyond the shared contract: the lock, read-only opens, sealing. */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedStore, isInvalidInput, isLocked, isNotFound, type StoredEvent } from 'spive';
import { tempDir } from '../../helpers/temp-dir.ts';

const T0 = 1_700_000_000_000;
const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function dir(): string {
  const d = tempDir('spive-embedded-');
  cleanups.push(d.cleanup);
  return d.path;
}

async function open(path: string, options: Parameters<typeof EmbeddedStore.open>[1] = {}): Promise<EmbeddedStore> {
  const store = await EmbeddedStore.open(path, { warn: () => undefined, ...options });
  cleanups.push(() => store.close());
  return store;
}

async function fill(store: EmbeddedStore, n: number): Promise<void> {
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) {
    pending.push(store.append(i % 3 === 0 ? 'b' : 'a', `k${i % 5}`, [{ type: i % 2 ? 'Odd' : 'Even', time: T0 + i, data: { amount: i, tag: `t${i}` } }]));
  }
  await Promise.all(pending);
}

describe('embedded store', () => {
  it('lets one process hold it for writing and names the holder to a second opener', async () => {
    const path = dir();
    await open(path, { command: 'spive run examples/bank' });
    const second = await EmbeddedStore.open(path).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isLocked(second)).toBe(true);
    expect((second as Error).message).toMatch(new RegExp(`spive run examples/bank \\(pid ${process.pid} on .+, since .+\\)`));
    expect((second as Error).message).toContain(`${path}/LOCK`);
  });

  it('releases the lock on close, so the next writer can open', async () => {
    const path = dir();
    const first = await EmbeddedStore.open(path);
    await first.append('s', 'k', [{ type: 'T', time: T0, data: 1 }]);
    await first.close();
    expect(existsSync(`${path}/LOCK`)).toBe(false);
    const second = await open(path);
    expect((await second.stats()).events).toBe(1);
  });

  it('opens read-only beside a writer, sees what was committed, and refuses writes', async () => {
    const path = dir();
    const writer = await open(path);
    await fill(writer, 10);
    const reader = await open(path, { readOnly: true });
    expect((await reader.stats()).events).toBe(10);
    const refused = await reader.append('s', 'k', [{ type: 'T', time: T0, data: 1 }]).catch((e: unknown) => e);
    expect(isInvalidInput(refused)).toBe(true);
  });

  it('refuses to read a folder that is not a store, and to write into a non-empty foreign folder', async () => {
    const missing = await EmbeddedStore.open(`${dir()}/nope`, { readOnly: true }).catch((e: unknown) => e);
    expect(isNotFound(missing)).toBe(true);
    const foreign = dir();
    const { writeFileSync } = await import('node:fs');
    writeFileSync(`${foreign}/notes.txt`, 'mine');
    const refused = await EmbeddedStore.open(foreign).catch((e: unknown) => e);
    expect(isInvalidInput(refused)).toBe(true);
    expect((refused as Error).message).toContain('notes.txt');
  });

  it('rotates segments past segmentBytes and reads across them after a reopen', async () => {
    const path = dir();
    let store = await EmbeddedStore.open(path, { segmentBytes: 4096, autoSeal: false });
    // One at a time: a commit group is never split across segments, so concurrency would make fewer.
    for (let i = 0; i < 300; i++) await store.append('a', `k${i % 5}`, [{ type: 'T', time: T0 + i, data: { amount: i, tag: `t${i}` } }]);
    await store.close();
    expect(readdirSync(`${path}/wal`).length).toBeGreaterThan(3);
    store = await open(path);
    const events: StoredEvent[] = [];
    for await (const batch of store.readAll({ batchSize: 7 })) events.push(...batch);
    expect(events.map((e) => e.position)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(events.map((e) => (e.data as { amount: number }).amount)).toEqual(Array.from({ length: 300 }, (_, i) => i));
  });

  it('seals segments into Arrow columns and Parquet files whose contents equal the log', async () => {
    const path = dir();
    const store = await open(path, { segmentBytes: 8192 });
    await fill(store, 500);
    await store.seal();
    const manifests = store.sealedSegments();
    expect(manifests.length).toBeGreaterThan(1);
    const rows = manifests.flatMap((m) => m.streams).reduce((n, s) => n + s.rows, 0);
    expect(rows).toBe(500);
    // Columns from sealed Arrow files agree with the events read from the WAL.
    const fromLog: StoredEvent[] = [];
    for await (const batch of store.readStream('a')) fromLog.push(...batch);
    const fromColumns: Array<[string, number, number, number]> = [];
    for await (const c of store.scanColumns('a', { fields: ['amount'] })) {
      for (let i = 0; i < c.length; i++) {
        fromColumns.push([c.keys[c.keyIndex[i] as number] as string, c.seq[i] as number, c.position[i] as number, c.fields.amount?.[i] as number]);
      }
    }
    expect(fromColumns).toEqual(fromLog.map((e) => [e.key, e.seq, e.position, (e.data as { amount: number }).amount]));
    // Parquet, read back by DuckDB.
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    try {
      const reader = await c.runAndReadAll(
        `SELECT stream, count(*)::INTEGER, min(position)::INTEGER, max(position)::INTEGER, sum(json_extract(data, '$.amount')::INTEGER)::INTEGER
         FROM read_parquet('${path}/parquet/*/*.parquet', hive_partitioning = true) GROUP BY stream ORDER BY stream`,
      );
      const expected = (s: string) => {
        const es: number[] = [];
        for (let i = 0; i < 500; i++) if ((i % 3 === 0 ? 'b' : 'a') === s) es.push(i);
        return [s, es.length, es[0]! + 1, es.at(-1)! + 1, es.reduce((x, y) => x + y, 0)];
      };
      const sealedPositions = manifests.flatMap((m) => m.streams).reduce((n, s) => Math.max(n, s.lastPosition), 0);
      expect(sealedPositions).toBe(500);
      expect(reader.getRows()).toEqual([expected('a'), expected('b')]);
    } finally {
      c.closeSync();
      db.closeSync();
    }
    const manifest = JSON.parse(readFileSync(`${path}/columns/0000000001.json`, 'utf8'));
    expect(manifest.format).toBe(1);
  });

  it('keeps serving reads and appends while and after sealing, and a reopen sees sealed and unsealed data', async () => {
    const path = dir();
    let store = await EmbeddedStore.open(path, { segmentBytes: 4096 });
    await fill(store, 200);
    await store.seal();
    await store.append('a', 'k0', [{ type: 'Late', time: T0 + 999, data: { amount: 999 } }]);
    await store.close();
    store = await open(path);
    let total = 0;
    let count = 0;
    for await (const c of store.scanColumns('a', { fields: ['amount'] })) {
      for (let i = 0; i < c.length; i++) total += c.fields.amount?.[i] as number;
      count += c.length;
    }
    let expected = 999;
    for (let i = 0; i < 200; i++) if (i % 3 !== 0) expected += i;
    expect(count).toBe(134);
    expect(total).toBe(expected);
  });
});

describe('embedded store leases across holders', () => {
  it('frees leases left by a previous holder of the write lock, keeping fencing and token order', async () => {
    const path = dir();
    const first = await EmbeddedStore.open(path, { warn: () => undefined });
    const lease = await first.acquireLease({ stream: 'out', range: { from: 0, to: 4096 }, owner: 'crashed-runner', ttlMs: 3_600_000 });
    await first.append('out', 'k', [{ type: 'T', time: T0, data: 1 }], { token: lease.token });
    await first.close();
    const second = await open(path);
    const next = await second.acquireLease({ stream: 'out', range: { from: 0, to: 4096 }, owner: 'new-runner', ttlMs: 1000 });
    expect(next.token).toBe(lease.token + 1);
    const stale = await second.append('out', 'k', [{ type: 'T', time: T0, data: 2 }], { token: lease.token }).catch((e: unknown) => e);
    expect((stale as { code?: string }).code).toBe('FENCED');
  });
});
