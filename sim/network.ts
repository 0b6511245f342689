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
import { timersFrom, type Timers, type TimerHandle } from '../src/time/timers.ts';
import { draw, type FaultKind, type FaultOptions } from './faults.ts';
import type { Scheduler } from './scheduler.ts';

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

const PROMISE_METHODS = new Set(['append', 'head', 'acquireLease', 'renewLease', 'releaseLease', 'putSnapshot', 'getSnapshot', 'listSnapshots', 'stats']);
const ITERATOR_METHODS = new Set(['readShard', 'readStream', 'readAll', 'scanColumns', 'subscribe']);

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
    private readonly scheduler: Scheduler,
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
    let lastArrival = 0;
    let lastReply = 0;
    const net = this;
    const inOrder = (t: number, last: number) => Math.max(t, last);
    const call = <T>(method: string, invoke: () => Promise<T>): Promise<T> => {
      const now = net.scheduler.now;
      const f = net.faults;
      const on = net.faultsOn;
      const latency = () => draw(net.draws.latency, f.latencyMs) + (on && net.draws.slow.chance(f.slow.probability) ? (net.count('slow', `${node.name} ${method}`), draw(net.draws.slow, f.slow.extraMs)) : 0);
      const arrival = (lastArrival = inOrder(now + latency(), lastArrival));
      const down = now < net.outageUntil || now < node.partitionedUntil;
      const lostRequest = !down && on && net.draws.requestLost.chance(f.requestLost);
      const lostReply = !down && !lostRequest && on && net.draws.replyLost.chance(f.replyLost);
      return new Promise<T>((resolve, reject) => {
        const fail = (why: string) => {
          const at = Math.max(now + f.timeoutMs, node.pausedUntil);
          net.scheduler.at(at, () => {
            if (!node.dead) reject(new UnavailableError(`${method} from ${node.name}`, why));
          }, `net.timeout ${node.name}`);
        };
        if (down) return fail(now < net.outageUntil ? 'the store is unavailable' : 'partitioned from the store');
        if (lostRequest) {
          net.count('requestLost', `${node.name} ${method}`);
          return fail('the request was lost');
        }
        net.scheduler.at(arrival, () => {
          // A request that arrives while the store is down (restarting, say) finds nobody there.
          if (net.scheduler.now < net.outageUntil) return fail('the store is unavailable');
          invoke().then(
            (value) => {
              if (lostReply) {
                net.count('replyLost', `${node.name} ${method}`);
                return fail('the reply was lost');
              }
              const at = (lastReply = inOrder(Math.max(net.scheduler.now + latency(), node.pausedUntil), lastReply));
              net.scheduler.at(at, () => !node.dead && resolve(value), `net.reply ${node.name}`);
            },
            (error: unknown) => {
              const at = (lastReply = inOrder(Math.max(net.scheduler.now + latency(), node.pausedUntil), lastReply));
              net.scheduler.at(at, () => !node.dead && reject(error), `net.reply ${node.name}`);
            },
          );
        }, `net.request ${node.name} ${method}`);
      });
    };
    const iterate = <T>(method: string, open: () => AsyncIterable<T[]>): AsyncIterable<T[]> => ({
      [Symbol.asyncIterator]() {
        let inner: AsyncIterator<T[]> | undefined;
        let repeat: T[] | undefined;
        return {
          next: async () => {
            if (repeat !== undefined) {
              const value = repeat;
              repeat = undefined;
              return { done: false, value };
            }
            inner ??= open()[Symbol.asyncIterator]();
            const it = inner;
            const r = await call(`${method}.next`, () => it.next());
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
    });
    const current = () => net.store() as unknown as Record<string, (...a: unknown[]) => unknown>;
    return new Proxy({} as EventStore, {
      get(_target, property) {
        const target = current();
        const value = target[property as string];
        if (typeof property !== 'string' || typeof value !== 'function') return value;
        // The store is looked up when the request arrives, not when it is sent.
        if (PROMISE_METHODS.has(property)) return (...args: unknown[]) => call(property, () => (current()[property] as (...a: unknown[]) => Promise<unknown>).apply(current(), args));
        if (ITERATOR_METHODS.has(property)) return (...args: unknown[]) => iterate(property, () => (current()[property] as (...a: unknown[]) => AsyncIterable<unknown[]>).apply(current(), args));
        return value.bind(target);
      },
    });
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

  private count(kind: FaultKind, detail: string): void {
    this.counter.count(kind, detail);
  }
}
