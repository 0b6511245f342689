/**
 * Reads events with `COPY (SELECT …) TO STDOUT` and parses PostgreSQL's text format here, streaming:
 * batches are handed out as rows arrive, and the socket is paused while the caller works (stream
 * backpressure), so memory stays at a few batches whatever the page size. Measured on this machine
 * it reads at 0.8 of the raw client's COPY rate, where pg's row-by-row result parsing of the same
 * rows managed 0.4-0.65 (docs/postgres-store.md, "Reads").
 */
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { JsonValue, StoredEvent } from '../../model/event.ts';

const NEWLINE = 10;
/**
 * Bytes a COPY may buffer ahead of the reader before the socket is paused. With the stream default
 * (16 KiB) the server stalled between every couple of batches; 1 MiB kept reads at 0.84-0.9 of the
 * raw rate here (0.73 with 16 KiB), for 1 MiB of memory per open read.
 */
const COPY_BUFFER_BYTES = 1 << 20;

/**
 * `stream`: batches are handed out as rows arrive, holding the connection until the COPY ends.
 * `buffered`: the whole result is read and the connection freed before the first batch is handed out.
 */
export type CopyMode = 'stream' | 'buffered';

/**
 * Runs a COPY … TO STDOUT whose SELECT lists EVENT_COLUMNS and yields its rows as events, in batches
 * of `batchSize`. The SQL cannot take parameters (COPY does not), so callers inline numbers and
 * `sqlLiteral`s only. A caller that stops a streamed read early ends the COPY by dropping its connection.
 */
export async function* copyEvents(pool: pg.Pool, sql: string, batchSize: number, mode: CopyMode): AsyncIterable<StoredEvent[]> {
  if (mode === 'stream') {
    yield* streamCopy(pool, sql, batchSize);
    return;
  }
  const all: StoredEvent[] = [];
  for await (const batch of streamCopy(pool, sql, Number.MAX_SAFE_INTEGER)) for (const e of batch) all.push(e);
  for (let i = 0; i < all.length; i += batchSize) yield all.length <= batchSize ? all : all.slice(i, i + batchSize);
}

async function* streamCopy(pool: pg.Pool, sql: string, batchSize: number): AsyncIterable<StoredEvent[]> {
  const client = await pool.connect();
  let released = false;
  let batch: StoredEvent[] = [];
  try {
    let tail: Buffer | undefined;
    for await (const chunk of client.query(copyTo(sql, { highWaterMark: COPY_BUFFER_BYTES })) as AsyncIterable<Buffer>) {
      const bytes = tail === undefined ? chunk : Buffer.concat([tail, chunk]);
      // Cut after the last newline: a newline byte is never inside a UTF-8 sequence, so the text
      // before it decodes whole, and the rest waits for the next chunk.
      const end = bytes.lastIndexOf(NEWLINE);
      if (end === -1) {
        tail = bytes;
        continue;
      }
      tail = end + 1 < bytes.length ? bytes.subarray(end + 1) : undefined;
      parseLines(bytes.toString('utf8', 0, end), batch);
      let from = 0;
      for (; batch.length - from >= batchSize; from += batchSize) {
        yield from === 0 && batch.length === batchSize ? batch : batch.slice(from, from + batchSize);
      }
      batch = from === 0 ? batch : batch.slice(from);
    }
    if (tail !== undefined && tail.length > 0) throw new Error(`COPY output ended inside a row (${tail.length} bytes)`);
    client.release();
    released = true;
  } finally {
    // A COPY stopped or failed half-way leaves the connection mid-protocol: drop it, never reuse it.
    if (!released) client.release(true);
  }
  if (batch.length > 0) yield batch;
}

/**
 * Lines of `position stream key seq time type data meta`, tab-separated, without the final newline.
 * Scans the text in place (no per-line split): this loop and JSON.parse are the whole client cost.
 */
function parseLines(text: string, into: StoredEvent[]): void {
  const n = text.length;
  let at = 0;
  while (at < n) {
    const position = integer(text, at);
    at = text.indexOf('\t', at) + 1;
    let next = text.indexOf('\t', at);
    const stream = field(text.substring(at, next));
    at = next + 1;
    next = text.indexOf('\t', at);
    const key = field(text.substring(at, next));
    at = next + 1;
    const seq = integer(text, at);
    at = text.indexOf('\t', at) + 1;
    const time = integer(text, at);
    at = text.indexOf('\t', at) + 1;
    next = text.indexOf('\t', at);
    const type = field(text.substring(at, next));
    at = next + 1;
    next = text.indexOf('\t', at);
    const data = JSON.parse(field(text.substring(at, next))) as JsonValue;
    at = next + 1;
    next = text.indexOf('\n', at);
    if (next === -1) next = n;
    if (at === 0 || next < at) throw new Error(`COPY row without 8 fields near offset ${at}`);
    // \N is COPY's NULL: the event has no meta.
    if (next - at === 2 && text.charCodeAt(at) === 92 && text.charCodeAt(at + 1) === 78) {
      into.push({ stream, key, seq, position, type, time, data });
    } else {
      into.push({ stream, key, seq, position, type, time, data, meta: JSON.parse(field(text.substring(at, next))) as StoredEvent['meta'] & object });
    }
    at = next + 1;
  }
}

/** The integer starting at `at` (positions, seqs and times: safe integers, maybe negative). */
function integer(text: string, at: number): number {
  let i = at;
  let sign = 1;
  if (text.charCodeAt(i) === 45) {
    sign = -1;
    i++;
  }
  let value = 0;
  for (let c = text.charCodeAt(i); c >= 48 && c <= 57; c = text.charCodeAt(++i)) value = value * 10 + (c - 48);
  if (i === at) throw new Error(`COPY row without a number at offset ${at}`);
  return sign * value;
}

const ESCAPES: Readonly<Record<string, string>> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };

/** Undoes COPY's text-format escaping (backslash, and the control characters it spells out). */
export function field(raw: string): string {
  if (raw.indexOf('\\') === -1) return raw;
  return raw.replace(/\\(.)/g, (_, c: string) => ESCAPES[c] ?? c);
}

/**
 * A SQL string literal for text inlined into a COPY. The E'' form when there are backslashes, so the
 * meaning does not depend on the server's standard_conforming_strings (as pg's escapeLiteral does).
 */
export function sqlLiteral(text: string): string {
  const quoted = text.replace(/'/g, "''");
  return text.includes('\\') ? ` E'${quoted.replace(/\\/g, '\\\\')}'` : `'${quoted}'`;
}
