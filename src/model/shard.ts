/**
 * Shard ranges. Keys are hashed into a fixed space of buckets; runners own and lease contiguous
 * bucket ranges, so ownership does not depend on which keys exist yet.
 */
export const SHARD_BUCKETS = 4096;

/** Half-open range of buckets `[from, to)`. */
export interface ShardRange {
  readonly from: number;
  readonly to: number;
}

export const ALL_SHARDS: ShardRange = Object.freeze({ from: 0, to: SHARD_BUCKETS });

/** FNV-1a over UTF-16 code units: stable across processes and platforms. */
export function bucketOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % SHARD_BUCKETS;
}

export function rangeContains(range: ShardRange, bucket: number): boolean {
  return bucket >= range.from && bucket < range.to;
}

export function rangesOverlap(a: ShardRange, b: ShardRange): boolean {
  return a.from < b.to && b.from < a.to;
}

export function isValidRange(range: ShardRange): boolean {
  return (
    Number.isInteger(range.from) &&
    Number.isInteger(range.to) &&
    range.from >= 0 &&
    range.to <= SHARD_BUCKETS &&
    range.from < range.to
  );
}

/** Parses `0-2048` or `all`. */
export function parseShardRange(text: string): ShardRange | undefined {
  if (text === 'all') return ALL_SHARDS;
  const m = /^(\d+)-(\d+)$/.exec(text);
  if (!m) return undefined;
  const range = { from: Number(m[1]), to: Number(m[2]) };
  return isValidRange(range) ? range : undefined;
}
