/**
 * Corruption is found and named, never skipped: flipped bytes in WAL segments and in sealed Arrow
 * column files, torn tails, bad FORMAT files. Frames are located here from the documented layout
 * (docs/embedded-store.md: `[magic "SPV1"][body length u32][CRC-32 u32][body]`, little-endian), not
 * with the store's own parser.
 */
import { readFileSync, writeFileSync, appendFileSync, truncateSync, readdirSync, renameSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CorruptDataError, EmbeddedStore, isCorrupt, isInvalidInput, seededRandom, type StoredEvent } from 'spive';
import { SimDisk } from '../../../sim/disk.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { checkStore, makeBatch, type BatchSpec, type Placement } from './crash-workload.ts';

const DIR = '/store';
const HEADER = 12;
const MAGIC = [0x53, 0x50, 0x56, 0x31]; // "SPV1"

interface Frame {
  readonly offset: number;
  readonly end: number;
}

/** Frames of a clean segment, walked by their length fields. */
function framesOf(bytes: Uint8Array): Frame[] {
  const frames: Frame[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let o = 0; o < bytes.byteLength; ) {
    expect([...bytes.subarray(o, o + 4)]).toEqual(MAGIC);
    const end = o + HEADER + view.getUint32(o + 4, true);
    frames.push({ offset: o, end });
    o = end;
  }
  return frames;
}

function segmentPath(dir: string, n: number): string {
  return `${dir}/wal/${String(n).padStart(10, '0')}.log`;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a failure, but it succeeded');
}

async function readAllEvents(store: EmbeddedStore): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for await (const b of store.readAll()) out.push(...b);
  return out;
}

/** A store closed cleanly on a simulated disk, with what was acknowledged where. */
interface Built {
  readonly disk: SimDisk;
  readonly specs: Map<string, BatchSpec>;
  readonly acked: Map<string, Placement>;
  /** Frames per WAL segment (1-based segment number → frames). */
  readonly segments: Map<number, Frame[]>;
}

async function build(seed: number, batches: number, segmentBytes = 4096): Promise<Built> {
  const disk = new SimDisk(seededRandom(seed), { maxYields: 0 });
  const store = await EmbeddedStore.open(DIR, { fs: disk, lock: false, parquet: false, autoSeal: false, segmentBytes });
  const specs = new Map<string, BatchSpec>();
  const acked = new Map<string, Placement>();
  for (let i = 0; i < batches; i++) {
    const spec = makeBatch(seed, 0, i);
    specs.set(spec.id, spec);
    acked.set(spec.id, await store.append(spec.stream, spec.key, spec.events));
  }
  await store.close();
  const segments = new Map<number, Frame[]>();
  for (const name of await disk.list(`${DIR}/wal`)) segments.set(Number(name.slice(0, 10)), framesOf(await disk.readFile(`${DIR}/wal/${name}`)));
  return { disk, specs, acked, segments };
}

async function patchByte(disk: SimDisk, path: string, offset: number, xor: number): Promise<void> {
  const h = await disk.open(path, { create: false });
  const [b] = await h.read(offset, 1);
  await h.write(new Uint8Array([(b as number) ^ xor]), offset);
  await h.sync();
  await h.close();
}

const open = (disk: SimDisk, warn: (m: string) => void = (m) => expect.fail(`unexpected warning: ${m}`)) =>
  EmbeddedStore.open(DIR, { fs: disk, lock: false, parquet: false, autoSeal: false, warn });

