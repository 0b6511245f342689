/** Examples run as users run them: a separate process, importing the package as `spive` (no alias). */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { EmbeddedStore } from 'spive';
import { tempDir } from '../helpers/temp-dir.ts';

describe('examples/store-basics', () => {
  it('runs under tsx, resolving `spive` through the package exports, and leaves the store it describes', async () => {
    const dir = tempDir();
    try {
      const stdout = execFileSync(process.execPath, ['--import', 'tsx', 'examples/store-basics/main.ts', dir.path], { encoding: 'utf8' });
      expect(stdout).toContain('stale write refused: CONFLICT');
      expect(stdout).toContain('alice: 3 deposits, balance 175');
      const store = await EmbeddedStore.open(dir.path, { readOnly: true });
      try {
        expect(await store.head('deposits', 'alice')).toEqual({ lastSeq: 3, lastTime: Date.parse('2026-01-01T12:00:00Z') });
      } finally {
        await store.close();
      }
    } finally {
      dir.cleanup();
    }
  });
});
