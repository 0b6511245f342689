/** The PostgreSQL store passes the same contract as every other store, against the real server. */
import { describe } from 'vitest';
import type { EventStore } from 'spive';
import { PostgresStore } from '../../../src/store/postgres/postgres-store.ts';
import { service } from '../../helpers/services.ts';
import { eventStoreContract } from '../contract.ts';
import { dropSchema, freshSchema, storeUrl } from './pg-test-db.ts';

const up = await service('postgres');
const schemas = new Map<EventStore, string>();

describe.skipIf(!up)('PostgreSQL store', () => {
  eventStoreContract('postgres', {
    async create(clock) {
      const schema = freshSchema('c');
      const open = () => PostgresStore.open(storeUrl(schema), { clock, poolSize: 4 });
      const store = await open();
      schemas.set(store, schema);
      return {
        store,
        async reopen() {
          await store.close();
          const again = await open();
          schemas.set(again, schema);
          return again;
        },
      };
    },
    async teardown(store) {
      await store.close();
      const schema = schemas.get(store);
      schemas.delete(store);
      if (schema !== undefined) await dropSchema(schema);
    },
  });
});
