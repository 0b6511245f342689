/**
 * Drives an app's workload into its input streams over simulated time: arrivals at the given rate
 * (exponential gaps), keys drawn from a Zipf law, events made by the app's `make`. The driver is the
 * client outside the system: it appends through the network like anyone else, retries hardware
 * faults, and uses conditional appends so that a retry after a lost reply never duplicates an event.
 */
import type { AppDef, WorkloadSpec } from '../src/app/define.ts';
import { isConflict, isUnavailable } from '../src/model/errors.ts';
import type { Random } from '../src/random/random.ts';
import type { EventStore } from '../src/store/event-store.ts';
import type { Clock } from '../src/time/clock.ts';
import { exponential } from './faults.ts';
import type { Scheduler } from './scheduler.ts';

export interface WorkloadShape {
  readonly events: number;
  readonly ratePerSecond: number;
  readonly keys: number;
  readonly skew: number;
}

export interface AckedInput {
  readonly stream: string;
  readonly key: string;
  readonly seq: number;
  readonly type: string;
  readonly time: number;
}

/** An input as the workload made it, in arrival order (the fault-free reference run replays these). */
export interface WorkloadInput {
  readonly stream: string;
  readonly key: string;
  readonly type: string;
  readonly time: number;
  readonly data: unknown;
}

export function workloadShape(spec: WorkloadSpec, overrides: Partial<WorkloadShape> = {}): WorkloadShape {
  return {
    events: overrides.events ?? spec.events ?? 1000,
    ratePerSecond: overrides.ratePerSecond ?? spec.ratePerSecond ?? 100,
    keys: overrides.keys ?? spec.keys ?? 100,
    skew: overrides.skew ?? spec.skew ?? 0.99,
  };
}

/** Samples ranks 0..n-1 with P(k) ∝ 1/(k+1)^skew (YCSB's default skew is 0.99). */
export class Zipf {
  private readonly cdf: Float64Array;
  constructor(n: number, skew: number) {
    this.cdf = new Float64Array(n);
    let total = 0;
    for (let k = 0; k < n; k++) this.cdf[k] = total += 1 / (k + 1) ** skew;
    for (let k = 0; k < n; k++) this.cdf[k] = (this.cdf[k] as number) / total;
  }
  sample(random: Random): number {
    const u = random.float();
    let lo = 0;
    let hi = this.cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.cdf[mid] as number) < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

export class WorkloadDriver {
  readonly acked: AckedInput[] = [];
  /** Every input made so far, in arrival order (the same for every fault plan: the workload has its own random streams). */
  readonly inputs: WorkloadInput[] = [];
  private inFlight = 0;
  private scheduled = 0;
  private readonly lastSeq = new Map<string, number>();
  private readonly chains = new Map<string, Promise<void>>();
  /** Set when an append failed in a way a client cannot retry (a bug: the run reports it). */
  failure: unknown;
  lastInputTimeMs = 0;

  constructor(
    private readonly app: AppDef,
    private readonly spec: WorkloadSpec,
    private readonly shape: WorkloadShape,
    private readonly scheduler: Scheduler,
    private readonly store: EventStore,
    private readonly clock: Clock,
    private readonly random: Random,
  ) {}

  /** Schedules every arrival; returns the simulated time of the last one. */
  start(): number {
    const zipf = new Zipf(this.shape.keys, this.shape.skew);
    const keyName = this.spec.keyName ?? ((n: number) => `key-${n}`);
    const arrivals = this.random.stream('arrivals');
    const keys = this.random.stream('keys');
    const make = this.random.stream('make');
    let t = this.scheduler.now;
    for (let i = 0; i < this.shape.events; i++) {
      t += exponential(arrivals, 1000 / this.shape.ratePerSecond);
      const key = keyName(zipf.sample(keys));
      const at = Math.round(t);
      const index = i;
      this.scheduled++;
      this.scheduler.at(at, () => this.arrive(index, key, make), 'workload.arrive');
    }
    return t;
  }

  /** All arrivals happened and every append was acknowledged. */
  get done(): boolean {
    return this.scheduled === 0 && this.inFlight === 0;
  }

  private arrive(i: number, key: string, random: Random): void {
    this.scheduled--;
    const time = Math.round(this.clock.nowMs());
    const event = this.spec.make({ i, key, time, random });
    if (event === undefined) return;
    const stream = event.stream.name;
    const shardKey = event.key ?? event.stream.key?.({ type: event.type, time, data: event.data } as never);
    if (shardKey === undefined) throw new Error(`workload event ${i}: stream ${stream} has no key function and the event no key`);
    this.lastInputTimeMs = Math.max(this.lastInputTimeMs, time);
    this.inputs.push({ stream, key: shardKey, type: event.type, time, data: event.data });
    this.inFlight++;
    const id = `${stream}\u0000${shardKey}`;
    const chain = (this.chains.get(id) ?? Promise.resolve()).then(() => this.appendOnce(stream, shardKey, event.type, event.data, time));
    this.chains.set(id, chain);
    void chain.finally(() => this.inFlight--);
  }

  /** Appends exactly once: conditional on the shard's known head; after a fault, checks before retrying. */
  private async appendOnce(stream: string, key: string, type: string, data: unknown, time: number): Promise<void> {
    const id = `${stream}\u0000${key}`;
    const expected = this.lastSeq.get(id) ?? 0;
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await this.store.append(stream, key, [{ type, time, data }], { expect: { lastSeq: expected } });
        return this.ack(stream, key, r.firstSeq, type, time);
      } catch (e) {
        if (isConflict(e)) {
          // Only this driver writes input shards: a conflict means an earlier attempt did land.
          return this.ack(stream, key, expected + 1, type, time);
        }
        if (!isUnavailable(e)) {
          this.failure ??= e;
          return;
        }
        await new Promise<void>((resolve) => this.scheduler.after(Math.min(2000, 20 * 2 ** attempt), resolve, 'workload.retry'));
      }
    }
  }

  private ack(stream: string, key: string, seq: number, type: string, time: number): void {
    this.lastSeq.set(`${stream}\u0000${key}`, seq);
    this.acked.push({ stream, key, seq, type, time });
  }
}