describe('corrupt WAL segments', () => {
  it('a flipped byte in the middle of a segment fails open with CORRUPT naming the file and the frame offset (real disk)', async () => {
    const dir = tempDir('spive-corrupt-');
    try {
      const store = await EmbeddedStore.open(dir.path, { segmentBytes: 4096, parquet: false, autoSeal: false, warn: () => undefined });
      for (let i = 0; i < 30; i++) {
        const b = makeBatch(5, 0, i);
        await store.append(b.stream, b.key, b.events);
      }
      await store.close();
      // A segment before the last one, with a frame before and after the damaged one.
      const segments = readdirSync(`${dir.path}/wal`).length;
      expect(segments).toBeGreaterThan(2);
      const segment = Array.from({ length: segments - 1 }, (_, i) => i + 1).find((n) => framesOf(readFileSync(segmentPath(dir.path, n))).length >= 3);
      expect(segment).toBeDefined();
      const file = segmentPath(dir.path, segment as number);
      const bytes = readFileSync(file);
      const frames = framesOf(bytes);
      const victim = frames[1] as Frame; // a frame with frames after it
      const at = victim.offset + Math.floor((victim.end - victim.offset) / 2);
      bytes[at] = (bytes[at] as number) ^ 0x40;
      writeFileSync(file, bytes);
      const error = await rejection(EmbeddedStore.open(dir.path, { warn: () => undefined }));
      expect(error).toBeInstanceOf(CorruptDataError);
      expect(error).toMatchObject({ code: 'CORRUPT', file, offset: victim.offset });
      expect((error as Error).message).toContain(`corrupt data in ${file} at offset ${victim.offset}: checksum mismatch`);
      // Read-only opens refuse too: corruption is never mistaken for a torn tail.
      await expect(EmbeddedStore.open(dir.path, { readOnly: true, warn: () => undefined })).rejects.toMatchObject({ code: 'CORRUPT', file, offset: victim.offset });
      // Nothing was truncated or "repaired" by the failed opens.
      expect(readFileSync(file).equals(bytes)).toBe(true);
    } finally {
      dir.cleanup();
    }
  });

  it('a missing segment fails open with CORRUPT naming the segment after the gap', async () => {
    const dir = tempDir('spive-corrupt-');
    try {
      const store = await EmbeddedStore.open(dir.path, { segmentBytes: 4096, parquet: false, autoSeal: false, warn: () => undefined });
      for (let i = 0; i < 30; i++) {
        const b = makeBatch(6, 0, i);
        await store.append(b.stream, b.key, b.events);
      }
      await store.close();
      expect(readdirSync(`${dir.path}/wal`).length).toBeGreaterThan(3);
      renameSync(segmentPath(dir.path, 2), `${dir.path}/segment-2-moved-away`);
      await expect(EmbeddedStore.open(dir.path, { warn: () => undefined })).rejects.toMatchObject({ code: 'CORRUPT', file: segmentPath(dir.path, 3), offset: 0 });
    } finally {
      dir.cleanup();
    }
  });

  describe('any single flipped byte of acknowledged data (property)', () => {
    let built: Built;
    beforeAll(async () => {
      built = await build(21, 40);
    });

    it('is detected: open fails with CORRUPT naming the segment and the offset of the frame holding the byte', async () => {
      const segments = [...built.segments.keys()];
      const last = Math.max(...segments);
      expect(segments.length).toBeGreaterThan(3);
      // Every byte of every frame, except the last frame of the last segment (next test).
      const targets: Array<{ segment: number; frame: Frame }> = [];
      for (const [segment, frames] of built.segments) {
        for (let f = 0; f < frames.length; f++) if (segment !== last || f < frames.length - 1) targets.push({ segment, frame: frames[f] as Frame });
      }
      let tried = 0;
      await fc.assert(
        fc.asyncProperty(fc.nat(targets.length - 1), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.integer({ min: 1, max: 255 }), async (t, where, xor) => {
          const { segment, frame } = targets[t] as { segment: number; frame: Frame };
          const at = frame.offset + Math.floor(where * (frame.end - frame.offset));
          const disk = built.disk.copy();
          const file = segmentPath(DIR, segment);
          await patchByte(disk, file, at, xor);
          const error = await rejection(open(disk));
          expect(isCorrupt(error), String(error)).toBe(true);
          expect(error).toMatchObject({ file, offset: frame.offset });
          expect((error as Error).message).toContain(`${file} at offset ${frame.offset}`);
          tried++;
        }),
        { numRuns: 150, seed: 1 },
      );
      expect(tried).toBe(150);
    });

    it('known limit: in the last frame of the last segment it reads as a torn tail, and is truncated with a warning naming it', async () => {
      // docs/embedded-store.md, "Known limit": without a commit marker, a damaged final frame is
      // indistinguishable from a write cut short by a crash. It is not silent: open warns.
      const last = Math.max(...built.segments.keys());
      const frames = built.segments.get(last) as Frame[];
      const frame = frames[frames.length - 1] as Frame;
      const file = segmentPath(DIR, last);
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: frame.offset, max: frame.end - 1 }), fc.integer({ min: 1, max: 255 }), async (at, xor) => {
          const disk = built.disk.copy();
          await patchByte(disk, file, at, xor);
          const warnings: string[] = [];
          const store = await open(disk, (m) => warnings.push(m));
          expect(warnings).toHaveLength(1);
          expect(warnings[0]).toContain(`${file}: discarding a torn tail of ${frame.end - frame.offset} bytes at offset ${frame.offset}`);
          // Exactly the batch in that frame is gone; everything before it is intact.
          const events = await readAllEvents(store);
          const lostId = [...built.acked.keys()].at(-1) as string;
          const acked = new Map([...built.acked].filter(([id]) => id !== lostId));
          const check = await checkStore(store, { batch: (id) => built.specs.get(id), acked });
          expect(check.violations).toEqual([]);
          expect(check.present.has(lostId)).toBe(false);
          expect(events.length).toBe((built.acked.get(lostId) as Placement).firstPosition - 1);
          await store.close();
        }),
        { numRuns: 25, seed: 2 },
      );
    });
  });
});

