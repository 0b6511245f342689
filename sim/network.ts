/**
 * The simulated network between nodes (runners, the ingress) and the store. Each node gets its own
 * `EventStore` whose calls travel with latency, in order (one connection per node: FIFO, as TCP),
 * and suffer the fault plan: lost requests, lost replies (the work was done), slow answers, store
 * outages, partitions, duplicated subscription batches. A paused node receives nothing until it
 * wakes: replies and timers wait, as for a process frozen by a long GC pause.
 */
import { UnavailableError } from '../src/model/errors.ts';
import type { Random } from '../src/random/random.ts';
import type { EventStore } from '../src/store/event-store.ts';
import { Link } from './network-link.ts';
import { timersFrom, type Timers, type TimerHandle } from '../src/time/timers.ts';
import { draw, type FaultKind, type FaultOptions } from './faults.ts';
import type { Scheduler, Step } from './scheduler.ts';
import { InvokeCall, IteratorSource, NextCall, type NetworkCall } from './network-call.ts';

/** The call whose promise is being made (a Promise executor runs at once, inside `send`). */
let sending: NetworkCall | undefined;

/** The one Promise executor of every store call: hands the settlers to the call being sent. */
function takeSettlers(resolve: (value: unknown) => void, reject: (error: unknown) => void): void {
  const call = sending as NetworkCall;
  call.resolve = resolve;
  call.reject = reject;
}

/**
 * The UNAVAILABLE a caller sees when its call times out, without a stack: where it was made says
 * nothing (always here), and capturing one was most of an error's cost (one per timed-out call).
 */
function timeoutError(method: string, node: string, why: string): UnavailableError {
  const stackLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new UnavailableError(`${method} from ${node}`, why);
  } finally {
    Error.stackTraceLimit = stackLimit;
  }
}

/** A node's timer as a scheduler step (an object, not a named closure per timer): it waits while the node is paused, and dies with it. */
class NodeTimer implements Step {
  constructor(
    private readonly scheduler: Scheduler,
    private readonly node: NodeState,
    private readonly label: string,
    private readonly fn: () => void,
  ) {}

  run(): void {
    if (this.node.dead) return;
    if (this.scheduler.now < this.node.pausedUntil) this.scheduler.at(this.node.pausedUntil, this, this.label);
    else this.fn();
  }
}

export interface FaultCounter {
  count(kind: FaultKind, detail: string): void;
}

export interface NodeState {
  readonly name: string;
  /** Calls fail until this simulated time (a partition). */
  partitionedUntil: number;
  /** The node is frozen until this simulated time (a pause). */
  pausedUntil: number;
  /** Set when the node crashed: every pending reply to it is dropped. */
  dead: boolean;
  /** Step labels of its replies and (by method) its requests, built once: one is needed per request and reply. */
  readonly replyLabel: string;
  readonly requestLabels: Map<string, string>;
}

/** The order kept on one node's connection: requests arrive, and replies return, in the order sent. */
export interface LinkOrder {
  lastArrival: number;
  lastReply: number;
}

export class SimNetwork {
  /** The store is down for everyone until this time. */
  outageUntil = 0;
  /** Faults are injected only while this is true. */
  faultsOn = true;
  /**
   * One random stream per kind of draw, so turning one fault off (as shrinking does) leaves the
   * others' draws, and the latencies, exactly as they were.
   */
  private readonly draws: Record<'latency' | 'slow' | 'requestLost' | 'replyLost' | 'duplicateDelivery', Random>;

  constructor(
    readonly scheduler: Scheduler,
    /** The store behind the network now (it changes when a store machine crashes and restarts). */
    private readonly store: () => EventStore,
    private readonly faults: FaultOptions,
    random: Random,
    private readonly counter: FaultCounter,
  ) {
    this.draws = {
      latency: random.stream('latency'),
      slow: random.stream('slow'),
      requestLost: random.stream('requestLost'),
      replyLost: random.stream('replyLost'),
      duplicateDelivery: random.stream('duplicateDelivery'),
    };
  }

  node(name: string): NodeState {
    return { name, partitionedUntil: 0, pausedUntil: 0, dead: false, replyLabel: `net.reply ${name}`, requestLabels: new Map() };
  }

  /** The store as `node` reaches it over the network. */
  storeFor(node: NodeState): EventStore {
    return new Link(this, node, this.store);
  }

  private requestLabel(node: NodeState, method: string): string {
    const requests = node.requestLabels;
    let label = requests.get(method);
    if (label === undefined) requests.set(method, (label = `net.request ${node.name} ${method}`));
    return label;
  }

  /**
   * One call from `node`: it travels with latency (FIFO per node), may be lost on the way or on the
   * way back, and fails after a timeout when the store is down or the node partitioned. The store is
   * looked up when the request arrives, not when it is sent. `invoke` may answer at once (a value or a
   * throw: the memory store's synchronous calls) or with a promise (any other store).
   */
  call<T>(node: NodeState, link: LinkOrder, method: string, invoke: (store: EventStore) => T | Promise<T>): Promise<T> {
    return this.send(node, link, method, new InvokeCall(invoke)) as Promise<T>;
  }

