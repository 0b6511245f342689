/**
 * One store call in flight on the simulated network, as one object that is scheduled twice: first
 * when the request reaches the store, then when the reply reaches the caller. Every store call of
 * every simulated node is one of these, so it costs one object rather than a closure per step, and a
 * store that answers at once (the memory store's synchronous calls) costs no promise either. The
 * frequent calls are subclasses that keep their arguments as fields (`request` makes the call): no
 * closure and context per call for what to invoke.
 */
import type { NewEvent } from '../src/model/event.ts';
import type { AppendOptions, EventStore } from '../src/store/event-store.ts';
import { MemoryStore } from '../src/store/memory/memory-store.ts';
import type { LinkOrder, NodeState, SimNetwork } from './network.ts';
import type { Step } from './scheduler.ts';

export abstract class NetworkCall implements Step {
  /** False while the request travels to the store; true once the reply travels back. */
  private replying = false;
  /** What the reply carries: the store's value, or its error when `failed`. */
  private outcome: unknown;
  private failed = false;
  // Set by SimNetwork.send when the call is sent (one object per call, filled in place).
  net!: SimNetwork;
  node!: NodeState;
  link!: LinkOrder;
  method = '';
  /** When the caller sent it (its timeout counts from then). */
  sentAt = 0;
  /** Whether faults were on when it was sent (the reply's latency draws as they were). */
  on = false;
  lostReply = false;
  resolve!: (value: unknown) => void;
  reject!: (error: unknown) => void;

  /** The call itself, on the store the request reached: a value or a throw (answered at once), or a promise. */
  protected abstract request(store: EventStore): unknown;

  run(): void {
    if (this.replying) this.deliver();
    else this.arrive();
  }

  /** The request reaches the store (or finds nobody there). */
  private arrive(): void {
    const net = this.net;
    // A request that arrives while the store is down (restarting, say) finds nobody there.
    if (net.scheduler.now < net.outageUntil) return net.timeOut(this.node, this.method, this.sentAt, this.reject, 'the store is unavailable');
    let result: unknown;
    // An error the store makes crosses the network as a reply: no stack of the store's side is
    // captured (as none comes over a real wire). The standby's refused lease requests and the
    // conflicts of retried appends made it ~1% of a run.
    const stackLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      result = this.request(net.storeNow());
    } catch (error) {
      Error.stackTraceLimit = stackLimit;
      return this.answered(error, true);
    }
    Error.stackTraceLimit = stackLimit;
    if (result instanceof Promise) {
      result.then(
        (value: unknown) => this.answered(value, false),
        (error: unknown) => this.answered(error, true),
      );
    } else this.answered(result, false);
  }

  /** The store answered: the reply travels back, unless it is lost (the work was done all the same). */
  private answered(outcome: unknown, failed: boolean): void {
    const net = this.net;
    if (!failed && this.lostReply) {
      net.count('replyLost', `${this.node.name} ${this.method}`);
      return net.timeOut(this.node, this.method, this.sentAt, this.reject, 'the reply was lost');
    }
    this.outcome = outcome;
    this.failed = failed;
    this.replying = true;
    // Replies to one node arriving together are one step.
    net.scheduler.at(net.replyTime(this.node, this.link, this.method, this.on), this, net.replyLabel(this.node), this.node);
  }

  /** The reply reaches the caller (a dead node's replies are dropped). */
  private deliver(): void {
    if (this.node.dead) return;
    if (this.failed) this.reject(this.outcome);
    else this.resolve(this.outcome);
  }
}

/** Any store call, as a function of the store the request reaches (the infrequent calls). */
export class InvokeCall extends NetworkCall {
  constructor(private readonly invoke: (store: EventStore) => unknown) {
    super();
  }

  protected request(store: EventStore): unknown {
    return this.invoke(store);
  }
}

/** An append (one per platform event): through the memory store's synchronous form when it is one. */
export class AppendCall extends NetworkCall {
  constructor(
    private readonly stream: string,
    private readonly key: string,
    private readonly events: readonly NewEvent<unknown>[],
    private readonly options: AppendOptions | undefined,
  ) {
    super();
  }

  protected request(store: EventStore): unknown {
    return store instanceof MemoryStore ? store.appendNow(this.stream, this.key, this.events, this.options) : store.append(this.stream, this.key, this.events, this.options);
  }
}

/** The store iterator a node's `iterate` reads: opened on the store its first `next` reaches. */
export class IteratorSource<T> {
  inner: AsyncIterator<T> | undefined;

  constructor(private readonly open: (store: EventStore) => AsyncIterable<T>) {}

  next(store: EventStore): Promise<IteratorResult<T>> {
    return (this.inner ??= this.open(store)[Symbol.asyncIterator]()).next();
  }
}

/** One `next` of a store iterator (a subscription's batches: about one per platform event). */
export class NextCall<T> extends NetworkCall {
  constructor(private readonly source: IteratorSource<T>) {
    super();
  }

  protected request(store: EventStore): unknown {
    return this.source.next(store);
  }
}