describe('torn tails', () => {
  let built: Built;
  let lastSegment: number;
  let tornFrame: Frame;
  let tornId: string;
  beforeAll(async () => {
    // The first history (from 25 batches on) whose last segment holds several frames.
    for (let batches = 25; ; batches++) {
      built = await build(31, batches);
      lastSegment = Math.max(...built.segments.keys());
      if ((built.segments.get(lastSegment) as Frame[]).length > 1) break;
    }
    const frames = built.segments.get(lastSegment) as Frame[];
    expect(frames.length).toBeGreaterThan(1);
    tornFrame = frames[frames.length - 1] as Frame;
    tornId = [...built.acked.keys()].at(-1) as string;
  });

  it('a last segment cut anywhere inside its final frame loses that write only, with a warning; the store goes on', async () => {
    // The final frame stands for a write the crash interrupted: not acknowledged.
    const file = segmentPath(DIR, lastSegment);
    const acked = new Map([...built.acked].filter(([id]) => id !== tornId));
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: tornFrame.offset + 1, max: tornFrame.end - 1 }), async (cutAt) => {
        const disk = built.disk.copy();
        const h = await disk.open(file, { create: false });
        await h.truncate(cutAt);
        await h.sync();
        await h.close();
        const warnings: string[] = [];
        const store = await open(disk, (m) => warnings.push(m));
        expect(warnings).toEqual([expect.stringContaining(`${file}: discarding a torn tail of ${cutAt - tornFrame.offset} bytes at offset ${tornFrame.offset}`)]);
        const check = await checkStore(store, { batch: (id) => built.specs.get(id), acked });
        expect(check.violations).toEqual([]);
        expect(check.present.size).toBe(built.acked.size - 1);
        expect((await disk.readFile(file)).byteLength).toBe(tornFrame.offset);
        // New appends go where the torn write was, and a reopen is clean.
        const spec = makeBatch(31, 1, 0);
        const r = await store.append(spec.stream, spec.key, spec.events);
        expect(r.firstPosition).toBe(check.events + 1);
        await store.close();
        const again = await open(disk);
        expect((await checkStore(again, { batch: (id) => built.specs.get(id) ?? (id === spec.id ? spec : undefined), acked: new Map([...acked, [spec.id, r]]) })).violations).toEqual([]);
        await again.close();
      }),
      { numRuns: 30, seed: 3 },
    );
  });

  it('a final write torn after any prefix of its bytes, the rest zeros or garbage, is a torn tail (property)', async () => {
    // This is how the simulated disk tears a write. Only the magic landed, then zeros, reads as a
    // frame of length 0 with CRC 0 — which matches — and once failed open as "undecodable record".
    const file = segmentPath(DIR, lastSegment);
    const acked = new Map([...built.acked].filter(([id]) => id !== tornId));
    const original = (await built.disk.readFile(file)).subarray(tornFrame.offset, tornFrame.end);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: original.byteLength - 1 }),
        fc.option(fc.uint8Array({ minLength: original.byteLength, maxLength: original.byteLength }), { nil: undefined }),
        async (landed, noise) => {
          const torn = original.slice();
          // Zeros, or garbage that differs from what should have been there in every byte.
          for (let i = landed; i < torn.byteLength; i++) torn[i] = noise === undefined ? 0 : (torn[i] as number) ^ ((noise[i] as number) | 1);
          const disk = built.disk.copy();
          const h = await disk.open(file, { create: false });
          await h.write(torn, tornFrame.offset);
          await h.sync();
          await h.close();
          const warnings: string[] = [];
          const store = await open(disk, (m) => warnings.push(m));
          expect(warnings).toEqual([expect.stringContaining(`${file}: discarding a torn tail of ${torn.byteLength} bytes at offset ${tornFrame.offset}`)]);
          const check = await checkStore(store, { batch: (id) => built.specs.get(id), acked });
          expect(check.violations).toEqual([]);
          expect(check.present.has(tornId)).toBe(false);
          await store.close();
        },
      ),
      { numRuns: 60, seed: 6, examples: [[4, undefined], [5, undefined], [0, undefined]] },
    );
  });

  it('zeros or garbage after the last frame are truncated with a warning, and nothing acknowledged is lost', async () => {
    const file = segmentPath(DIR, lastSegment);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.integer({ min: 1, max: 5000 }).map((n) => new Uint8Array(n)),
          fc.uint8Array({ minLength: 1, maxLength: 5000 }),
        ),
        async (tail) => {
          const disk = built.disk.copy();
          const h = await disk.open(file, { create: false });
          await h.write(tail, tornFrame.end);
          await h.sync();
          await h.close();
          const warnings: string[] = [];
          const store = await open(disk, (m) => warnings.push(m));
          expect(warnings).toEqual([expect.stringContaining(`${file}: discarding a torn tail of ${tail.byteLength} bytes at offset ${tornFrame.end}`)]);
          const check = await checkStore(store, { batch: (id) => built.specs.get(id), acked: built.acked });
          expect(check.violations).toEqual([]);
          expect(check.present.size).toBe(built.acked.size);
          expect((await disk.readFile(file)).byteLength).toBe(tornFrame.end);
          await store.close();
        },
      ),
      { numRuns: 30, seed: 4 },
    );
  });

  it('a torn tail on a real disk too (truncated mid-frame, then zeros appended)', async () => {
    const dir = tempDir('spive-torn-');
    try {
      const store = await EmbeddedStore.open(dir.path, { parquet: false, warn: () => undefined });
      const specs = [0, 1, 2, 3].map((i) => makeBatch(41, 0, i));
      const acked = new Map<string, Placement>();
      for (const s of specs) acked.set(s.id, await store.append(s.stream, s.key, s.events));
      await store.close();
      const file = segmentPath(dir.path, 1);
      const frames = framesOf(readFileSync(file));
      const last = frames[3] as Frame;
      truncateSync(file, last.offset + 7);
      appendFileSync(file, new Uint8Array(100));
      acked.delete((specs[3] as BatchSpec).id);
      const warnings: string[] = [];
      const again = await EmbeddedStore.open(dir.path, { warn: (m) => warnings.push(m) });
      expect(warnings.filter((w) => w.includes('torn tail'))).toEqual([expect.stringContaining(`${file}: discarding a torn tail of 107 bytes at offset ${last.offset}`)]);
      const check = await checkStore(again, { batch: (id) => specs.find((s) => s.id === id), acked });
      expect(check.violations).toEqual([]);
      expect(check.present.size).toBe(3);
      await again.close();
      expect(readFileSync(file).byteLength).toBe(last.offset);
    } finally {
      dir.cleanup();
    }
  });
});

