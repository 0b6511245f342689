/**
 * A small door to DuckDB for the analyzer: one instance, one connection, rows as plain JS values.
 * Numbers the analyzer reads are cast to DOUBLE in SQL, so they come back as `number`, not `bigint`.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DuckDBAppender, DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { InvalidInputError } from '../src/model/errors.ts';

export type Row = Record<string, unknown>;

export class Duck {
  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
    /** The database file, or `:memory:`. */
    readonly path: string,
  ) {}

  static async open(path = ':memory:', threads = 2): Promise<Duck> {
    const { DuckDBInstance } = await import('@duckdb/node-api');
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    let instance: DuckDBInstance;
    try {
      // Extension autoload would try the network for half a second and fail (FACTS.md): keep it off.
      instance = await DuckDBInstance.create(path, { threads: String(threads), autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      if (/lock/i.test(message)) throw new InvalidInputError('store', `an analyzer catalogue not in use by another command (${path}: ${message})`);
      throw e;
    }
    return new Duck(instance, await instance.connect(), path);
  }

  async run(sql: string): Promise<void> {
    await this.connection.run(sql);
  }

  async rows<T extends Row = Row>(sql: string): Promise<T[]> {
    const reader = await this.connection.runAndReadAll(sql);
    return reader.getRowObjectsJS() as T[];
  }

  /**
   * A result as columns (name → values), read chunk by chunk from DuckDB's vectors: an order of
   * magnitude faster than row objects for large results.
   */
  async columns(sql: string): Promise<{ length: number; columns: Record<string, unknown[]> }> {
    const result = await this.connection.run(sql);
    const names = result.columnNames();
    const columns: Record<string, unknown[]> = Object.fromEntries(names.map((n) => [n, []]));
    const lists = names.map((n) => columns[n] as unknown[]);
    let length = 0;
    for (;;) {
      const chunk = await result.fetchChunk();
      if (chunk === null || chunk.rowCount === 0) break;
      const rows = chunk.rowCount;
      for (let c = 0; c < lists.length; c++) {
        const vector = chunk.getColumnVector(c);
        const list = lists[c] as unknown[];
        for (let i = 0; i < rows; i++) list.push(vector.getItem(i));
      }
      length += rows;
    }
    return { length, columns };
  }

  /**
   * Appends columns to a table in data chunks (several times faster than row-by-row appends).
   * `types` names each column's type: 'varchar' or 'double'.
   */
  async insertColumns(table: string, types: readonly ('varchar' | 'double')[], columns: readonly (readonly (string | number)[])[]): Promise<void> {
    const api = await import('@duckdb/node-api');
    const duckTypes = types.map((t) => (t === 'varchar' ? api.VARCHAR : api.DOUBLE));
    const rows = columns[0]?.length ?? 0;
    const size = 2048; // DuckDB's vector size: one chunk holds at most this many rows.
    const appender = await this.connection.createAppender(table);
    for (let from = 0; from < rows; from += size) {
      const n = Math.min(size, rows - from);
      const chunk = api.DuckDBDataChunk.create(duckTypes, n);
      chunk.setColumns(columns.map((c) => c.slice(from, from + n)));
      appender.appendDataChunk(chunk);
    }
    appender.closeSync();
  }

  async appender(table: string): Promise<DuckDBAppender> {
    return this.connection.createAppender(table);
  }

  close(): void {
    this.connection.closeSync();
    this.instance.closeSync();
  }
}

/** A SQL string literal. */
export function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
