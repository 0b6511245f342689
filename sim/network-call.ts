/**
 * One store call in flight on the simulated network, as one object that is scheduled twice: first
 * when the request reaches the store, then when the reply reaches the caller. Every store call of
 * every simulated node is one of these, so it costs one object rather than a closure per step, and a
 * store that answers at once (the memory store's synchronous calls) costs no promise either.
 */
import type { EventStore } from '../src/store/event-store.ts';
import type { LinkOrder, NodeState, SimNetwork } from './network.ts';
import type { Step } from './scheduler.ts';

export class NetworkCall implements Step {
  /** False while the request travels to the store; true once the reply travels back. */
  private replying = false;
  /** What the reply carries: the store's value, or its error when `failed`. */
  private outcome: unknown;
  private failed = false;

  constructor(
    private readonly net: SimNetwork,
    private readonly node: NodeState,
    private readonly link: LinkOrder,
    private readonly method: string,
    private readonly invoke: (store: EventStore) => unknown,
    /** When the caller sent it (its timeout counts from then). */
    private readonly sentAt: number,
    /** Whether faults were on when it was sent (the reply's latency draws as they were). */
    private readonly on: boolean,
    private readonly lostReply: boolean,
    private readonly resolve: (value: unknown) => void,
    private readonly reject: (error: unknown) => void,
  ) {}

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
    try {
      result = this.invoke(net.storeNow());
    } catch (error) {
      return this.answered(error, true);
    }
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
