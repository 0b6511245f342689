#!/usr/bin/env node
// The `spive` binary: loads the TypeScript sources (and users' TypeScript apps) through tsx,
// so `npx spive …` works right after `npm ci` with no build step.
import { register } from 'tsx/esm/api';

register();
// `spive … | head` closes stdout early: that is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv);
