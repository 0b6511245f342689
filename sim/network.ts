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
import type { Scheduler } from './scheduler.ts';
import { NetworkCall } from './network-call.ts';

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
    return { name, partitionedUntil: 0, pausedUntil: 0, dead: false };
  }

  /** The store as `node` reaches it over the network. */
  storeFor(node: NodeState): EventStore {
    return new Link(this, node, this.store);
  }

  /** Step labels of a node's requests (by method) and replies, built once: a label is needed for every request and reply. */
  private readonly labels = new WeakMap<NodeState, { readonly reply: string; readonly requests: Map<string, string> }>();

  private labelsOf(node: NodeState): { readonly reply: string; readonly requests: Map<string, string> } {
    let labels = this.labels.get(node);
    if (labels === undefined) this.labels.set(node, (labels = { reply: `net.reply ${node.name}`, requests: new Map() }));
    return labels;
  }

  private requestLabel(node: NodeState, method: string): string {
    const requests = this.labelsOf(node).requests;
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
    const now = this.scheduler.now;
    const f = this.faults;
    const on = this.faultsOn;
    const arrival = (link.lastArrival = Math.max(now + this.latency(node, method, on), link.lastArrival));
    const down = now < this.outageUntil || now < node.partitionedUntil;
    const lostRequest = !down && on && this.draws.requestLost.chance(f.requestLost);
    const lostReply = !down && !lostRequest && on && this.draws.replyLost.chance(f.replyLost);
    // No named closures here: this runs for every store call of every node (and tsx names each one).
    return new Promise<T>((resolve, reject) => {
      if (down) return this.timeOut(node, method, now, reject, now < this.outageUntil ? 'the store is unavailable' : 'partitioned from the store');
      if (lostRequest) {
        this.count('requestLost', `${node.name} ${method}`);
        return this.timeOut(node, method, now, reject, 'the request was lost');
      }
      // Requests on one connection arriving together are one step.
      this.scheduler.at(arrival, new NetworkCall(this, node, link, method, invoke as (store: EventStore) => unknown, now, on, lostReply, resolve as (value: unknown) => void, reject), this.requestLabel(node, method), link);
    });
  }

  /** The store the network reaches now. */
  storeNow(): EventStore {
    return this.store();
  }

  /** The caller of a call sent at `sentAt` gives up after the timeout (later if it is paused then). */
  timeOut(node: NodeState, method: string, sentAt: number, reject: (e: unknown) => void, why: string): void {
    const at = Math.max(sentAt + this.faults.timeoutMs, node.pausedUntil);
    this.scheduler.at(at, () => {
      if (!node.dead) reject(new UnavailableError(`${method} from ${node.name}`, why));
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
    return this.labelsOf(node).reply;
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
        let inner: AsyncIterator<T> | undefined;
        let repeat: T | undefined;
        return {
          next: async () => {
            if (repeat !== undefined) {
              const value = repeat;
              repeat = undefined;
              return { done: false as const, value };
            }
            const r = await net.call(node, link, call, (store) => (inner ??= open(store)[Symbol.asyncIterator]()).next());
            if (!r.done && net.faultsOn && net.draws.duplicateDelivery.chance(net.faults.duplicateDelivery)) {
              net.count('duplicateDelivery', `${node.name} ${method}`);
              repeat = r.value;
            }
            return r;
          },
          return: async () => {
            await inner?.return?.();
            return { done: true, value: undefined };
          },
        };
      },
    };
  }

  /** Timers of a node: they run at the node's clock rate and never fire while it is paused. */
  timersFor(node: NodeState, rate: number): Timers {
    const scheduler = this.scheduler;
    const at = (delayMs: number, fn: () => void): number => {
      const fire = () => {
        if (node.dead) return;
        if (scheduler.now < node.pausedUntil) scheduler.at(node.pausedUntil, fire, `timer ${node.name}`);
        else fn();
      };
      return scheduler.after(Math.max(0, delayMs) / rate, fire, `timer ${node.name}`);
    };
    return timersFrom((delayMs, fn): TimerHandle => {
      const id = at(delayMs, fn);
      return { cancel: () => scheduler.cancel(id) };
    });
  }

  count(kind: FaultKind, detail: string): void {
    this.counter.count(kind, detail);
  }
}
