/**
 * The runtime side of a gateway: the only door to the outside world.
 * - live: performs the effect, retrying a fault forever with exponential backoff and jitter; a retry
 *   series longer than `overdueAfterMs` raises an *overdue* warning that clears on success;
 * - catch-up: never performs; logs "would have done X (catch-up)";
 * - a failure classified as a bug stops the instance with the event that caused it.
 */
import type { EffectCall, GatewayDef } from '../app/define.ts';
import type { Clock } from '../time/clock.ts';
import type { Timers } from '../time/timers.ts';
import type { Random } from '../random/random.ts';
import { backoffDelayMs, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.ts';
import type { RuntimeLog } from './log.ts';

export interface GatewayStatus {
  readonly name: string;
  readonly performed: number;
  readonly suppressed: number;
  readonly retries: number;
  /** Present while a retry series has lasted longer than the overdue threshold. */
  readonly overdueSinceMs: number | null;
  readonly lastError: string | null;
}

export interface GatewayRuntimeOptions {
  readonly clock: Clock;
  readonly timers: Timers;
  readonly random: Random;
  readonly log: RuntimeLog;
  readonly backoff?: BackoffPolicy;
  /** A retry series longer than this becomes an overdue warning (default 30 s). */
  readonly overdueAfterMs?: number;
}

/** A gateway reported a failure it classifies as a bug: the instance must stop. */
export class EffectBugError extends Error {
  override name = 'EffectBugError';
  constructor(
    readonly gateway: string,
    readonly call: EffectCall,
    override readonly cause: unknown,
  ) {
    super(`gateway ${gateway} rejected effect ${call.idempotencyKey} as a bug: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

export class GatewayRuntime<Req = unknown> {
  private performed = 0;
  private suppressed = 0;
  private retries = 0;
  private overdueSinceMs: number | null = null;
  private lastError: string | null = null;

  constructor(
    readonly def: GatewayDef<Req>,
    private readonly options: GatewayRuntimeOptions,
  ) {}

  status(): GatewayStatus {
    return {
      name: this.def.name,
      performed: this.performed,
      suppressed: this.suppressed,
      retries: this.retries,
      overdueSinceMs: this.overdueSinceMs,
      lastError: this.lastError,
    };
  }

  /** Logs the effect as not performed: the instance is catching up and did it before. */
  suppress(request: Req, call: Omit<EffectCall, 'attempt'>): void {
    this.suppressed++;
    this.options.log.write({
      level: 'debug',
      kind: 'effect.suppressed',
      message: `would have done ${this.def.name} ${JSON.stringify(request)} (catch-up)`,
      fields: { gateway: this.def.name, idempotencyKey: call.idempotencyKey, process: call.process, key: call.key },
    });
  }

  /** Performs the effect live, retrying faults until it succeeds, the signal aborts, or a bug is reported. */
  async perform(request: Req, call: Omit<EffectCall, 'attempt'>, signal: AbortSignal): Promise<void> {
    const { clock, timers, log } = this.options;
    const overdueAfterMs = this.options.overdueAfterMs ?? 30_000;
    let firstFailureMs: number | null = null;
    for (let attempt = 1; ; attempt++) {
      signal.throwIfAborted();
      try {
        await this.def.perform(request, { ...call, attempt });
        this.performed++;
        if (this.overdueSinceMs !== null) {
          log.write({ level: 'info', kind: 'gateway.recovered', message: `gateway ${this.def.name} recovered after ${attempt} attempts`, fields: { gateway: this.def.name } });
        }
        this.overdueSinceMs = null;
        log.write({ level: 'debug', kind: 'effect.performed', message: `did ${this.def.name} ${JSON.stringify(request)}`, fields: { gateway: this.def.name, idempotencyKey: call.idempotencyKey, attempt } });
        return;
      } catch (error) {
        const kind = this.def.classify?.(error) ?? 'fault';
        this.lastError = error instanceof Error ? error.message : String(error);
        if (kind === 'bug') throw new EffectBugError(this.def.name, { ...call, attempt }, error);
        this.retries++;
        const now = clock.monotonicMs();
        firstFailureMs ??= now;
        if (this.overdueSinceMs === null && now - firstFailureMs >= overdueAfterMs) {
          this.overdueSinceMs = clock.nowMs();
          log.write({
            level: 'warn',
            kind: 'gateway.overdue',
            message: `gateway ${this.def.name}: effect ${call.idempotencyKey} still failing after ${attempt} attempts over ${Math.round(now - firstFailureMs)} ms: ${this.lastError}`,
            fields: { gateway: this.def.name, idempotencyKey: call.idempotencyKey, attempts: attempt },
          });
        }
        await timers.sleep(backoffDelayMs(this.options.backoff ?? DEFAULT_BACKOFF, attempt, this.options.random), signal);
      }
    }
  }
}
