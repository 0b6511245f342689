/** Every file of a store folder but the lock, by path relative to it, as bytes (to compare stores byte for byte). */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { expect } from 'vitest';

export function storeFiles(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name !== 'LOCK') out.set(relative(dir, path), readFileSync(path));
    }
  };
  walk(dir);
  return out;
}

/** Asserts that the store folder `actual` holds exactly the files of `expected`, byte for byte; returns its files. */
export function expectSameStoreFiles(actual: string, expected: string, label = ''): Map<string, Buffer> {
  const a = storeFiles(actual);
  const e = storeFiles(expected);
  expect([...a.keys()].sort(), `${label}files`).toEqual([...e.keys()].sort());
  for (const [path, bytes] of e) expect((a.get(path) as Buffer).equals(bytes), `${label}${path}`).toBe(true);
  return a;
}
