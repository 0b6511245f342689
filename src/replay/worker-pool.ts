/**
 * The replay's worker threads (`spive replay --workers W`). The main thread keeps the store: it reads
 * each column batch once and hands it to every worker (shared memory: no copy), each worker folding
 * its share of the shards; it reads each object-path shard's events and hands them to the least busy
 * worker; it writes every result. The workers only run handlers (shard-worker.ts), so a shard's output
 * is the same whichever thread computed it, and the store keeps one writer.
 */
import { Worker } from 'node:worker_threads';
import type { ColumnBatch } from '../store/event-store.ts';
import { ScanBuffers, SHARED_SCAN_SLOTS } from '../store/scan-buffers.ts';
import { assert } from '../util/assert.ts';
import { keyRuns, type FoldedShard, type FoldResult, type FoldStart } from './columnar-fold.ts';
import type { ShardInput, ShardRun } from './shard-run.ts';
import type { ProcessRef, WorkerReply, WorkerRequest, WorkerSetup } from './worker-protocol.ts';

export interface ParallelFoldOptions extends ProcessRef {
  /**
   * The input's columns; scan them with `buffers: workers.scanBuffers` so batches reach the workers
   * without a copy (shared memory), in buffers kept from the last fold (`shared: true`: fresh ones).
   */
  readonly batches: AsyncIterable<ColumnBatch>;
  readonly m: Float64Array | null;
  readonly limit: number;
  readonly shards: ReadonlyMap<string, FoldStart>;
  /** Expected input events per shard, to share the work out evenly (missing: 1). */
  readonly weights?: ReadonlyMap<string, number>;
  readonly check: boolean;
  readonly onEvents?: (n: number) => void;
}

/** One worker thread; replies come in request order, so pending requests are a queue. */
class ReplayWorker {
  private readonly pending: Array<{ resolve: (r: WorkerReply) => void; reject: (e: unknown) => void }> = [];
  private failed: unknown;
  readonly ready: Promise<WorkerReply>;

  constructor(private readonly worker: Worker) {
    this.ready = new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
    worker.on('message', (reply: WorkerReply) => {
      const waiting = this.pending.shift();
      if (waiting === undefined) return;
      if (reply.kind === 'error') waiting.reject(Object.assign(new Error(reply.message), { name: reply.name }));
      else waiting.resolve(reply);
    });
    worker.on('error', (e) => this.fail(e));
    worker.on('exit', (code) => this.fail(new Error(`a replay worker thread exited (code ${code}) with ${this.pending.length} requests unanswered`)));
  }

  /** Requests not yet answered. */
  get load(): number {
    return this.pending.length;
  }

  request(message: WorkerRequest): Promise<WorkerReply> {
    if (this.failed !== undefined) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.worker.postMessage(message);
    });
  }

  private fail(e: unknown): void {
    this.failed ??= e;
    for (const p of this.pending.splice(0)) p.reject(e);
  }

  terminate(): Promise<number> {
    this.failed ??= new Error('the replay workers were closed');
    return this.worker.terminate();
  }
}

export class ReplayWorkers {
  /**
   * Shared scan buffers for this pool's folds, kept between them. Safe because folds run one at a
   * time and a fold returns only after every worker is done with every batch (ScanBuffers' rule).
   */
  readonly scanBuffers = new ScanBuffers(true);
  private folding = false;
  /** Where each batch's runs of a key start (shared memory, kept between folds like scanBuffers). */
  private readonly runs = new KeyRunStarts();

  private constructor(private readonly workers: readonly ReplayWorker[]) {}

