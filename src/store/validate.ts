/** Input validation shared by every store: a bad call fails with INVALID_INPUT naming the field. */
import { InvalidInputError } from '../model/errors.ts';
import type { NewEvent } from '../model/event.ts';
import { isValidRange, type ShardRange } from '../model/shard.ts';
import type { AppendOptions } from './event-store.ts';

const STREAM_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function validateStream(stream: unknown, field = 'stream'): asserts stream is string {
  if (typeof stream !== 'string' || !STREAM_NAME.test(stream)) {
    throw new InvalidInputError(field, 'a stream name of letters, digits, _ . - (1-128 chars)', stream);
  }
}

export function validateKey(key: unknown, field = 'key'): asserts key is string {
  if (typeof key !== 'string' || key.length === 0 || key.length > 1024) {
    throw new InvalidInputError(field, 'a non-empty string key of at most 1024 chars', key);
  }
}

export function validateEvents(events: readonly NewEvent<unknown>[]): void {
  if (!Array.isArray(events) || events.length === 0) {
    throw new InvalidInputError('events', 'a non-empty array of events', events);
  }
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as NewEvent<unknown> | undefined;
    if (typeof e !== 'object' || e === null) throw new InvalidInputError(`events[${i}]`, 'an object', e);
    if (typeof e.type !== 'string' || e.type.length === 0 || e.type.length > 256) {
      throw new InvalidInputError(`events[${i}].type`, 'a non-empty string of at most 256 chars', e.type);
    }
    if (!Number.isSafeInteger(e.time)) {
      throw new InvalidInputError(`events[${i}].time`, 'an integer event time in ms since the epoch', e.time);
    }
    if (e.data === undefined) throw new InvalidInputError(`events[${i}].data`, 'a JSON value (use null for none)');
    if (e.meta !== undefined && (typeof e.meta !== 'object' || e.meta === null || Array.isArray(e.meta))) {
      throw new InvalidInputError(`events[${i}].meta`, 'an object of JSON values, or no meta', e.meta);
    }
  }
}

export function validateAppendOptions(options: AppendOptions | undefined): void {
  if (options === undefined) return;
  const expect = options.expect;
  if (expect !== undefined) {
    if (expect.lastSeq !== undefined && !(Number.isSafeInteger(expect.lastSeq) && expect.lastSeq >= 0)) {
      throw new InvalidInputError('expect.lastSeq', 'an integer >= 0', expect.lastSeq);
    }
    if (expect.lastTime !== undefined && expect.lastTime !== null && !Number.isSafeInteger(expect.lastTime)) {
      throw new InvalidInputError('expect.lastTime', 'an integer time or null', expect.lastTime);
    }
  }
  if (options.token !== undefined && !(Number.isSafeInteger(options.token) && options.token > 0)) {
    throw new InvalidInputError('token', 'a positive integer fencing token', options.token);
  }
}

export function validateRange(range: ShardRange, field = 'range'): void {
  if (typeof range !== 'object' || range === null || !isValidRange(range)) {
    throw new InvalidInputError(field, 'a bucket range {from, to} with 0 <= from < to <= 4096', range);
  }
}

export function validateTtl(ttlMs: unknown): asserts ttlMs is number {
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new InvalidInputError('ttlMs', 'a positive number of milliseconds', ttlMs);
  }
}

export function validateBatchSize(batchSize: number | undefined): number {
  if (batchSize === undefined) return 1000;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw new InvalidInputError('batchSize', 'a positive integer', batchSize);
  }
  return batchSize;
}

/** Serializes data once, both to validate it and to measure it. */
export function encodeData(data: unknown, field: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(data);
  } catch (e) {
    throw new InvalidInputError(field, 'a JSON-serializable value', String(e));
  }
  if (text === undefined) throw new InvalidInputError(field, 'a JSON-serializable value', typeof data);
  return text;
}
