/**
 * `spive import`: real event logs into a store. Every row is checked before the first append — a
 * missing key, an unparsable time, a bad type — and any bad row aborts the whole import with a
 * report naming file, row and reason: all or nothing. The remaining columns become the payload.
 *
 * Rows are appended in file order, in windows of `windowRows` rows: within a window, one batch per
 * key (in order of first appearance), all submitted together so the store commits them as one group.
 * Each shard thus keeps the file's order, and global positions follow it window by window.
 */
import { SpiveError } from '../../src/model/errors.ts';
import { realClock, type Clock } from '../../src/time/clock.ts';
import type { JsonValue } from '../../src/model/event.ts';
import type { EventStore } from '../../src/store/event-store.ts';
import { validateStream } from '../../src/store/validate.ts';
import { openRows, type SourceFormat } from './read-rows.ts';
import { parseNameCell, parseTimeCell, toJson } from './values.ts';

export interface ImportOptions {
  readonly file: string;
  readonly store: EventStore;
  readonly stream: string;
  readonly keyColumn: string;
  readonly timeColumn: string;
  /** Column holding each event's type; otherwise every event gets `typeValue`. */
  readonly typeColumn?: string;
  readonly typeValue?: string;
  /** Rows per append window (default 10,000). */
  readonly windowRows?: number;
  /** Bad rows named in the report (default 20); all are counted. */
  readonly reportBadRows?: number;
  readonly onProgress?: (phase: 'reading' | 'appending', rows: number, total?: number) => void;
  /** Measures `wallMs` (default: the real clock). */
  readonly clock?: Clock;
}

export interface ImportResult {
  readonly file: string;
  readonly format: SourceFormat;
  readonly stream: string;
  readonly events: number;
  /** Distinct keys among the imported events. */
  readonly keys: number;
  readonly minTime: number | null;
  readonly maxTime: number | null;
  readonly appends: number;
  readonly wallMs: number;
}

export interface BadRow {
  /** 1-based data row (a CSV header is not counted). */
  readonly row: number;
  readonly column: string;
  readonly reason: string;
}

export const DEFAULT_EVENT_TYPE = 'event';

/** Some rows are bad: nothing was imported. */
export class BadRowsError extends SpiveError {
  override name = 'BadRowsError';
  constructor(
    readonly file: string,
    readonly rows: readonly BadRow[],
    readonly total: number,
    readonly scanned: number,
  ) {
    super(
      'INVALID_INPUT',
      `${file}: ${total} of ${scanned} rows are bad; nothing was imported\n` +
        rows.map((r) => `  ${file}: row ${r.row}: ${r.column}: ${r.reason}`).join('\n') +
        (total > rows.length ? `\n  … and ${total - rows.length} more` : ''),
      { file, badRows: rows, total },
    );
  }
}

export async function importEvents(options: ImportOptions): Promise<ImportResult> {
  const clock = options.clock ?? realClock;
  const started = clock.monotonicMs();
  const { file, keyColumn, timeColumn, typeColumn } = options;
  validateStream(options.stream, '--stream');
  const typeValue = options.typeValue ?? DEFAULT_EVENT_TYPE;
  if (typeColumn === undefined) {
    const t = parseNameCell(typeValue, 'type', 256);
    if (!t.ok) throw new SpiveError('INVALID_INPUT', `--type-value: ${t.reason}`);
  }
  const source = await openRows(file, [keyColumn, timeColumn, ...(typeColumn === undefined ? [] : [typeColumn])]);
  const keys: string[] = [];
  const times: number[] = [];
  const types: string[] = [];
  const datas: JsonValue[] = [];
  const bad: BadRow[] = [];
  let badTotal = 0;
  let row = 0;
  try {
    for (const [flag, column] of [['--key', keyColumn], ['--time', timeColumn], ['--type', typeColumn]] as const) {
      if (column !== undefined && !source.columns.includes(column)) {
        throw new SpiveError('INVALID_INPUT', `${flag}: expected a column of ${file} (it has ${source.columns.join(', ')}), got ${JSON.stringify(column)}`);
      }
    }
    const payloadColumns = source.columns.filter((c) => c !== keyColumn && c !== timeColumn && c !== typeColumn);
    const reject = (column: string, reason: string) => {
      badTotal++;
      if (bad.length < (options.reportBadRows ?? 20)) bad.push({ row, column, reason });
    };
    for await (const rows of source.rows()) {
      for (const cells of rows) {
        row++;
        const key = parseNameCell(cells[keyColumn], 'key', 1024);
        const time = parseTimeCell(cells[timeColumn]);
        const type = typeColumn === undefined ? undefined : parseNameCell(cells[typeColumn], 'type', 256);
        if (!key.ok) reject(keyColumn, key.reason);
        if (!time.ok) reject(timeColumn, time.reason);
        if (type !== undefined && !type.ok) reject(typeColumn as string, type.reason);
        if (!key.ok || !time.ok || (type !== undefined && !type.ok) || badTotal > 0) continue; // after a bad row, only keep checking
        const data: Record<string, JsonValue> = {};
        for (const c of payloadColumns) data[c] = toJson(cells[c]);
        keys.push(key.value);
        times.push(time.value);
        types.push(type === undefined ? typeValue : type.value);
        datas.push(data);
      }
      options.onProgress?.('reading', row);
    }
  } finally {
    source.close();
  }
  if (badTotal > 0) throw new BadRowsError(file, bad, badTotal, row);

  const window = options.windowRows ?? 10_000;
  let appends = 0;
  for (let start = 0; start < keys.length; start += window) {
    const end = Math.min(keys.length, start + window);
    const groups = new Map<string, number[]>();
    for (let i = start; i < end; i++) {
      const key = keys[i] as string;
      const list = groups.get(key);
      if (list === undefined) groups.set(key, [i]);
      else list.push(i);
    }
    const pending: Array<Promise<unknown>> = [];
    for (const [key, rows] of groups) {
      pending.push(options.store.append(options.stream, key, rows.map((i) => ({ type: types[i] as string, time: times[i] as number, data: datas[i] as JsonValue }))));
    }
    appends += pending.length;
    const settled = await Promise.allSettled(pending); // every append answered before failing: none left unobserved
    const failure = settled.find((r) => r.status === 'rejected');
    if (failure !== undefined) throw (failure as PromiseRejectedResult).reason;
    options.onProgress?.('appending', end, keys.length);
  }
  let minTime: number | null = null;
  let maxTime: number | null = null;
  for (const t of times) {
    if (minTime === null || t < minTime) minTime = t;
    if (maxTime === null || t > maxTime) maxTime = t;
  }
  return { file, format: source.format, stream: options.stream, events: keys.length, keys: new Set(keys).size, minTime, maxTime, appends, wallMs: clock.monotonicMs() - started };
}
