/** Every file of a store folder but the lock, by path relative to it, as bytes (to compare stores byte for byte). */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

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
