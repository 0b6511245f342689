// Entry of a replay worker thread. A worker starts without its parent's module hooks, so it registers
// tsx (Spive's TypeScript sources and users' TypeScript apps load through it, as in bin/spive.js).
import { register } from 'tsx/esm/api';

register();
await import('./shard-worker.ts');
