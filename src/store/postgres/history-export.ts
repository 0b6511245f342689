/**
 * Columnar history of a PostgreSQL store for the analyzer: fixed ranges of global positions,
 * exported once to local Parquet files (the embedded store's `PARQUET_COLUMNS`), and handed out by
 * `sealedHistory()` so DuckDB aggregates them directly. The rest (the range still filling up) is
 * read through the store, as the analyzer reads an embedded store's unsealed tail.
 *
 * Why fixed position ranges: positions commit in order and without gaps (see the append function),
 * so once the log head has passed a range's end, every event of the range is committed and can
 * never change: the range is sealed, with no bookkeeping in the database. Each range's files are
 * written first and its marker (`ranges/<n>.json`, listing them) last, each by rename, so a crash
 * or a concurrent exporter (another `spive replay-plan` on the same folder) leaves either a whole
 * range or none; two exporters of one range write identical files.
 *
 * Layout of the folder: `store.json` (which store, which range width: another one starts over),
 * `ranges/NNNNNNNNNN.json`, `stream=<name>/NNNNNNNNNN.parquet`.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { StoredEvent } from '../../model/event.ts';
import type { Clock } from '../../time/clock.ts';
import { assert } from '../../util/assert.ts';
import { columnsFromEvents } from '../columns.ts';
import { writeParquet } from '../embedded/parquet-writer.ts';
import type { SealedHistoryFile } from '../event-store.ts';

const FORMAT = 'spive-pg-history-1';

/** Positions per exported range when not given: large enough that files stay few, small enough to hold in memory. */
export const DEFAULT_RANGE_POSITIONS = 65_536;

export interface HistoryExportOptions {
  /** Folder of the exported files (created if missing). */
  readonly dir: string;
  /**
   * Global positions per range. Default: the width the folder was first exported with, or 65,536
   * for a new folder. A folder exported with another width starts over.
   */
  readonly rangePositions?: number;
}

export interface HistoryExportReport {
  readonly dir: string;
  readonly rangePositions: number;
  /** Ranges and rows exported by this call. */
  readonly rangesExported: number;
  readonly rowsExported: number;
  /** Parquet files the folder holds now, and the last position they cover (0: none). */
  readonly files: number;
  readonly exportedThrough: number;
  /** Why the folder was emptied first (it belonged to another store, or another range width), if it was. */
  readonly restarted: string | null;
  readonly wallMs: number;
}

/** What the export needs from the store. */
export interface ExportSource {
  /** Identifies the store (server, database, schema instance): a folder of another store starts over. */
  identity(): Promise<string>;
  /** The last committed global position. */
  head(): Promise<number>;
  /** Every event with `from <= position <= to`, in position order. */
  readPositions(from: number, to: number): AsyncIterable<StoredEvent[]>;
}

interface RangeMarker {
  readonly range: readonly [number, number];
  readonly files: ReadonlyArray<Omit<SealedHistoryFile, 'path'> & { readonly file: string }>;
}

interface FolderInfo {
  readonly format: string;
  readonly identity: string;
  readonly rangePositions: number;
}

export class HistoryExport {
  private constructor(
    readonly dir: string,
    readonly rangePositions: number,
  ) {}

  static at(options: HistoryExportOptions): HistoryExport {
    const dir = resolve(options.dir);
    const width = options.rangePositions ?? folderInfo(dir)?.rangePositions ?? DEFAULT_RANGE_POSITIONS;
    assert(Number.isSafeInteger(width) && width >= 1, 'rangePositions is a positive integer');
    return new HistoryExport(dir, width);
  }

  /** The exported files, in stream and position order (what `sealedHistory()` returns). */
  files(): SealedHistoryFile[] {
    const files: SealedHistoryFile[] = [];
    for (const marker of this.markers()) for (const f of marker.files) files.push({ ...withoutFile(f), path: join(this.dir, f.file) });
    return files.sort((a, b) => (a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : a.firstPosition - b.firstPosition));
  }

