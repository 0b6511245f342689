/**
 * Opening a store for the analyzer's commands (`replay-plan`, `replay`): where its statistics
 * catalogue lives, and for a PostgreSQL store the local Parquet export of its sealed history that
 * the catalogue reads (docs/postgres-store.md, "The analyzer on a PostgreSQL store").
 *
 * An embedded store keeps its catalogue inside its own folder (`<store>/analyzer/`). A remote store
 * has no folder of ours, so its catalogue (and export) live in the working directory by default,
 * one folder per store: `.spive-analyzer/<host>-<port>-<database>-<schema>/`, or `--catalogue <dir>`.
 */
import { join } from 'node:path';
import type { EventStore } from '../src/store/event-store.ts';
import { EmbeddedStore } from '../src/store/embedded/embedded-store.ts';
import { openStore, parseStoreLocation, type StoreLocation } from '../src/store/open-store.ts';
import type { HistoryExportReport } from '../src/store/postgres/history-export.ts';
import { parsePostgresLocation } from '../src/store/postgres/location.ts';
import { PostgresStore } from '../src/store/postgres/postgres-store.ts';
import { UsageError } from './exit-codes.ts';

/** Where remote stores' catalogues go unless `--catalogue` says otherwise (relative to the working directory). */
export const REMOTE_CATALOGUE_ROOT = '.spive-analyzer';

export interface AnalyzedStore {
  readonly store: EventStore;
  readonly location: StoreLocation;
  /** The folder of the catalogue (`stats.duckdb`) and, for PostgreSQL, of the history export (`history/`). */
  readonly catalogueDir: string;
}

/** The catalogue folder of a store: `--catalogue` if given, else the store's own or the per-store default. */
export function catalogueDirFor(location: StoreLocation, option: string | undefined): string {
  if (option !== undefined) return option;
  switch (location.kind) {
    case 'embedded':
      return join(location.dir, 'analyzer');
    case 'postgres': {
      const pg = parsePostgresLocation(location.url);
      return join(REMOTE_CATALOGUE_ROOT, safeName(`${pg.server}-${pg.schema}`));
    }
    case 'nats':
      return join(REMOTE_CATALOGUE_ROOT, safeName(location.url.replace(/^nats:\/\/([^@/]*@)?/, 'nats-')));
    case 'memory':
      throw new UsageError('--store: memory: is empty in a new process; the analyzer needs a store with history: a path, file:<dir>, postgres://… or nats://…');
  }
}

/**
 * Opens the store for a command of `command`'s kind: an embedded store read-only (it works while
 * `spive run` holds it) unless `write`, any other store through `openStore` (they take many processes).
 */
export async function openAnalyzedStore(text: string, options: { catalogue?: string; write: boolean; command: string; warn: (m: string) => void }): Promise<AnalyzedStore> {
  const location = parseStoreLocation(text, '--store');
  const catalogueDir = catalogueDirFor(location, options.catalogue);
  const store =
    location.kind === 'embedded'
      ? await EmbeddedStore.open(location.dir, options.write ? { warn: options.warn, command: options.command } : { readOnly: true, warn: options.warn })
      : await openStore(location, { command: options.command, warn: options.warn });
  return { store, location, catalogueDir };
}

/**
 * Brings a PostgreSQL store's Parquet export up to date (`<catalogue>/history/`), so the catalogue
 * aggregates sealed ranges with DuckDB once and reads only the newest range through the store.
 * Other stores: nothing to do (an embedded store seals its own files; others are read through the store).
 */
export async function exportForAnalysis(analyzed: AnalyzedStore): Promise<HistoryExportReport | null> {
  if (!(analyzed.store instanceof PostgresStore)) return null;
  return analyzed.store.exportHistory({ dir: join(analyzed.catalogueDir, 'history') });
}

function safeName(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]+/g, '-');
}
