/**
 * The outside world a simulated app's gateways reach: it records every effect that took effect (by
 * idempotency key, with who performed it and when) and injects the gateway faults of the plan:
 * errors, timeouts (no effect) and lost replies (the effect happened, the caller does not know).
 */
import type { EffectCall, GatewayImpl } from '../src/app/define.ts';
import type { Random } from '../src/random/random.ts';
import { draw, type FaultOptions } from './faults.ts';
import type { FaultCounter } from './network.ts';
import type { Scheduler } from './scheduler.ts';

export interface PerformedEffect {
  readonly gateway: string;
  readonly idempotencyKey: string;
  readonly request: unknown;
  /** The runner incarnation that performed it (host name and incarnation number). */
  readonly performer: string;
  readonly simulatedMs: number;
  readonly step: number;
}

export class OutsideWorld {
  readonly performed: PerformedEffect[] = [];
  faultsOn = true;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly faults: FaultOptions,
    private readonly random: Random,
    private readonly counter: FaultCounter,
  ) {}

  /** A gateway implementation for `gateway`, as seen from `performer`. */
  gateway(gateway: string, performer: () => string): GatewayImpl<unknown> {
    return {
      perform: (request: unknown, call: EffectCall) =>
        new Promise((resolve, reject) => {
          const f = this.faults.gateway;
          const on = this.faultsOn;
          const latency = draw(this.random, f.latencyMs);
          const roll = on ? this.random.float() : 1;
          const at = this.scheduler.now + latency;
          if (roll < f.error) {
            this.counter.count('gatewayError', `${gateway} ${call.idempotencyKey}`);
            this.scheduler.at(at, () => reject(new Error(`${gateway}: 503 service unavailable`)), `gateway.error ${gateway}`);
          } else if (roll < f.error + f.timeout) {
            this.counter.count('gatewayTimeout', `${gateway} ${call.idempotencyKey}`);
            this.scheduler.at(at + 5000, () => reject(new Error(`${gateway}: timed out`)), `gateway.timeout ${gateway}`);
          } else {
            const lost = roll < f.error + f.timeout + f.replyLost;
            this.scheduler.at(at, () => {
              this.performed.push({ gateway, idempotencyKey: call.idempotencyKey, request, performer: performer(), simulatedMs: this.scheduler.now, step: this.scheduler.steps });
              if (lost) {
                this.counter.count('gatewayReplyLost', `${gateway} ${call.idempotencyKey}`);
                this.scheduler.at(this.scheduler.now + 5000, () => reject(new Error(`${gateway}: the reply was lost`)), `gateway.lost ${gateway}`);
              } else {
                resolve(null);
              }
            }, `gateway.call ${gateway}`);
          }
        }),
      classify: () => 'fault',
    };
  }
}
