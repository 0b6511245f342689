import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { seededRandom } from 'spive';
import { SimDisk, type SimDiskOptions } from '../../sim/disk.ts';
import { writeFileAtomic } from '../../src/store/embedded/file-system.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** Named streams, not a bare seededRandom(seed): the first draw of a small seed is not uniform. */
const cutRandom = (seed: number) => seededRandom(seed).stream('cut');

function disk(seed: number, options: Partial<SimDiskOptions> = {}): SimDisk {
  return new SimDisk(seededRandom(seed).stream('disk'), options);
}

async function writeFile(d: SimDisk, path: string, text: string, sync: boolean): Promise<void> {
  const h = await d.open(path, { create: true });
  await h.write(enc(text), await h.size());
  if (sync) await h.sync();
  await h.close();
}

/** A folder with one durable file `/d/f` holding `text`. */
async function durableFile(d: SimDisk, text: string): Promise<void> {
  await d.mkdirp('/d');
  await d.syncDir('/');
  await writeFile(d, '/d/f', text, true);
  await d.syncDir('/d');
}

async function contentAfterCut(d: SimDisk, seed: number, path = '/d/f'): Promise<string | undefined> {
  const after = d.powerCut(cutRandom(seed));
  return (await after.exists(path)) ? dec(await after.readFile(path)) : undefined;
}

