/**
 * `npm run soak`: the long crash campaigns in test/soak, which `npm test` leaves out. Same settings
 * as vitest.config.ts (the `spive` alias, forks), but only test/soak, and long timeouts.
 */
import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['test/soak/**/*.test.ts'],
    exclude: ['node_modules/**'],
    testTimeout: 600_000,
  },
});
