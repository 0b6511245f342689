/**
 * What `npm pack` ships (package.json `files`): everything an app that installs Spive runs — the CLI,
 * the platform, the simulator, the analyzer, the examples that `spive dataset generate` and `spive
 * demo` load, the docs — and none of the tests or generated data.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('the packed package', () => {
  it('holds what installed apps run and leaves tests and datasets out', () => {
    const [pack] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { encoding: 'utf8' })) as Array<{ files: Array<{ path: string }> }>;
    const paths = new Set(pack?.files.map((f) => f.path));
    for (const needed of ['package.json', 'README.md', 'bin/spive.js', 'src/index.ts', 'sim/index.ts', 'sim/test-helpers.ts', 'cli/main.ts', 'analyzer/dataset/generate.ts', 'examples/bank/app.ts', 'docs/tutorial.md', 'tsconfig.json']) {
      expect(paths.has(needed), needed).toBe(true);
    }
    expect([...paths].filter((p) => p.startsWith('test/') || p.startsWith('datasets/') || p.startsWith('node_modules/'))).toEqual([]);
  }, 60_000);
});
