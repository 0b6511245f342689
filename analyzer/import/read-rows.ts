/**
 * Reading an event log file with DuckDB: Parquet, CSV or JSON lines, told apart by the file name.
 * Rows come in file order (one DuckDB thread, insertion order preserved), so a row's number is its
 * place in the file. DuckDB's extensions are never autoloaded (no network here): parquet and json are
 * built in.
 */
import { existsSync, statSync } from 'node:fs';
import { InvalidInputError, NotFoundError } from '../../src/model/errors.ts';

export type SourceFormat = 'parquet' | 'csv' | 'jsonl';

export interface RowSource {
  readonly format: SourceFormat;
  readonly columns: readonly string[];
  /** Rows as objects of JS values (bigint, Date, nested objects…), in file order. */
  rows(): AsyncIterable<Array<Record<string, unknown>>>;
  close(): void;
}

export function formatOf(file: string): SourceFormat | undefined {
  const name = file.toLowerCase().replace(/\.(gz|zst)$/, '');
  if (/\.(parquet|pq)$/.test(name)) return 'parquet';
  if (/\.(csv|tsv)$/.test(name)) return 'csv';
  if (/\.(jsonl|ndjson|json)$/.test(name)) return 'jsonl';
  return undefined;
}

const quote = (text: string) => `'${text.replaceAll("'", "''")}'`;
const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;

function scan(file: string, format: SourceFormat, textColumns: readonly string[]): string {
  // CSV dialect fixed (RFC 4180; tab for .tsv), not sniffed: sniffing took a stray ' in a text cell for the quote character.
  switch (format) {
    case 'parquet':
      return `read_parquet(${quote(file)})`;
    case 'csv': {
      // Key and time cells are read as text: one odd cell must be a reported bad row, not a failed read.
      const types = textColumns.length === 0 ? '' : `, types = {${textColumns.map((c) => `${quote(c)}: 'VARCHAR'`).join(', ')}}`;
      const delim = /\.tsv(\.(gz|zst))?$/i.test(file) ? '\\t' : ',';
      return `read_csv(${quote(file)}, header = true, auto_detect = true, delim = '${delim}', quote = '"', escape = '"'${types})`;
    }
    case 'jsonl':
      return `read_json(${quote(file)}, format = 'newline_delimited')`;
  }
}

/** Opens `file` and learns its columns; `textColumns` (those present) are read as text where the format allows. */
export async function openRows(file: string, wantText: readonly string[], format = formatOf(file)): Promise<RowSource> {
  if (!existsSync(file)) throw new NotFoundError(`<file> ${file}`);
  if (!statSync(file).isFile()) throw new InvalidInputError('<file>', 'a file', file);
  if (format === undefined) throw new InvalidInputError('<file>', 'a .parquet, .csv or .jsonl (.ndjson, .json) file', file);
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:', { threads: '1', autoload_known_extensions: 'false', autoinstall_known_extensions: 'false' });
  const connection = await instance.connect();
  const close = () => {
    connection.closeSync();
    instance.closeSync();
  };
  const failed = (e: unknown): never => {
    close();
    throw new InvalidInputError('<file>', `a readable ${format === 'jsonl' ? 'JSON lines' : format.toUpperCase()} file (${file}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
  };
  let columns: string[];
  try {
    const described = await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${scan(file, format, [])}`);
    columns = described.getRowObjectsJS().map((r) => String(r.column_name));
  } catch (e) {
    return failed(e);
  }
  const textColumns = wantText.filter((c) => columns.includes(c));
  return {
    format,
    columns,
    async *rows() {
      let result;
      try {
        result = await connection.stream(`SELECT ${columns.map(ident).join(', ')} FROM ${scan(file, format, textColumns)}`);
      } catch (e) {
        return failed(e);
      }
      try {
        for await (const rows of result.yieldRowObjectJs()) yield rows as Array<Record<string, unknown>>;
      } catch (e) {
        return failed(e);
      }
    },
    close,
  };
}
