/**
 * A fixed cost model for the bank's processes, recorded in a catalogue as if by a real replay (which
 * planning prefers to calibrating): calibration measures the store's own speed, so two stores holding
 * the same history plan alike only with the same costs.
 */
import { join } from 'node:path';
import { StatsCatalogue } from '../../analyzer/catalogue/catalogue.ts';
import { versionOf } from '../../analyzer/graph.ts';
import { loadApp } from '../../src/app/load-app.ts';

export async function seedBankCosts(catalogueDir: string): Promise<void> {
  const { app, version } = await loadApp('examples/bank');
  const catalogue = await StatsCatalogue.open(join(catalogueDir, 'stats.duckdb'));
  try {
    for (const p of app.processes) {
      await catalogue.recordCalibration({ process: p.name, nsPerEvent: 20_000, nsPerByte: 10, nsPerSnapshotByte: 10, nsPerSnapshot: 60_000, nsPerShard: 50_000, source: 'replay', samples: 1000 }, versionOf(p, version), 1);
    }
  } finally {
    catalogue.close();
  }
}
