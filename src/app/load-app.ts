/**
 * Loads an app module as the CLI names it: a .ts/.js file, or a folder holding `app.ts`. The module's
 * default export (or an export named `app`) must be what `defineApp` returned.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidInputError, NotFoundError } from '../model/errors.ts';
import type { AppDef } from './define.ts';
import { sourceVersion } from './source-version.ts';

export interface LoadedApp {
  readonly app: AppDef;
  /** The module file that was loaded. */
  readonly file: string;
  /** Default version for processes without an explicit tag. */
  readonly version: string;
}

export function resolveAppFile(spec: string): string {
  const path = resolve(spec);
  if (!existsSync(path)) throw new NotFoundError(`app ${spec}`);
  if (statSync(path).isDirectory()) {
    for (const name of ['app.ts', 'app.tsx', 'app.js', 'app.mjs']) {
      const candidate = resolve(path, name);
      if (existsSync(candidate)) return candidate;
    }
    throw new InvalidInputError('<app>', `a module file, or a folder holding app.ts (${spec} has none)`, spec);
  }
  return path;
}

/**
 * Apps are ES modules (they import `spive`, which is one). `npm init -y` writes `"type": "commonjs"`,
 * and a .ts or .js app then fails to load with a message about require(): name the fix.
 */
function commonJsHint(file: string): string {
  if (!/\.(ts|tsx|js)$/.test(file)) return '';
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      let type: unknown;
      try {
        type = (JSON.parse(readFileSync(pkg, 'utf8')) as { type?: unknown }).type;
      } catch {
        return '';
      }
      return type === 'module' ? '' : `; ${pkg} does not say "type": "module", so Node.js loads the app as CommonJS — run \`npm pkg set type=module\` in ${dir}`;
    }
    if (dirname(dir) === dir) return `; no package.json above ${file} says "type": "module", so Node.js loads it as CommonJS — add one (\`npm init -y && npm pkg set type=module\`) or name the file .mts`;
  }
}

export async function loadApp(spec: string): Promise<LoadedApp> {
  const file = resolveAppFile(spec);
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (e) {
    throw new InvalidInputError('<app>', `a module that loads (${file} failed: ${e instanceof Error ? e.message : String(e)})${commonJsHint(file)}`);
  }
  const candidate = (module.default ?? module.app) as Partial<AppDef> | undefined;
  if (candidate === undefined || candidate === null || candidate.kind !== 'app') {
    throw new InvalidInputError('<app>', `a module whose default export is defineApp({...}) (${file} exports ${Object.keys(module).join(', ') || 'nothing'})`);
  }
  return { app: candidate as AppDef, file, version: sourceVersion(file) };
}
