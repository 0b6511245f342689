import { NatsStore } from '../../../src/store/nats/nats-store.ts';
import { service } from '../../helpers/services.ts';
import { eventStoreContract } from '../contract.ts';
import { freshPrefix, natsUrl } from './nats-fixture.ts';

// Outside CI an unreachable server skips the suite (with the reason printed); under CI=true it fails.
const available = await service('nats');

/** Every store a test opened on a prefix, so teardown drops the prefix once and closes them all. */
const opened = new Map<NatsStore, string>();

if (available) {
  eventStoreContract('nats', {
    async create(clock) {
      const prefix = freshPrefix();
      const store = await NatsStore.open(natsUrl(prefix), { clock });
      opened.set(store, prefix);
      return {
        store,
        async reopen() {
          await store.close();
          const again = await NatsStore.open(natsUrl(prefix), { clock });
          opened.set(again, prefix);
          return again;
        },
      };
    },
    async teardown(store) {
      await (store as NatsStore).drop();
      for (const other of opened.keys()) await other.close();
      opened.clear();
    },
  });
}
