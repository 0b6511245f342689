/**
 * Wakes subscriptions when appends commit: one LISTEN connection per store, opened on the first
 * subscription. NOTIFY is an optimisation, not the source of truth: a dropped connection loses
 * notifications, so subscribers also poll (every `pollMs`, through the injected Timers) and always
 * re-read from their own position, which is what decides what they deliver.
 */
import pg from 'pg';
import type { Timers, TimerHandle } from '../../time/timers.ts';
import { quoteIdent } from './location.ts';

export class CommitWatch {
  private readonly listeners = new Set<() => void>();
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly channel: string,
    private readonly timers: Timers,
    private readonly pollMs: number,
  ) {}

  /** Calls `onCommit` after each commit notification (and after a lost connection); returns the unsubscribe. */
  watch(onCommit: () => void): () => void {
    this.listeners.add(onCommit);
    this.ensureListening();
    return () => this.listeners.delete(onCommit);
  }

  /**
   * Resolves after `pollMs`, on abort, on close, or when the subscriber calls the wake function it is
   * handed through `setWake` (from its watch callback): whichever comes first.
   */
  sleep(signal: AbortSignal | undefined, setWake: (wake: () => void) => void): Promise<void> {
    if (this.closed || signal?.aborted) return Promise.resolve();
    this.ensureListening();
    return new Promise<void>((resolve) => {
      let timer: TimerHandle | undefined;
      const done = () => {
        timer?.cancel();
        signal?.removeEventListener('abort', done);
        setWake(() => undefined);
        resolve();
      };
      timer = this.timers.after(this.pollMs, done);
      signal?.addEventListener('abort', done, { once: true });
      setWake(done);
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private ensureListening(): void {
    if (this.closed || this.client !== undefined || this.connecting !== undefined) return;
    this.connecting = this.listen()
      .catch(() => {
        // Unreachable for now: subscribers keep polling, and the next wait tries again.
        this.client = undefined;
      })
      .finally(() => {
        this.connecting = undefined;
      });
  }

  private async listen(): Promise<void> {
    const client = new pg.Client(this.config);
    client.on('error', () => this.drop(client));
    client.on('end', () => this.drop(client));
    client.on('notification', () => this.notify());
    await client.connect();
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    await client.query(`LISTEN ${quoteIdent(this.channel)}`);
    this.client = client;
    // Commits between the subscriber's last read and LISTEN taking effect would otherwise wait for a poll.
    this.notify();
  }

  private drop(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.end().catch(() => undefined);
    this.notify();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.notify();
    await this.connecting;
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}
