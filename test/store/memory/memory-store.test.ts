import { MemoryStore } from 'spive';
import { eventStoreContract } from '../contract.ts';

eventStoreContract('in-memory', {
  create: async (clock) => ({ store: new MemoryStore({ clock }) }),
  teardown: (store) => store.close(),
});
