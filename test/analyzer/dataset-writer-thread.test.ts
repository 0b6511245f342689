/**
 * A dataset written with the bulk writer's sink on its own thread (frames and column records moved to
 * it) is byte for byte the store written with the sink in the folding thread, across segment ends.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_START_MS, generateDataset } from '../../analyzer/dataset/generate.ts';
import { bankExample } from '../../analyzer/dataset/examples/bank.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { expectSameStoreFiles } from '../helpers/store-files.ts';

describe('dataset sink thread', () => {
  it('generates the same store, byte for byte, as a writer in the folding thread', async () => {
    const dir = tempDir('spive-dataset-thread-');
    try {
      const options = { example: bankExample, events: 2000, keys: 200, skew: 0.99, seed: 9, days: 2, startMs: DEFAULT_START_MS, segmentBytes: 192 * 1024, snapshotEvery: 500 };
      const threaded = await generateDataset({ ...options, out: `${dir.path}/threaded` });
      const inline = await generateDataset({ ...options, out: `${dir.path}/inline`, thread: false });
      expect({ ...threaded, path: '', wallMs: 0 }).toEqual({ ...inline, path: '', wallMs: 0 });
      const a = expectSameStoreFiles(`${dir.path}/threaded`, `${dir.path}/inline`);
      expect([...a.keys()].filter((name) => name.endsWith('.parquet')).length).toBeGreaterThan(3);
    } finally {
      dir.cleanup();
    }
  }, 60_000);
});