  /** Starts `count` worker threads, each loading `appFile`; resolves when all are ready. */
  static async start(count: number, appFile: string): Promise<ReplayWorkers> {
    const setup: WorkerSetup = { appFile };
    const workers = Array.from({ length: count }, () => new ReplayWorker(new Worker(new URL('./worker-boot.mjs', import.meta.url), { workerData: setup })));
    const pool = new ReplayWorkers(workers);
    try {
      await Promise.all(workers.map((w) => w.ready));
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  get size(): number {
    return this.workers.length;
  }

  /**
   * The columnar fold (columnar-fold.ts) with the shards shared out among the workers: every worker
   * sees every batch and folds its own shards' rows. The next batch is read while the workers fold
   * this one and the one before (a shared scan keeps two batches valid); the result is foldColumns's.
   */
  async fold(o: ParallelFoldOptions): Promise<FoldResult> {
    // The workers' fold state and the scan buffers serve one fold at a time.
    assert(!this.folding, 'ReplayWorkers.fold: one fold at a time');
    this.folding = true;
    try {
      return await this.foldOnce(o);
    } finally {
      this.folding = false;
    }
  }

  private async foldOnce(o: ParallelFoldOptions): Promise<FoldResult> {
    const parts = shareOut(o.shards, o.weights, this.workers.length);
    const m = o.m === null ? null : sharedCopy(o.m);
    // A worker takes its requests in order, so the batches follow the start without waiting for its
    // reply: the first file is read meanwhile (~16 ms of 10M events were spent before the first post).
    const starting = Promise.all(this.workers.map((w, i) => w.request({ kind: 'fold.start', process: o.process, version: o.version, shards: parts[i] as Map<string, FoldStart>, m, check: o.check })));
    starting.catch(() => undefined); // awaited below
    let ending: Promise<WorkerReply[]> | undefined;
    let g0 = 0;
    // Folds of the batches posted, by batch number. Workers take their requests in order, so a batch is
    // posted while the one before is still folding: a worker that finishes one goes on with the next
    // at once, instead of waiting for the slower worker and then for the post.
    const folds: Array<Promise<unknown>> = [];
    const batches = o.batches[Symbol.asyncIterator]();
    try {
      for (let j = 0; ; j++) {
        // The j-th batch's read starts the next one's into the buffer of batch j - AHEAD (a shared
        // scan keeps a batch valid until AHEAD more have been read): that batch must be folded by then.
        if (j >= AHEAD) await folds[j - AHEAD];
        const next = await batches.next();
        if (next.done === true || g0 >= o.limit) break;
        const batch = next.value;
        const n = Math.min(batch.length, o.limit - g0);
        // Each worker folds its rows as runs (ColumnFold.batch). Where the batch has long runs of a
        // key, they are found here once for all (in the runs of batch j - SHARED_SCAN_SLOTS, which
        // every worker is done with: see above); otherwise each worker finds its own, in parallel.
        // Rows picked here for all cost this thread a pass that writes every row, and the workers an
        // index per row.
        const runs = this.runs.take(j % SHARED_SCAN_SLOTS, n);
        const count = keyRuns(batch.keyIndex, n, runs, Math.ceil(n / MIN_RUN));
        const request = { kind: 'fold.batch', batch, n, g0, ...(count < 0 ? {} : { keyRuns: runs.subarray(0, count) }) } as const;
        const folding = Promise.all(this.workers.map((w) => w.request(request))).then(() => o.onEvents?.(n));
        // Awaited later; until then a worker's failure must not count as unhandled.
        folding.catch(() => undefined);
        folds.push(folding);
        g0 += batch.length;
      }
      // Asked for now, answered after each worker's last batch (no round trip after it).
      ending = Promise.all(this.workers.map((w) => w.request({ kind: 'fold.end' })));
      await starting;
      await Promise.all(folds);
    } catch (e) {
      await starting; // a start that failed explains the failures after it
      throw e;
    } finally {
      await Promise.all([...folds, ending].map((f) => f?.catch(() => undefined)));
      await batches.return?.();
    }
    const shards = new Map<string, FoldedShard>();
    const fallback = new Set<string>();
    for (const reply of await ending) {
      if (reply.kind !== 'fold.result') throw new Error(`replay worker: expected a fold result, got ${reply.kind}`);
      for (const [key, shard] of reply.result.shards) shards.set(key, shard);
      for (const key of reply.result.fallback) fallback.add(key);
    }
    return { shards, fallback, scanned: Math.min(g0, o.limit) };
  }

  /** One shard's run (shard-run.ts) on the least busy worker. */
  async runShard(ref: ProcessRef, key: string, state: unknown, inputs: readonly ShardInput[]): Promise<ShardRun> {
    let pick = this.workers[0] as ReplayWorker;
    for (const w of this.workers) if (w.load < pick.load) pick = w;
    const reply = await pick.request({ kind: 'shard', process: ref.process, version: ref.version, key, state, inputs });
    if (reply.kind !== 'shard.run') throw new Error(`replay worker: expected a shard run, got ${reply.kind}`);
    return reply.run;
  }

  async close(): Promise<void> {
    this.scanBuffers.clear();
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** Shards shared out by expected events, heaviest first, each to the least loaded worker (ties: by key, then lowest worker). */
export function shareOut<T>(shards: ReadonlyMap<string, T>, weights: ReadonlyMap<string, number> | undefined, parts: number): Map<string, T>[] {
  const out = Array.from({ length: parts }, () => new Map<string, T>());
  const load = new Float64Array(parts);
  const keys = [...shards.keys()].sort((a, b) => (weights?.get(b) ?? 1) - (weights?.get(a) ?? 1) || (a < b ? -1 : a > b ? 1 : 0));
  for (const key of keys) {
    let best = 0;
    for (let i = 1; i < parts; i++) if ((load[i] as number) < (load[best] as number)) best = i;
    load[best] = (load[best] as number) + (weights?.get(key) ?? 1);
    (out[best] as Map<string, T>).set(key, shards.get(key) as T);
  }
  return out;
}

/** Batches posted ahead of the oldest one still folding (a shared scan keeps a batch valid until this many more are read). */
const AHEAD = SHARED_SCAN_SLOTS - 1;

/**
 * The shortest mean run of a key worth finding on the main thread: below it, the workers find their
 * rows themselves (each one pass over the batch's keys, in parallel). 16: the main thread's pass stops
 * early, and the runs it sends cost a worker at most one step per 16 rows.
 */
const MIN_RUN = 16;

/** Run starts in shared memory, in turn like the scan's buffers (a batch's stay valid while AHEAD more batches are posted). */
class KeyRunStarts {
  private readonly turns: Int32Array[] = [];

  /** Room for the run starts of `n` rows at most MIN_RUN apart, in turn `turn` (0 … SHARED_SCAN_SLOTS - 1). */
  take(turn: number, n: number): Int32Array {
    const size = Math.max(1, Math.ceil(n / MIN_RUN));
    let starts = this.turns[turn];
    if (starts === undefined || starts.length < size) starts = this.turns[turn] = new Int32Array(new SharedArrayBuffer(size * 4));
    return starts.subarray(0, size);
  }
}

/** The numbering in shared memory, so every worker reads one copy. */
function sharedCopy(m: Float64Array): Float64Array {
  if (m.buffer instanceof SharedArrayBuffer) return m;
  const copy = new Float64Array(new SharedArrayBuffer(m.byteLength));
  copy.set(m);
  return copy;
}