  /** `call`, for a call object made by the caller (an append keeps its arguments in it: no closure per call). */
  send(node: NodeState, link: LinkOrder, method: string, call: NetworkCall): Promise<unknown> {
    const now = this.scheduler.now;
    const f = this.faults;
    const on = this.faultsOn;
    const arrival = (link.lastArrival = Math.max(now + this.latency(node, method, on), link.lastArrival));
    const down = now < this.outageUntil || now < node.partitionedUntil;
    const lostRequest = !down && on && this.draws.requestLost.chance(f.requestLost);
    const lostReply = !down && !lostRequest && on && this.draws.replyLost.chance(f.replyLost);
    call.net = this;
    call.node = node;
    call.link = link;
    call.method = method;
    call.sentAt = now;
    call.on = on;
    call.lostReply = lostReply;
    // The executor is one shared function (the call's resolve and reject go into the call), not a
    // closure per call: this runs for every store call of every node.
    sending = call;
    const promise = new Promise<unknown>(takeSettlers);
    sending = undefined;
    if (down) this.timeOut(node, method, now, call.reject, now < this.outageUntil ? 'the store is unavailable' : 'partitioned from the store');
    else if (lostRequest) {
      this.count('requestLost', `${node.name} ${method}`);
      this.timeOut(node, method, now, call.reject, 'the request was lost');
    }
    // Requests on one connection arriving together are one step.
    else this.scheduler.at(arrival, call, this.requestLabel(node, method), link);
    return promise;
  }

  /** The store the network reaches now. */
  storeNow(): EventStore {
    return this.store();
  }

  /** The caller of a call sent at `sentAt` gives up after the timeout (later if it is paused then). */
  timeOut(node: NodeState, method: string, sentAt: number, reject: (e: unknown) => void, why: string): void {
    const at = Math.max(sentAt + this.faults.timeoutMs, node.pausedUntil);
    this.scheduler.at(at, () => {
      if (!node.dead) reject(timeoutError(method, node.name, why));
    }, `net.timeout ${node.name}`);
  }

  /**
   * When the reply to a call answered now reaches `node`: it travels back with latency, after earlier
   * replies on the same connection, and waits for a paused node.
   */
  replyTime(node: NodeState, link: LinkOrder, method: string, on: boolean): number {
    return (link.lastReply = Math.max(this.scheduler.now + this.latency(node, method, on), node.pausedUntil, link.lastReply));
  }

  /** The step label of replies to `node`. */
  replyLabel(node: NodeState): string {
    return node.replyLabel;
  }

  /** One-way latency of a call: the base draw, plus the slow-store extra now and then (while faults are on). */
  private latency(node: NodeState, method: string, on: boolean): number {
    const f = this.faults;
    const base = draw(this.draws.latency, f.latencyMs);
    if (!(on && this.draws.slow.chance(f.slow.probability))) return base;
    this.count('slow', `${node.name} ${method}`);
    return base + draw(this.draws.slow, f.slow.extraMs);
  }

  /** Batches of a store iterator, each `next` one call; a batch may be delivered twice (while faults are on). */
  iterate<T>(node: NodeState, link: LinkOrder, method: string, open: (store: EventStore) => AsyncIterable<T>): AsyncIterable<T> {
    const net = this;
    const call = `${method}.next`;
    return {
      [Symbol.asyncIterator]() {
        const source = new IteratorSource(open);
        let repeat: T | undefined;
        return {
          next: async () => {
            if (repeat !== undefined) {
              const value = repeat;
              repeat = undefined;
              return { done: false as const, value };
            }
            const r = (await net.send(node, link, call, new NextCall(source))) as IteratorResult<T>;
            if (!r.done && net.faultsOn && net.draws.duplicateDelivery.chance(net.faults.duplicateDelivery)) {
              net.count('duplicateDelivery', `${node.name} ${method}`);
              repeat = r.value;
            }
            return r;
          },
          return: async () => {
            await source.inner?.return?.();
            return { done: true, value: undefined };
          },
        };
      },
    };
  }

  /** Timers of a node: they run at the node's clock rate and never fire while it is paused. */
  timersFor(node: NodeState, rate: number): Timers {
    const scheduler = this.scheduler;
    const label = `timer ${node.name}`;
    return timersFrom((delayMs, fn): TimerHandle => {
      const id = scheduler.at(scheduler.now + Math.max(0, Math.max(0, delayMs) / rate), new NodeTimer(scheduler, node, label, fn), label);
      return { cancel: () => scheduler.cancel(id) };
    });
  }

  count(kind: FaultKind, detail: string): void {
    this.counter.count(kind, detail);
  }
}
