/**
 * The writing half of `spive dataset generate` on its own thread, so the two cores split the work: this
 * thread generates inputs and folds the handlers over them, the writer thread (writer-worker.ts) runs
 * the `BulkWriter` — frames, columns, checksums, writes, sealing. The fold's batches and snapshots
 * travel as packed arrays (writer-ops.ts), posted in requests of a few MiB; the thread answers each
 * in order, and `flush` waits while too many are unanswered, which bounds the memory in between.
 *
 * The store written is the one a `BulkWriter` in this thread would write from the same calls: the
 * same calls are made on one, in the same order, from the same texts and numbers.
 */
import { Worker } from 'node:worker_threads';
import type { Snapshot } from '../../src/model/event.ts';
import type { BulkWriteSummary } from '../../src/store/embedded/bulk-writer.ts';
import type { FoldedBatch, FoldSink } from './fold.ts';
import { packBatch, packSnapshot, packSnapshotText, type Ops } from './writer-ops.ts';

export interface WriterSetup {
  readonly dir: string;
  readonly segmentBytes?: number;
  readonly seal: boolean;
  /** Whether the writer thread's `BulkWriter` has its own sink thread as well. */
  readonly sinkThread: boolean;
  readonly command: string;
}

export type WriterRequest = { readonly kind: 'ops'; readonly ops: Ops } | { readonly kind: 'finish' } | { readonly kind: 'abort' };
export type WriterReply =
  | { readonly kind: 'done' }
  | { readonly kind: 'finished'; readonly summary: BulkWriteSummary }
  | { readonly kind: 'warn'; readonly message: string }
  | { readonly kind: 'error'; readonly name: string; readonly message: string };

/** Bytes of texts packed before they are posted. */
const REQUEST_BYTES = 256 * 1024;
/** Requests posted and not yet answered: `flush` waits while there are more. */
const IN_FLIGHT = 64;

export class WriterThread implements FoldSink {
  private ops: Ops = [];
  private opsBytes = 0;
  private readonly pending: Array<{ resolve: (reply: WriterReply) => void; reject: (e: unknown) => void }> = [];
  private readonly inFlight: Array<Promise<WriterReply>> = [];
  private failed: unknown;
  private exited = false;

  private constructor(
    private readonly worker: Worker,
    warn: (message: string) => void,
  ) {
    worker.on('message', (reply: WriterReply) => {
      if (reply.kind === 'warn') return warn(reply.message);
      const waiting = this.pending.shift();
      if (waiting === undefined) return;
      if (reply.kind === 'error') waiting.reject(Object.assign(new Error(reply.message), { name: reply.name }));
      else waiting.resolve(reply);
    });
    worker.on('error', (e) => this.fail(e));
    worker.on('exit', (code) => {
      this.exited = true;
      this.fail(new Error(`the dataset's writer thread exited (code ${code}) with ${this.pending.length} requests unanswered`));
    });
  }

  /** Starts the thread and waits for it to create the store at `setup.dir` (a new or empty folder). */
  static async start(setup: WriterSetup, warn: (message: string) => void): Promise<WriterThread> {
    const thread = new WriterThread(new Worker(new URL('./writer-boot.mjs', import.meta.url), { workerData: setup }), warn);
    try {
      // The thread answers once, unasked, when the store is created (or could not be).
      await new Promise<WriterReply>((resolve, reject) => thread.pending.push({ resolve, reject }));
    } catch (e) {
      await thread.close();
      throw e;
    }
    return thread;
  }

  batch(batch: FoldedBatch): void {
    this.opsBytes += packBatch(this.ops, batch);
  }

  snapshot(snapshot: Omit<Snapshot, 'sizeBytes'>): void {
    this.opsBytes += packSnapshot(this.ops, snapshot);
  }

  snapshotText(snapshot: Omit<Snapshot, 'sizeBytes' | 'data'>, text: string): void {
    this.opsBytes += packSnapshotText(this.ops, snapshot, text);
  }

  /** Bytes packed and not yet posted: call `flush()` once they are past `flushAt`. */
  get buffered(): number {
    return this.opsBytes;
  }

  /**
   * A request's size: small, so that what waits to be posted dies young in this thread's heap
   * (requests of many MiB outlived scavenges and made old-generation garbage).
   */
  readonly flushAt = REQUEST_BYTES;

  /** Posts what is packed once it is a request's worth; waits while too many requests are unanswered. */
  async flush(): Promise<void> {
    if (this.opsBytes < this.flushAt) return;
    this.post();
    while (this.inFlight.length > IN_FLIGHT) await this.inFlight.shift();
  }

  /** Posts the rest, lets the writer finish the store, and stops the thread (after a failure, call `abort`). */
  async finish(): Promise<BulkWriteSummary> {
    this.post();
    for (const request of this.inFlight.splice(0)) await request;
    const reply = await this.request({ kind: 'finish' });
    await this.close();
    return (reply as Extract<WriterReply, { kind: 'finished' }>).summary;
  }

  /** Lets the writer close its files and lock without finishing (after a failure), and stops the thread. */
  async abort(): Promise<void> {
    try {
      await this.request({ kind: 'abort' }).catch(() => undefined);
    } finally {
      await this.close();
    }
  }

  private post(): void {
    if (this.ops.length === 0) return;
    const request = this.request({ kind: 'ops', ops: this.ops });
    // A failure is reported by the next flush or finish that waits for it.
    request.catch(() => undefined);
    this.inFlight.push(request);
    this.ops = [];
    this.opsBytes = 0;
  }

  private request(request: WriterRequest): Promise<WriterReply> {
    if (this.failed !== undefined) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.worker.postMessage(request);
    });
  }

  private async close(): Promise<void> {
    this.failed ??= new Error("the dataset's writer thread was closed");
    if (!this.exited) await this.worker.terminate();
  }

  private fail(e: unknown): void {
    this.failed ??= e;
    for (const p of this.pending.splice(0)) p.reject(e);
  }
}
