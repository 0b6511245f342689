import { EmbeddedStore, type EventStore } from 'spive';
import { tempDir } from '../../helpers/temp-dir.ts';
import { eventStoreContract } from '../contract.ts';

const dirs = new Map<EventStore, () => void>();

eventStoreContract('embedded', {
  async create(clock) {
    const dir = tempDir('spive-embedded-');
    // Small segments so that the suite also crosses segment rotation and sealing.
    const options = { clock, segmentBytes: 4096, warn: () => undefined };
    const store = await EmbeddedStore.open(dir.path, options);
    dirs.set(store, dir.cleanup);
    return {
      store,
      async reopen() {
        await store.close();
        const again = await EmbeddedStore.open(dir.path, options);
        dirs.set(again, dir.cleanup);
        return again;
      },
    };
  },
  async teardown(store) {
    await store.close();
    dirs.get(store)?.();
    dirs.delete(store);
  },
});
