/** Loading an app names what is wrong: a missing app, a module without defineApp, a CommonJS package. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadApp } from '../../src/app/load-app.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const APP = "import { defineApp, defineStream } from 'spive';\nconst s = defineStream('s');\nexport default defineApp({ name: 'x', streams: [s], processes: [] });\n";

describe('loadApp', () => {
  const temps: Array<{ cleanup: () => void }> = [];
  afterEach(() => {
    for (const t of temps.splice(0)) t.cleanup();
  });

  function appFolder(packageJson: object): string {
    const temp = tempDir('spive-load-');
    temps.push(temp);
    writeFileSync(join(temp.path, 'package.json'), JSON.stringify(packageJson));
    writeFileSync(join(temp.path, 'app.ts'), APP);
    mkdirSync(join(temp.path, 'node_modules'));
    symlinkSync(resolve('.'), join(temp.path, 'node_modules', 'spive'));
    return temp.path;
  }

  it('loads a folder holding app.ts in an ES module package', async () => {
    const loaded = await loadApp(appFolder({ name: 'x', type: 'module' }));
    expect(loaded.app.name).toBe('x');
  });

  it('says how to fix a package that npm init made CommonJS (exit 2, no stack trace)', () => {
    // Through the CLI: Node's own loader is what refuses the app (vitest's would load it).
    const dir = appFolder({ name: 'x', type: 'commonjs' });
    const run = spawnSync(process.execPath, ['bin/spive.js', 'simulate', dir], { encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`${join(dir, 'package.json')} does not say "type": "module"`);
    expect(run.stderr).toContain(`run \`npm pkg set type=module\` in ${dir}`);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('says how to fix an app with no package.json above it (Node.js loads it as CommonJS)', () => {
    const temp = tempDir('spive-load-');
    temps.push(temp);
    const file = join(temp.path, 'app.ts');
    writeFileSync(file, APP);
    const run = spawnSync(process.execPath, ['bin/spive.js', 'simulate', file], { encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`no package.json above ${file} says "type": "module"`);
  });

  it('names a missing app', async () => {
    await expect(loadApp('no/such/app')).rejects.toThrow(/app no\/such\/app/);
  });
});
