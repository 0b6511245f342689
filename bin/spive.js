#!/usr/bin/env node
// The `spive` binary: loads the TypeScript sources (and users' TypeScript apps) through tsx,
// so `npx spive …` works right after `npm ci` with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv);