describe('corrupt sealed Arrow column files', () => {
  const BLOCK = 1 << 20;
  let disk: SimDisk;
  let arrowFile: string;
  let size: number;
  let store: EmbeddedStore;
  beforeAll(async () => {
    disk = new SimDisk(seededRandom(51), { maxYields: 0 });
    store = await EmbeddedStore.open(DIR, { fs: disk, lock: false, parquet: false });
    // 40,000 events with two numeric fields: an Arrow file of well over one 1 MiB block.
    for (let b = 0; b < 40; b++) {
      const events = Array.from({ length: 1000 }, (_, i) => ({ type: 'Tick', time: 1_700_000_000_000 + b * 1000 + i, data: { price: b * 1000 + i, qty: i % 7 } }));
      await store.append('ticks', `k${b % 5}`, events);
    }
    await store.seal();
    const files = (await disk.list(`${DIR}/columns/stream=ticks`)).filter((f) => f.endsWith('.arrow'));
    expect(files).toEqual(['0000000001.arrow']);
    arrowFile = `${DIR}/columns/stream=ticks/${files[0]}`;
    size = (await disk.readFile(arrowFile)).byteLength;
    expect(size).toBeGreaterThan(BLOCK);
  });
  afterAll(async () => {
    await store.close();
  });

  async function scan(): Promise<number> {
    let rows = 0;
    for await (const batch of store.scanColumns('ticks')) rows += batch.length;
    return rows;
  }

  it('scans cleanly before any damage', async () => {
    expect(await scan()).toBe(40_000);
  });

  it('any flipped byte fails scanColumns with CORRUPT naming the file and the offset of its 1 MiB block (property)', async () => {
    const blocks = new Set<number>();
    await fc.assert(
      fc.asyncProperty(fc.nat(size - 1), fc.integer({ min: 1, max: 255 }), async (at, xor) => {
        await patchByte(disk, arrowFile, at, xor);
        try {
          const error = await rejection(scan());
          const block = Math.floor(at / BLOCK) * BLOCK;
          expect(error).toBeInstanceOf(CorruptDataError);
          expect(error).toMatchObject({ code: 'CORRUPT', file: arrowFile, offset: block });
          expect((error as Error).message).toContain(`corrupt data in ${arrowFile} at offset ${block}: checksum mismatch`);
          blocks.add(block);
          // The WAL is the source of truth and is untouched: row reads still work.
          let n = 0;
          for await (const b of store.readStream('ticks', { batchSize: 10_000 })) n += b.length;
          expect(n).toBe(40_000);
        } finally {
          await patchByte(disk, arrowFile, at, xor);
        }
      }),
      { numRuns: 60, seed: 5 },
    );
    expect(await scan()).toBe(40_000);
    expect(blocks.size).toBeGreaterThan(1);
  });

  it('a byte flipped in the second block names offset 1 MiB; a truncated file names where it ends', async () => {
    await patchByte(disk, arrowFile, BLOCK + 17, 0x01);
    await expect(scan()).rejects.toMatchObject({ code: 'CORRUPT', file: arrowFile, offset: BLOCK });
    await patchByte(disk, arrowFile, BLOCK + 17, 0x01);
    const h = await disk.open(arrowFile, { create: false });
    const tail = await h.read(size - 100, 100);
    await h.truncate(size - 100);
    await expect(scan()).rejects.toMatchObject({ code: 'CORRUPT', file: arrowFile, offset: size - 100 });
    await h.write(tail, size - 100);
    await h.close();
    expect(await scan()).toBe(40_000);
  });
});

