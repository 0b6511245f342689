import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ALL_SHARDS, SHARD_BUCKETS, bucketOf, parseShardRange } from 'spive';

describe('shard buckets and ranges', () => {
  it('maps every key to a stable bucket in range', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), (key) => {
        const b = bucketOf(key);
        expect(Number.isInteger(b) && b >= 0 && b < SHARD_BUCKETS).toBe(true);
        expect(bucketOf(key)).toBe(b);
      }),
    );
  });

  it('is FNV-1a over UTF-16 code units modulo 4096 (changing it would move keys between runners)', () => {
    const reference = (key: string) => {
      let h = 0x811c9dc5n;
      for (let i = 0; i < key.length; i++) h = ((h ^ BigInt(key.charCodeAt(i))) * 0x01000193n) % 2n ** 32n;
      return Number(h % 4096n);
    };
    fc.assert(
      fc.property(fc.string(), (key) => {
        expect(bucketOf(key)).toBe(reference(key));
      }),
    );
  });

  it('spreads keys over buckets', () => {
    const used = new Set(Array.from({ length: 20_000 }, (_, i) => bucketOf(`key-${i}`)));
    expect(used.size).toBeGreaterThan(SHARD_BUCKETS * 0.95);
  });

  it('parses ranges and rejects malformed ones', () => {
    expect(parseShardRange('all')).toEqual(ALL_SHARDS);
    expect(parseShardRange('0-2048')).toEqual({ from: 0, to: 2048 });
    for (const bad of ['2048-0', '5-5', '0-5000', '-1-3', 'x', '1-']) expect(parseShardRange(bad), bad).toBeUndefined();
  });
});
