import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Apps and examples import the public API as `spive`, exactly as users do.
    alias: [
      { find: /^spive\/sim$/, replacement: fileURLToPath(new URL('./sim/index.ts', import.meta.url)) },
      { find: /^spive\/test$/, replacement: fileURLToPath(new URL('./sim/test-helpers.ts', import.meta.url)) },
      { find: /^spive$/, replacement: fileURLToPath(new URL('./src/index.ts', import.meta.url)) },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/soak/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default', './test/helpers/summary-reporter.ts'],
  },
});
