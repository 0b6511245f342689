/**
 * The bulk writer's side of its sink thread (bulk-sink-worker.ts): requests go out in order, with the
 * encoded bytes moved (not copied) to the thread, and each returns a promise settled by the thread's
 * answer to it.
 */
import { Worker } from 'node:worker_threads';
import type { SinkItem } from './bulk-sink.ts';

export interface SinkThreadSetup {
  readonly dir: string;
  readonly seal: boolean;
  readonly parquet: boolean;
}

export type SinkRequest = { readonly kind: 'items'; readonly items: readonly SinkItem[] } | { readonly kind: 'finish' } | { readonly kind: 'abort' };
/** `released`: buffers of earlier items the thread is done with, moved back for the writer to encode into again (SinkOptions.release). */
export type SinkReply = { readonly kind: 'done'; readonly released?: Released } | { readonly kind: 'error'; readonly name: string; readonly message: string };

export interface Released {
  /** Buffers that held frames. */
  readonly bytes: readonly ArrayBuffer[];
  /** Buffers that held column records. */
  readonly records: readonly ArrayBuffer[];
}

export class SinkThread {
  private readonly pending: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  private failed: unknown;
  private exited = false;

  private constructor(
    private readonly worker: Worker,
    private readonly onReleased: ((released: Released) => void) | undefined,
  ) {
    worker.on('message', (reply: SinkReply) => {
      if (reply.kind === 'done' && reply.released !== undefined) this.onReleased?.(reply.released);
      const waiting = this.pending.shift();
      if (waiting === undefined) return;
      if (reply.kind === 'error') waiting.reject(Object.assign(new Error(reply.message), { name: reply.name }));
      else waiting.resolve();
    });
    worker.on('error', (e) => this.fail(e));
    worker.on('exit', (code) => {
      this.exited = true;
      this.fail(new Error(`the bulk load's sink thread exited (code ${code}) with ${this.pending.length} requests unanswered`));
    });
  }

  /** `onReleased`: buffers handed back by the thread (each answer may carry some). */
  static start(setup: SinkThreadSetup, onReleased?: (released: Released) => void): SinkThread {
    return new SinkThread(new Worker(new URL('./bulk-sink-boot.mjs', import.meta.url), { workerData: setup }), onReleased);
  }

  /** Sends a request; the buffers of `items` (bytes and records) are transferred: unusable here afterwards. */
  request(request: SinkRequest): Promise<void> {
    if (this.failed !== undefined) return Promise.reject(this.failed);
    // Frames and column records move to the thread without a copy.
    const transfer = new Set<ArrayBuffer>();
    if (request.kind === 'items') {
      for (const item of request.items) {
        if (!('bytes' in item)) continue;
        transfer.add(item.bytes.buffer as ArrayBuffer);
        if (item.records !== undefined) transfer.add(item.records.records.buffer as ArrayBuffer);
      }
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.worker.postMessage(request, [...transfer]);
    });
  }

  /** Stops the thread (after `finish` or `abort` was answered, or a failure). */
  async close(): Promise<void> {
    this.failed ??= new Error("the bulk load's sink thread was closed");
    if (!this.exited) await this.worker.terminate();
  }

  private fail(e: unknown): void {
    this.failed ??= e;
    for (const p of this.pending.splice(0)) p.reject(e);
  }
}
