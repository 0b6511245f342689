// Entry of a bulk load's sink thread. A worker starts without its parent's module hooks, so it registers
// tsx (Spive's sources are TypeScript), as src/replay/worker-boot.mjs does.
import { register } from 'tsx/esm/api';

register();
await import('./bulk-sink-worker.ts');
