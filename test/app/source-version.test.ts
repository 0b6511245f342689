/** The default process version: a hash of the app module and the local files it imports. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { localSourceFiles, sourceVersion } from '../../src/app/source-version.ts';
import { loadApp } from '../../src/app/load-app.ts';
import { tempDir } from '../helpers/temp-dir.ts';

describe('source versions', () => {
  it('covers the app module and its local imports, transitively, and changes when any of them changes', () => {
    const dir = tempDir();
    try {
      mkdirSync(join(dir.path, 'lib'));
      writeFileSync(join(dir.path, 'app.ts'), "import { rule } from './lib/rules.js';\nimport fc from 'fast-check';\nexport default rule;\n");
      writeFileSync(join(dir.path, 'lib', 'rules.ts'), "export { limit } from './limits.ts';\nexport const rule = 1;\n");
      writeFileSync(join(dir.path, 'lib', 'limits.ts'), 'export const limit = 10;\n');
      writeFileSync(join(dir.path, 'unrelated.ts'), 'export const x = 1;\n');
      expect(localSourceFiles(join(dir.path, 'app.ts')).map((f) => f.slice(dir.path.length + 1))).toEqual(['app.ts', 'lib/limits.ts', 'lib/rules.ts']);
      const v1 = sourceVersion(join(dir.path, 'app.ts'));
      expect(v1).toMatch(/^src-[0-9a-f]{12}$/);
      writeFileSync(join(dir.path, 'unrelated.ts'), 'export const x = 2;\n');
      expect(sourceVersion(join(dir.path, 'app.ts'))).toBe(v1);
      writeFileSync(join(dir.path, 'lib', 'limits.ts'), 'export const limit = 11;\n');
      expect(sourceVersion(join(dir.path, 'app.ts'))).not.toBe(v1);
    } finally {
      dir.cleanup();
    }
  });

  it('loads an app from a folder and explains what is wrong with a module that is not an app', async () => {
    const loaded = await loadApp('examples/bank');
    expect(loaded.app.name).toBe('bank');
    expect(loaded.file).toMatch(/examples\/bank\/app\.ts$/);
    await expect(loadApp('examples/store-basics')).rejects.toThrow(/a module file, or a folder holding app\.ts/);
    await expect(loadApp('examples/nope')).rejects.toThrow(/app examples\/nope not found/);
  });
});
