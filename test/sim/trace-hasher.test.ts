/**
 * The trace hash (sim/trace-hasher.ts) is SHA-256 over a binary form of the rows: strings go in as
 * their exact UTF-8 bytes (the hasher copies ASCII itself), and different row sequences never encode
 * alike.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TraceHasher } from '../../sim/trace-hasher.ts';

/** The same row as the hasher encodes it, built the plain way. */
function referenceRow(step: number, ms: number, texts: readonly string[], position: number, cause: number): Buffer {
  const head = Buffer.alloc(33);
  head[0] = 2;
  head.writeDoubleLE(step, 1);
  head.writeDoubleLE(ms, 9);
  head.writeDoubleLE(position, 17);
  head.writeDoubleLE(cause, 25);
  const parts = [head];
  for (const t of texts) {
    const bytes = Buffer.from(t, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32LE(bytes.length);
    parts.push(length, bytes);
  }
  return Buffer.concat(parts);
}

describe('the trace hasher', () => {
  it('hashes strings as their UTF-8 bytes, ASCII or not, short or longer than its buffer', () => {
    for (const s of ['', 'acct-12', 'héllo', '日本語 text', 'x\u{1F600}y', '\uD800', 'abc\uDC00', 'é'.repeat(30_000), 'a'.repeat(70_000)]) {
      const h = new TraceHasher();
      h.row(1, 2.5, 'append', s, '', 'k', 3, s, 0);
      const want = createHash('sha256').update(referenceRow(1, 2.5, ['append', s, '', 'k', s], 3, 0)).digest('hex');
      expect(h.digest(), JSON.stringify(s.slice(0, 10))).toBe(want);
    }
  });

  it('tells apart rows that printed alike would not (field boundaries, step rows, labels)', () => {
    const digest = (fill: (h: TraceHasher) => void) => {
      const h = new TraceHasher();
      fill(h);
      return h.digest();
    };
    const digests = [
      digest((h) => h.row(1, 0, 'a', 'b|c', '', '', 0, '', 0)),
      digest((h) => h.row(1, 0, 'a|b', 'c', '', '', 0, '', 0)),
      digest((h) => h.step(1, 0, 'x')),
      digest((h) => h.step(1, 0, 'y')),
      digest((h) => (h.step(1, 0, 'x'), h.step(2, 0, 'y'))),
      digest((h) => (h.step(1, 0, 'y'), h.step(2, 0, 'x'))),
      digest((h) => h.row(1, 0, 'step', 'x', '', '', 0, '', 0)),
    ];
    expect(new Set(digests).size).toBe(digests.length);
    expect(digest((h) => (h.step(1, 0.25, 'x'), h.step(2, 1, 'x')))).toBe(digest((h) => (h.step(1, 0.25, 'x'), h.step(2, 1, 'x'))));
  });
});
