/**
 * `spive inspect <store-dir>`: one lane per stream; the activity comes from the sealed Parquet history
 * plus the unsealed tail read through the store, each event counted once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedStore } from '../../../src/store/embedded/embedded-store.ts';
import { openSource } from '../../../cli/inspect/sources.ts';
import { cellTotal } from '../../../cli/inspect/strip.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

const T0 = 1_700_000_000_000;

describe('inspecting an embedded store', () => {
  it('shows every stream as a lane, counting sealed history and the unsealed tail once each', async () => {
    const dir = tempDir('spive-inspect-store-');
    cleanups.push(dir.cleanup);
    const store = await EmbeddedStore.open(dir.path);
    // Sealed: 30 deposits and 10 ledger entries; then an unsealed tail of 5 more deposits.
    for (let i = 0; i < 30; i++) await store.append('deposits', `acct-${i % 3}`, [{ type: 'Deposited', time: T0 + i * 1000, data: { amount: i } }]);
    for (let i = 0; i < 10; i++) await store.append('ledger', `acct-${i % 2}`, [{ type: 'Credited', time: T0 + i * 3000, data: { amount: i } }]);
    await store.seal();
    for (let i = 30; i < 35; i++) await store.append('deposits', 'acct-9', [{ type: 'Deposited', time: T0 + i * 1000, data: { amount: i } }]);
    const sealedFiles = store.sealedHistory().length;
    await store.close();
    expect(sealedFiles).toBeGreaterThan(0);

    const data = await openSource(dir.path);
    try {
      expect(data.info.kind).toBe('store');
      expect(data.info.rows).toBe(45);
      expect(data.lanes).toEqual(['deposits', 'ledger']);
      expect(data.info.fromMs).toBe(T0);
      expect(data.info.toMs).toBe(T0 + 34_000);
      const strips = await data.strips({ fromMs: T0, toMs: T0 + 35_000 }, 35);
      const deposits = strips.find((s) => s.lane === 'deposits')?.cells.map(cellTotal);
      // One deposit per second, so one per column: sealed and tail alike.
      expect(deposits).toEqual(new Array(35).fill(1));
      expect(strips.find((s) => s.lane === 'ledger')?.total).toBe(10);
      // The tail's events are there with their payload, and the filter finds them by key.
      await data.setFilter({ key: 'acct-9' });
      expect(data.matches).toBe(5);
      const first = await data.firstAfter(T0);
      expect(first?.detail).toBe('Deposited {"amount":30}');
      expect(first?.timeMs).toBe(T0 + 30_000);
    } finally {
      await data.close();
    }
  });
});
