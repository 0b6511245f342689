/**
 * The default version of an app's processes: a hash of the app's source files — the app module and
 * the local files it imports, transitively (relative imports only; packages are not hashed). Any
 * edit to that code changes the version, which invalidates snapshots made by other versions.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';

const IMPORT = /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\s*\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)|^\s*import\s*['"](\.{1,2}\/[^'"]+)['"]/gm;
const EXTENSIONS = ['', '.ts', '.tsx', '.mts', '.js', '.mjs', '/index.ts', '/index.js'];

/** The local source files an app module depends on, itself first, then sorted. */
export function localSourceFiles(entry: string): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3];
      if (spec === undefined) continue;
      const target = resolveLocal(dirname(file), spec);
      if (target !== undefined) visit(target);
    }
  };
  const root = resolve(entry);
  visit(root);
  return [root, ...[...seen].filter((f) => f !== root).sort()];
}

function resolveLocal(dir: string, spec: string): string | undefined {
  const base = resolve(dir, spec);
  const candidates = [...EXTENSIONS.map((e) => base + e)];
  if (/\.(m?js)$/.test(base)) candidates.push(base.replace(/\.(m?js)$/, '.ts'), base.replace(/\.(m?js)$/, '.mts'));
  for (const c of candidates) if (existsSync(c) && statSync(c).isFile()) return c;
  return undefined;
}

/** `src-` and 12 hex digits of a SHA-256 over the files' paths (relative to the entry) and contents. */
export function sourceVersion(entry: string): string {
  const files = localSourceFiles(entry);
  const root = dirname(files[0] as string);
  const hash = createHash('sha256');
  for (const file of files) {
    hash.update(relative(root, file)).update('\u0000').update(readFileSync(file)).update('\u0000');
  }
  return `src-${hash.digest('hex').slice(0, 12)}`;
}
