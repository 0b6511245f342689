/**
 * PostgreSQL errors as Spive's typed errors. The append function raises its own SQLSTATEs (SPV01,
 * SPV02) with JSON details; connection failures become UNAVAILABLE, naming the server and never
 * printing a stack at the CLI.
 */
import { ConflictError, FencedError, InvalidInputError, NotFoundError, SpiveError, UnavailableError } from '../../model/errors.ts';
import type { AppendCondition } from '../event-store.ts';

export const SQLSTATE = { conflict: 'SPV01', fenced: 'SPV02' } as const;

interface PgError {
  readonly code?: string;
  readonly message?: string;
  readonly detail?: string;
}

function asPgError(e: unknown): PgError | undefined {
  return typeof e === 'object' && e !== null ? (e as PgError) : undefined;
}

/** Node's socket error codes and PostgreSQL's connection/shutdown classes: the server is not answering. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);

export function isConnectionFailure(e: unknown): boolean {
  const err = asPgError(e);
  if (err === undefined) return false;
  const code = err.code ?? '';
  return (
    UNREACHABLE.has(code) ||
    code.startsWith('08') || // connection exception
    code === '57P01' || // admin shutdown
    code === '57P02' ||
    code === '57P03' || // cannot connect now (starting up)
    /Connection terminated|timeout expired/i.test(err.message ?? '')
  );
}

/** Maps a failure of a general store operation; returns `e` unchanged when it is not a known kind. */
export function storeError(e: unknown, server: string): unknown {
  if (e instanceof SpiveError) return e;
  const err = asPgError(e);
  if (err === undefined) return e;
  if (isConnectionFailure(e)) {
    return new UnavailableError(`PostgreSQL at ${server}`, `${err.message ?? err.code} (is the server running and reachable?)`);
  }
  if (err.code === '3D000') return new NotFoundError(`database of ${server} (${err.message})`);
  if (err.code === '28P01' || err.code === '28000') {
    return new InvalidInputError('--store', `credentials PostgreSQL at ${server} accepts`, err.message);
  }
  return e;
}

/** Maps a failure of the append function. */
export function appendError(
  e: unknown,
  server: string,
  stream: string,
  key: string,
  expect: AppendCondition | undefined,
  token: number | undefined,
): unknown {
  const err = asPgError(e);
  if (err?.code === SQLSTATE.conflict) {
    const actual = JSON.parse(err.detail ?? '{}') as { lastSeq: number; lastTime: number | null };
    return new ConflictError({ stream, key, expected: { ...expect }, actual: { lastSeq: Number(actual.lastSeq), lastTime: actual.lastTime === null ? null : Number(actual.lastTime) } });
  }
  if (err?.code === SQLSTATE.fenced) {
    const detail = JSON.parse(err.detail ?? '{}') as { current?: number };
    return new FencedError(stream, token, detail.current === undefined ? undefined : Number(detail.current), err.message);
  }
  // jsonb refuses \u0000 and lone surrogates, which JSON.stringify writes as escapes.
  if (err?.code === '22P05' || err?.code === '22P02') {
    return new InvalidInputError('events', 'JSON that PostgreSQL jsonb can hold (no \\u0000, no lone surrogates)', err.message);
  }
  return storeError(e, server);
}
