/**
 * A gateway that POSTs each effect request as JSON to a URL (real `fetch`), with an
 * `Idempotency-Key` header so the receiver can drop duplicates. Network errors, timeouts, 408, 429 and
 * 5xx are faults (retried forever by the runtime); other 4xx answers mean the request itself is wrong:
 * a bug, which stops the process.
 */
import type { EffectCall, FailureKind, GatewayImpl } from '../app/define.ts';

export interface HttpGatewayOptions {
  readonly url: string;
  readonly method?: 'POST' | 'PUT';
  readonly headers?: Readonly<Record<string, string>>;
  /** Per-attempt timeout (default 10 s). */
  readonly timeoutMs?: number;
}

export class HttpStatusError extends Error {
  override name = 'HttpStatusError';
  constructor(
    readonly status: number,
    body: string,
  ) {
    super(`HTTP ${status}${body === '' ? '' : `: ${body.slice(0, 200)}`}`);
  }
}

export function httpGateway<Req>(options: HttpGatewayOptions): GatewayImpl<Req> {
  return {
    async perform(request: Req, call: EffectCall): Promise<unknown> {
      const response = await fetch(options.url, {
        method: options.method ?? 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': call.idempotencyKey, ...options.headers },
        body: JSON.stringify(request),
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      });
      const text = await response.text();
      if (!response.ok) throw new HttpStatusError(response.status, text);
      return text === '' ? null : safeJson(text);
    },
    classify(error: unknown): FailureKind {
      if (error instanceof HttpStatusError) {
        return error.status >= 500 || error.status === 408 || error.status === 429 ? 'fault' : 'bug';
      }
      return 'fault';
    },
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