describe('SimDisk', () => {
  it('reads back what was written, like a file system', async () => {
    const d = disk(1);
    await d.mkdirp('/a/b');
    const h = await d.open('/a/b/f', { create: true });
    await h.write(enc('hello'), 0);
    await h.write(enc('J'), 0);
    await h.write(enc('!'), 7); // past the end: the gap reads as zeros
    expect(await h.size()).toBe(8);
    expect([...(await h.read(3, 100))]).toEqual([108, 111, 0, 0, 33]);
    await h.truncate(2);
    expect(dec(await d.readFile('/a/b/f'))).toBe('Je');
    await h.truncate(4);
    expect([...(await d.readFile('/a/b/f'))]).toEqual([74, 101, 0, 0]);
    expect(await d.list('/a')).toEqual(['b']);
    expect(await d.list('/nope')).toEqual([]);
    expect(await d.exists('/a/b/f')).toBe(true);
    await expect(d.open('/a/b/g', { create: false })).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(d.open('/x/y', { create: true })).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(d.open('/a', { create: true })).rejects.toMatchObject({ code: 'EISDIR' });
    await h.close();
    await expect(h.read(0, 1)).rejects.toMatchObject({ code: 'EBADF' });
  });

  it('counts operations, writes, syncs and bytes', async () => {
    const d = disk(2);
    await d.mkdirp('/d');
    const h = await d.open('/d/f', { create: true });
    await h.write(enc('abc'), 0);
    await h.write(enc('defg'), 3);
    await h.sync();
    await h.read(0, 100);
    await d.syncDir('/d');
    expect(d.stats).toMatchObject({ writes: 2, bytesWritten: 7, syncs: 1, dirSyncs: 1, reads: 1, bytesRead: 7, operations: 7 });
  });

  it('keeps synced bytes and synced names through every power cut', async () => {
    for (let seed = 0; seed < 50; seed++) {
      const d = disk(seed, { unsyncedWritesSurvive: 1, unsyncedNamesSurvive: 1 });
      await durableFile(d, 'durable');
      expect(await contentAfterCut(d, seed)).toBe('durable');
    }
  });

  it('drops every unsynced write and every unsynced name when nothing may survive', async () => {
    const d = disk(3, { unsyncedWritesSurvive: 0, unsyncedNamesSurvive: 0 });
    await durableFile(d, 'kept');
    await writeFile(d, '/d/f', '+lost', false); // unsynced append to a durable file
    await writeFile(d, '/d/g', 'synced data, unsynced name', true);
    await d.mkdirp('/d/sub'); // unsynced folder...
    await d.syncDir('/d/sub');
    await writeFile(d, '/d/sub/h', 'x', true); // ...so this file is unreachable after the cut
    await d.syncDir('/d/sub');
    const after = d.powerCut(cutRandom(3));
    expect(dec(await after.readFile('/d/f'))).toBe('kept');
    expect(await after.list('/d')).toEqual(['f']);
    expect(after.files()).toEqual(['/d/f']);
    // The disk that lost power is untouched: a store still running on it is merely abandoned.
    expect(d.files()).toEqual(['/d/f', '/d/g', '/d/sub/h']);
    expect(dec(await d.readFile('/d/f'))).toBe('kept+lost');
  });

  it('a new folder survives only once its parent folder is synced', async () => {
    const d = disk(4, { unsyncedNamesSurvive: 0 });
    await d.mkdirp('/store/wal');
    await d.syncDir('/store/wal');
    await writeFile(d, '/store/wal/1.log', 'x', true);
    await d.syncDir('/store/wal');
    await d.syncDir('/store');
    expect(d.powerCut(cutRandom(1)).files()).toEqual([]); // '/' was never synced
    await d.syncDir('/');
    expect(d.powerCut(cutRandom(1)).files()).toEqual(['/store/wal/1.log']);
    expect(d.unsynced('/')).toBe(0);
  });

  it('lets a random prefix of unsynced writes survive, in order, and every prefix occurs', async () => {
    const seen = new Set<string | undefined>();
    for (let seed = 0; seed < 200; seed++) {
      const d = disk(seed, { unsyncedWritesSurvive: 0.75, tornWrite: 0 });
      await durableFile(d, 'S');
      for (const part of ['a', 'b', 'c']) await writeFile(d, '/d/f', part, false);
      expect(d.unsynced('/d/f')).toBe(3);
      const text = await contentAfterCut(d, seed);
      expect(['S', 'Sa', 'Sab', 'Sabc']).toContain(text);
      seen.add(text);
    }
    expect(seen.size).toBe(4);
  });

  it('tears the last surviving write: a strict prefix landed, the tail missing, zeroed or garbage', async () => {
    const payload = enc('0123456789abcdefghijklmnopqrstuvwxyz');
    const kinds = new Set<string>();
    for (let seed = 0; seed < 300; seed++) {
      const d = disk(seed, { unsyncedWritesSurvive: 1, tornWrite: 1 });
      await durableFile(d, 'SYNCED');
      const h = await d.open('/d/f', { create: false });
      await h.write(payload, 6);
      const after = d.powerCut(cutRandom(seed));
      const bytes = await after.readFile('/d/f');
      expect(dec(bytes.subarray(0, 6))).toBe('SYNCED');
      const rest = bytes.subarray(6);
      let landed = 0;
      while (landed < rest.byteLength && rest[landed] === payload[landed]) landed++;
      if (rest.byteLength === 0) {
        kinds.add('nothing');
        continue;
      }
      if (rest.byteLength < payload.byteLength) {
        // Tail missing: what is there is exactly a prefix.
        expect(landed).toBe(rest.byteLength);
        kinds.add('missing');
      } else {
        expect(rest.byteLength).toBe(payload.byteLength);
        expect(landed).toBeLessThan(payload.byteLength); // a torn write never lands whole
        const tail = rest.subarray(landed);
        kinds.add(tail.every((b) => b === 0) ? 'zeros' : 'garbage');
      }
    }
    expect([...kinds].sort()).toEqual(['garbage', 'missing', 'nothing', 'zeros']);
  });

  it('writeFileAtomic leaves the old or the new content after a cut, never a mix, and the new one once synced', async () => {
    const outcomes = new Set<string | undefined>();
    for (let seed = 0; seed < 100; seed++) {
      const d = disk(seed, { unsyncedWritesSurvive: 1, unsyncedNamesSurvive: 1, tornWrite: 0.5 });
      await durableFile(d, 'old contents');
      // Cut power after every single operation of the atomic write.
      const cuts: SimDisk[] = [];
      d.afterOperation = () => cuts.push(d.powerCut(cutRandom(seed * 1000 + cuts.length)));
      await writeFileAtomic(d, '/d', 'f', enc('new contents!'));
      d.afterOperation = undefined;
      for (const after of cuts) {
        const text = dec(await after.readFile('/d/f'));
        expect(['old contents', 'new contents!']).toContain(text);
        outcomes.add(text);
      }
      expect(dec(await cuts[cuts.length - 1]!.readFile('/d/f'))).toBe('new contents!');
    }
    expect(outcomes.size).toBe(2);
  });

  it('cuts power the same way for the same seed', async () => {
    const build = async () => {
      const d = disk(9, { unsyncedWritesSurvive: 0.7, unsyncedNamesSurvive: 0.7 });
      await durableFile(d, 'base');
      await Promise.all([writeFile(d, '/d/f', 'more', false), writeFile(d, '/d/g', 'other', false), d.mkdirp('/d/x/y')]);
      return d;
    };
    const render = async (d: SimDisk) => Promise.all(d.files().map(async (f) => `${f}=${[...(await d.readFile(f))]}`));
    const a = await build();
    const b = await build();
    for (let seed = 0; seed < 20; seed++) {
      expect(await render(a.powerCut(cutRandom(seed)))).toEqual(await render(b.powerCut(cutRandom(seed))));
    }
  });

  it('copies itself, unsynced state included, independently of the original', async () => {
    const d = disk(6, { unsyncedWritesSurvive: 0, unsyncedNamesSurvive: 0 });
    await durableFile(d, 'base');
    await writeFile(d, '/d/f', '+unsynced', false);
    const twin = d.copy();
    await writeFile(d, '/d/f', '+later', true);
    expect(dec(await twin.readFile('/d/f'))).toBe('base+unsynced');
    expect(dec(await d.readFile('/d/f'))).toBe('base+unsynced+later');
    expect(dec(await twin.powerCut(cutRandom(1)).readFile('/d/f'))).toBe('base');
  });

  it('keeps an open handle usable after its name is removed or replaced', async () => {
    const d = disk(5);
    await d.mkdirp('/d');
    const h = await d.open('/d/f', { create: true });
    await h.write(enc('abc'), 0);
    await d.rename('/d/f', '/d/g');
    await h.write(enc('d'), 3);
    expect(dec(await d.readFile('/d/g'))).toBe('abcd');
    await d.remove('/d/g');
    expect(dec(await h.read(0, 10))).toBe('abcd');
    expect(await d.list('/d')).toEqual([]);
  });

  it('uses no wall clock, timers or Math.random (determinism)', () => {
    const dir = new URL('../../sim/', import.meta.url);
    // The whole tree is checked by test/determinism.test.ts; the disk has no exception at all.
    const sources = readdirSync(dir).filter((f) => f === 'disk.ts');
    expect(sources).toContain('disk.ts');
    for (const file of sources) {
      const text = readFileSync(new URL(file, dir), 'utf8');
      expect(text).not.toMatch(/\b(Date\.now|Math\.random|setTimeout|setInterval|setImmediate|performance\.now)\s*\(/);
    }
  });
});
