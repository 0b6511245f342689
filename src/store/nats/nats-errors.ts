/**
 * NATS client failures as Spive errors. Timeouts, refused or closed connections and missing responders
 * are hardware faults (UNAVAILABLE, retried by callers); anything else unexpected is left as is.
 */
import { JetStreamApiError } from '@nats-io/jetstream';
import { ClosedConnectionError, ConnectionError, NoRespondersError, RequestError, TimeoutError } from '@nats-io/transport-node';
import { UnavailableError } from '../../model/errors.ts';

/** JetStream's "wrong last sequence" (also "wrong last subject sequence": the server uses one code). */
export const WRONG_LAST_SEQUENCE = 10071;

export function isWrongLastSequence(e: unknown): boolean {
  return e instanceof JetStreamApiError && e.code === WRONG_LAST_SEQUENCE;
}

export function isTransportFault(e: unknown): boolean {
  return (
    e instanceof TimeoutError ||
    e instanceof ConnectionError ||
    e instanceof ClosedConnectionError ||
    e instanceof NoRespondersError ||
    e instanceof RequestError
  );
}

/** Rethrows a transport fault as UNAVAILABLE naming what was attempted where; anything else unchanged. */
export function unavailable(what: string, e: unknown): unknown {
  if (!isTransportFault(e)) return e;
  return new UnavailableError(what, e instanceof Error ? e.message : String(e));
}
