/**
 * Expected failures are typed errors with stable codes; scripts and the CLI branch on `code`,
 * never on message text. Anything else thrown is a bug.
 */
export type SpiveErrorCode =
  | 'CONFLICT' // an appendIf's expected position/time did not match the shard
  | 'FENCED' // an append or lease renewal carried a stale fencing token
  | 'LEASE_HELD' // another owner holds a live lease overlapping the requested range
  | 'CORRUPT' // stored bytes failed a checksum or could not be decoded
  | 'NOT_FOUND' // a named thing (store, stream, snapshot, file) does not exist
  | 'INVALID_INPUT' // a caller passed a value that breaks the documented contract
  | 'LOCKED' // the embedded store is held open for writing by another process
  | 'CLOSED' // the store was closed (or poisoned by a failed fsync)
  | 'UNAVAILABLE'; // a hardware fault: the store or network did not answer (retried, never a bug)

export class SpiveError extends Error {
  override name = 'SpiveError';
  constructor(
    readonly code: SpiveErrorCode,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
  }
}

export interface ConflictDetails {
  stream: string;
  key: string;
  expected: { lastSeq?: number; lastTime?: number | null };
  actual: { lastSeq: number; lastTime: number | null };
}

export class ConflictError extends SpiveError {
  override name = 'ConflictError';
  constructor(readonly conflict: ConflictDetails) {
    super(
      'CONFLICT',
      `append to ${conflict.stream}/${conflict.key} expected ${JSON.stringify(conflict.expected)} ` +
        `but the shard is at lastSeq=${conflict.actual.lastSeq} lastTime=${conflict.actual.lastTime}`,
      { ...conflict },
    );
  }
}

export class FencedError extends SpiveError {
  override name = 'FencedError';
  constructor(
    readonly stream: string,
    readonly presentedToken: number | undefined,
    readonly currentToken: number | undefined,
    message?: string,
  ) {
    super(
      'FENCED',
      message ??
        `stream ${stream}: fencing token ${presentedToken ?? '(none)'} is stale; current token is ${currentToken ?? '(none)'}`,
      { stream, presentedToken, currentToken },
    );
  }
}

export class LeaseHeldError extends SpiveError {
  override name = 'LeaseHeldError';
  constructor(stream: string, holder: string, token: number, expiresAt: number) {
    super('LEASE_HELD', `stream ${stream}: shards are leased to ${holder} (token ${token}) until ${expiresAt}`, {
      stream,
      holder,
      token,
      expiresAt,
    });
  }
}

export class CorruptDataError extends SpiveError {
  override name = 'CorruptDataError';
  constructor(
    readonly file: string,
    readonly offset: number,
    reason: string,
  ) {
    super('CORRUPT', `corrupt data in ${file} at offset ${offset}: ${reason}`, { file, offset, reason });
  }
}

export class NotFoundError extends SpiveError {
  override name = 'NotFoundError';
  constructor(what: string) {
    super('NOT_FOUND', `${what} not found`, { what });
  }
}

export class InvalidInputError extends SpiveError {
  override name = 'InvalidInputError';
  constructor(
    readonly field: string,
    expected: string,
    got?: unknown,
  ) {
    super(
      'INVALID_INPUT',
      `${field}: expected ${expected}${got === undefined ? '' : `, got ${describe(got)}`}`,
      { field, expected },
    );
  }
}

export class LockedError extends SpiveError {
  override name = 'LockedError';
  constructor(lockFile: string, holder: string) {
    super('LOCKED', `store is open for writing by ${holder} (lock file ${lockFile})`, { lockFile, holder });
  }
}

export class ClosedError extends SpiveError {
  override name = 'ClosedError';
  constructor(reason = 'the store is closed') {
    super('CLOSED', reason);
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  try {
    const text = JSON.stringify(value);
    return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 60)}…` : text;
  } catch {
    return String(value);
  }
}

/**
 * A hardware fault: a timeout, a refused connection, a lost reply. Callers retry (the operation may or
 * may not have happened: after a lost reply, check before repeating a non-idempotent write).
 */
export class UnavailableError extends SpiveError {
  override name = 'UnavailableError';
  constructor(what: string, reason: string) {
    super('UNAVAILABLE', `${what}: ${reason}`, { what, reason });
  }
}

export function isUnavailable(e: unknown): e is UnavailableError {
  return e instanceof SpiveError && e.code === 'UNAVAILABLE';
}

export function isSpiveError(e: unknown): e is SpiveError {
  return e instanceof SpiveError;
}
export function isConflict(e: unknown): e is ConflictError {
  return e instanceof ConflictError;
}
export function isFenced(e: unknown): e is FencedError {
  return e instanceof FencedError;
}
export function isLeaseHeld(e: unknown): e is LeaseHeldError {
  return e instanceof LeaseHeldError;
}
export function isCorrupt(e: unknown): e is CorruptDataError {
  return e instanceof CorruptDataError;
}
export function isNotFound(e: unknown): e is NotFoundError {
  return e instanceof NotFoundError;
}
export function isInvalidInput(e: unknown): e is InvalidInputError {
  return e instanceof InvalidInputError;
}
export function isLocked(e: unknown): e is LockedError {
  return e instanceof LockedError;
}
