/**
 * Drives an app's workload into its input streams over simulated time: arrivals at the given rate
 * (exponential gaps), keys drawn from a Zipf law, events made by the app's `make`. The driver is the
 * client outside the system: it appends through the network like anyone else, retries hardware
 * faults, and uses conditional appends so that a retry after a lost reply never duplicates an event.
 */
import type { AppDef, WorkloadSpec } from '../src/app/define.ts';
import { isConflict, isUnavailable } from '../src/model/errors.ts';
import type { Random } from '../src/random/random.ts';
import { IDLE_EVENT } from '../src/runtime/runner.ts';
import type { EventStore } from '../src/store/event-store.ts';
import { ShardMap } from '../src/store/store-state.ts';
import type { Clock } from '../src/time/clock.ts';
import { exponential } from './faults.ts';
import type { Scheduler } from './scheduler.ts';

/** The shard of an ingress stream's idle events (the platform's ingress uses the same). */
const IDLE_INGRESS_KEY = `${IDLE_EVENT}/ingress`;

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

/** An append the driver has yet to see acknowledged. */
interface PendingAppend extends WorkloadInput {
  /** A workload input (acknowledged inputs are checked by the oracles), not an idle event. */
  readonly input: boolean;
}

export class WorkloadDriver {
  readonly acked: AckedInput[] = [];
  /** Every input made so far, in arrival order (the same for every fault plan: the workload has its own random streams). */
  readonly inputs: WorkloadInput[] = [];
  private inFlight = 0;
  private scheduled = 0;
  private readonly lastSeq = new ShardMap<number>();
  /** Appends not yet acknowledged, per queue (see `chain`); a queue is here while it is being appended. */
  private readonly queues = new Map<string, Map<string, PendingAppend[]>>();
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
    /**
     * Streams appended one event at a time in arrival (hence time) order and closed with one idle
     * event after the last input: the streams a join depends on (src/app/join-feeds.ts). Others are
     * appended per shard, concurrently.
     */
    private readonly ordered: ReadonlySet<string> = new Set(),
  ) {}

  /** Schedules every arrival; returns the simulated time of the last one. */
  start(): number {
    const zipf = new Zipf(this.shape.keys, this.shape.skew);
    const keyName = this.spec.keyName ?? ((n: number) => `key-${n}`);
    const arrivals = this.random.stream('arrivals');
    const keys = this.random.stream('keys');
    const make = this.random.stream('make');
    let t = this.scheduler.now;
    // One step object for every arrival, not a closure each: arrivals are scheduled in time order
    // (ties in the order scheduled), so they run in index order and the step takes the next key.
    const arrivalKeys: string[] = new Array(this.shape.events);
    const step = { run: () => this.arrive(this.arrived, arrivalKeys[this.arrived++] as string, make) };
    for (let i = 0; i < this.shape.events; i++) {
      t += exponential(arrivals, 1000 / this.shape.ratePerSecond);
      arrivalKeys[i] = keyName(zipf.sample(keys));
      const at = Math.round(t);
      this.scheduled++;
      // Arrivals in the same ms, one right after the other, are one step (a burst from the clients).
      this.scheduler.at(at, step, 'workload.arrive', this);
    }
    return t;
  }

  /** Arrivals that have happened (the index of the next one). */
  private arrived = 0;

  /** All arrivals happened and every append was acknowledged. */
  get done(): boolean {
    return this.scheduled === 0 && this.inFlight === 0;
  }

  private arrive(i: number, key: string, random: Random): void {
    this.scheduled--;
    const time = Math.round(this.clock.nowMs());
    const event = this.spec.make({ i, key, time, random });
    if (event !== undefined) this.submit(i, event, time);
    if (this.scheduled === 0) this.closeOrderedStreams();
  }

  private submit(i: number, event: NonNullable<ReturnType<WorkloadSpec['make']>>, time: number): void {
    const stream = event.stream.name;
    const shardKey = event.key ?? event.stream.key?.({ type: event.type, time, data: event.data } as never);
    if (shardKey === undefined) throw new Error(`workload event ${i}: stream ${stream} has no key function and the event no key`);
    this.lastInputTimeMs = Math.max(this.lastInputTimeMs, time);
    // One object is both the input kept for the reference run and the append queued.
    const input: PendingAppend = { stream, key: shardKey, type: event.type, data: event.data, time, input: true };
    this.inputs.push(input);
    this.chain(input);
  }

  /**
   * Queues an append behind the earlier ones of its shard (or of its stream, for an ordered stream):
   * one loop per busy queue appends them in turn (no promise chain per append).
   */
  private chain(append: PendingAppend): void {
    this.inFlight++;
    // Queues by stream, then by key ('' for an ordered stream's one queue: keys are never empty).
    let byKey = this.queues.get(append.stream);
    if (byKey === undefined) this.queues.set(append.stream, (byKey = new Map()));
    const id = this.ordered.has(append.stream) ? '' : append.key;
    const queue = byKey.get(id);
    if (queue !== undefined) queue.push(append);
    else {
      const started = [append];
      byKey.set(id, started);
      this.appendFrom(byKey, id, started, 0);
    }
  }

  /**
   * Appends `queue[i]`, then the rest in turn: a chain of callbacks, so an append costs the store's
   * own promise and one `then`, not an async function and an await per loop.
   */
  private appendFrom(byKey: Map<string, PendingAppend[]>, id: string, queue: PendingAppend[], i: number): void {
    if (i >= queue.length) {
      byKey.delete(id);
      return;
    }
    const a = queue[i] as PendingAppend;
    this.appendOnce(a, this.lastSeq.get(a.stream, a.key) ?? 0, 1, () => {
      this.inFlight--;
      this.appendFrom(byKey, id, queue, i + 1);
    });
  }

  /**
   * After the last arrival, one idle event per ordered ingress stream, later in event time than every
   * input: a join's quiet input then lets it take the events still waiting on its other inputs.
   */
  private closeOrderedStreams(): void {
    const time = Math.max(Math.round(this.clock.nowMs()), this.lastInputTimeMs + 1);
    const written = new Set(this.app.processes.map((p) => p.output.name));
    for (const stream of [...this.ordered].sort()) {
      if (written.has(stream)) continue; // a process's output: its runner emits the idle events
      this.chain({ stream, key: IDLE_INGRESS_KEY, type: IDLE_EVENT, data: null, time, input: false });
    }
  }

  /**
   * Appends exactly once, conditional on the shard's head as the driver knew it (`expected`); after a
   * fault it retries with backoff, and a conflict then means an earlier attempt did land. Calls `done`
   * when the append is settled one way or the other.
   */
  private appendOnce(a: PendingAppend, expected: number, attempt: number, done: () => void): void {
    this.store.append(a.stream, a.key, [{ type: a.type, time: a.time, data: a.data }], { expect: { lastSeq: expected } }).then(
      (r) => {
        if (a.input) this.ack(a.stream, a.key, r.firstSeq, a.type, a.time);
        done();
      },
      (e: unknown) => {
        if (isConflict(e)) {
          // Only this driver writes input shards: a conflict means an earlier attempt did land.
          if (a.input) this.ack(a.stream, a.key, expected + 1, a.type, a.time);
          return done();
        }
        if (!isUnavailable(e)) {
          this.failure ??= e;
          return done();
        }
        this.scheduler.after(Math.min(2000, 20 * 2 ** attempt), () => this.appendOnce(a, expected, attempt + 1, done), 'workload.retry');
      },
    );
  }

  private ack(stream: string, key: string, seq: number, type: string, time: number): void {
    this.lastSeq.set(stream, key, seq);
    this.acked.push({ stream, key, seq, type, time });
  }
}