describe('bad FORMAT files', () => {
  const cases: Array<{ name: string; content: string; check: (e: unknown, path: string) => void }> = [
    {
      name: 'not JSON',
      content: 'spive-embedded v1\n',
      check: (e, path) => {
        expect(e).toMatchObject({ code: 'CORRUPT', file: path, offset: 0 });
        expect((e as Error).message).toBe(`corrupt data in ${path} at offset 0: FORMAT is not JSON`);
      },
    },
    {
      name: 'another format',
      content: '{"format":"sqlite","version":1}\n',
      check: (e, path) => {
        expect(isInvalidInput(e)).toBe(true);
        expect((e as Error).message).toContain(`${path} names format "sqlite"`);
      },
    },
    {
      name: 'a newer version',
      content: '{"format":"spive-embedded","version":2}\n',
      check: (e, path) => {
        expect(isInvalidInput(e)).toBe(true);
        expect((e as Error).message).toContain(`store format version 1 (${path} says 2; this Spive cannot read it)`);
      },
    },
  ];
  for (const c of cases) {
    it(`FORMAT holding ${c.name} fails open with a clear error naming the file`, async () => {
      const dir = tempDir('spive-format-');
      try {
        const store = await EmbeddedStore.open(dir.path, { warn: () => undefined });
        const b = makeBatch(61, 0, 0);
        await store.append(b.stream, b.key, b.events);
        await store.close();
        const path = `${dir.path}/FORMAT`;
        writeFileSync(path, c.content);
        for (const readOnly of [false, true]) c.check(await rejection(EmbeddedStore.open(dir.path, { readOnly, warn: () => undefined })), path);
        // The failed open touched nothing: putting FORMAT back gives the store back.
        writeFileSync(path, '{"format":"spive-embedded","version":1}\n');
        const again = await EmbeddedStore.open(dir.path, { readOnly: true });
        expect((await again.stats()).events).toBe(b.events.length);
        await again.close();
      } finally {
        dir.cleanup();
      }
    });
  }

  it('a folder with other files and no FORMAT is refused, not taken over', async () => {
    const dir = tempDir('spive-format-');
    try {
      writeFileSync(`${dir.path}/notes.txt`, 'mine');
      const e = await rejection(EmbeddedStore.open(dir.path, { warn: () => undefined }));
      expect(isInvalidInput(e)).toBe(true);
      expect((e as Error).message).toContain(`${dir.path} holds other files (notes.txt)`);
      expect(readdirSync(dir.path)).toEqual(['notes.txt']);
    } finally {
      dir.cleanup();
    }
  });
});
