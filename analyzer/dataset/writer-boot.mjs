// Entry of a dataset's writer thread. A worker starts without its parent's module hooks, so it registers
// tsx (Spive's sources are TypeScript), as src/store/embedded/bulk-sink-boot.mjs does.
import { register } from 'tsx/esm/api';

register();
await import('./writer-worker.ts');
