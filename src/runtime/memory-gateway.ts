/**
 * An in-process gateway for tests and examples: records every call and can be told to fail.
 * Duplicates (same idempotency key performed again) are counted, as an outside service would see them.
 */
import type { EffectCall, FailureKind, GatewayImpl } from '../app/define.ts';

export interface RecordedCall<Req> {
  readonly request: Req;
  readonly call: EffectCall;
}

export class MemoryGateway<Req = unknown> implements GatewayImpl<Req> {
  readonly calls: RecordedCall<Req>[] = [];
  /** Successful calls, one per idempotency key: what the outside world ended up with. */
  readonly performed = new Map<string, Req>();
  duplicates = 0;
  private failures: Array<{ remaining: number; kind: FailureKind; message: string }> = [];

  /** The next `times` calls fail with a fault (retried) or a bug (stops the process). */
  failNext(times: number, kind: FailureKind = 'fault', message = 'injected failure'): void {
    this.failures.push({ remaining: times, kind, message });
  }

  async perform(request: Req, call: EffectCall): Promise<void> {
    this.calls.push({ request, call });
    const failure = this.failures[0];
    if (failure !== undefined) {
      failure.remaining--;
      if (failure.remaining <= 0) this.failures.shift();
      throw Object.assign(new Error(failure.message), { kind: failure.kind });
    }
    if (this.performed.has(call.idempotencyKey)) this.duplicates++;
    else this.performed.set(call.idempotencyKey, request);
  }

  classify(error: unknown): FailureKind {
    return (error as { kind?: FailureKind }).kind ?? 'fault';
  }
}