  /** Exports every sealed range not exported yet. */
  async update(source: ExportSource, clock: Clock): Promise<HistoryExportReport> {
    const started = clock.monotonicMs();
    const restarted = this.claimFolder(await source.identity());
    const width = this.rangePositions;
    const done = new Set(this.markers().map((m) => m.range[0]));
    const sealedRanges = Math.floor((await source.head()) / width);
    let rangesExported = 0;
    let rowsExported = 0;
    for (let n = 0; n < sealedRanges; n++) {
      const first = n * width + 1;
      if (done.has(first)) continue;
      rowsExported += await this.exportRange(source, n, first, first + width - 1);
      rangesExported++;
    }
    const files = this.files();
    return {
      dir: this.dir,
      rangePositions: width,
      rangesExported,
      rowsExported,
      files: files.length,
      exportedThrough: sealedRanges * width,
      restarted,
      wallMs: Math.round(clock.monotonicMs() - started),
    };
  }

  private async exportRange(source: ExportSource, n: number, first: number, last: number): Promise<number> {
    const byStream = new Map<string, StoredEvent[]>();
    let rows = 0;
    for await (const batch of source.readPositions(first, last)) {
      for (const e of batch) {
        let list = byStream.get(e.stream);
        if (list === undefined) byStream.set(e.stream, (list = []));
        list.push(e);
        rows++;
      }
    }
    // Gapless positions: a sealed range holds exactly one event per position.
    assert(rows === last - first + 1, `range [${first}, ${last}] of a sealed log must hold ${last - first + 1} events, read ${rows}`);
    const name = String(n).padStart(10, '0');
    const files: RangeMarker['files'][number][] = [];
    for (const [stream, events] of [...byStream].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const file = join(`stream=${encodeURIComponent(stream)}`, `${name}.parquet`);
      mkdirSync(join(this.dir, `stream=${encodeURIComponent(stream)}`), { recursive: true });
      const temporary = join(this.dir, `${file}.${process.pid}.tmp`);
      // Compact JSON text, as the other stores keep it: `bytes` (the payload size) then agrees with theirs.
      await writeParquet(temporary, columnsFromEvents(stream, events, []), {
        dataTexts: events.map((e) => JSON.stringify(e.data ?? null)),
        metaTexts: events.map((e) => (e.meta === undefined ? undefined : JSON.stringify(e.meta))),
      });
      renameSync(temporary, join(this.dir, file));
      let minTime = Number.POSITIVE_INFINITY;
      let maxTime = Number.NEGATIVE_INFINITY;
      for (const e of events) {
        if (e.time < minTime) minTime = e.time;
        if (e.time > maxTime) maxTime = e.time;
      }
      files.push({ stream, file, rows: events.length, firstPosition: (events[0] as StoredEvent).position, lastPosition: (events.at(-1) as StoredEvent).position, minTime, maxTime });
    }
    const marker: RangeMarker = { range: [first, last], files };
    writeAtomically(join(this.dir, 'ranges', `${name}.json`), `${JSON.stringify(marker)}\n`);
    return rows;
  }

  /** Makes the folder this store's at this width, emptying what another store or width left. */
  private claimFolder(identity: string): string | null {
    const infoPath = join(this.dir, 'store.json');
    const wanted: FolderInfo = { format: FORMAT, identity, rangePositions: this.rangePositions };
    let reason: string | null = null;
    const info = folderInfo(this.dir);
    if (info !== undefined) {
      if (info.format !== FORMAT) reason = `exported in format ${info.format}`;
      else if (info.identity !== identity) reason = `exported from another store (${info.identity}; this is ${identity})`;
      else if (info.rangePositions !== this.rangePositions) reason = `exported in ranges of ${info.rangePositions} positions (now ${this.rangePositions})`;
      if (reason === null) return null;
      // Only what this module wrote: the folder may sit next to the analyzer's catalogue.
      for (const entry of readdirSync(this.dir)) if (entry === 'ranges' || entry.startsWith('stream=')) rmSync(join(this.dir, entry), { recursive: true, force: true });
    }
    writeAtomically(infoPath, `${JSON.stringify(wanted)}\n`);
    return reason;
  }

  private markers(): RangeMarker[] {
    const folder = join(this.dir, 'ranges');
    if (!existsSync(folder)) return [];
    return readdirSync(folder)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => JSON.parse(readFileSync(join(folder, f), 'utf8')) as RangeMarker);
  }
}

function folderInfo(dir: string): FolderInfo | undefined {
  const path = join(dir, 'store.json');
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as FolderInfo) : undefined;
}

function writeAtomically(path: string, text: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, path);
}

function withoutFile(f: RangeMarker['files'][number]): Omit<SealedHistoryFile, 'path'> {
  const { file: _file, ...rest } = f;
  return rest;
}
