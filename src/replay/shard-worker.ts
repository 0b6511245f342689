/**
 * A replay worker thread (started through worker-boot.mjs): loads the app once, then answers the
 * main thread's requests one at a time, in order (worker-protocol.ts) — a share of a columnar fold,
 * or one shard's run over its events. Handlers run here exactly as on the main thread (same code,
 * same HandlerCallContext), so where a shard runs never changes its output.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ProcessDef } from '../app/define.ts';
import { loadApp } from '../app/load-app.ts';
import { withLazyColumns } from '../store/embedded/lean-column-batch.ts';
import { assert } from '../util/assert.ts';
import { ColumnFold } from './columnar-fold.ts';
import { runShard } from './shard-run.ts';
import type { ProcessRef, WorkerReply, WorkerRequest, WorkerSetup } from './worker-protocol.ts';

const port = parentPort;
assert(port !== null, 'shard-worker.ts runs in a worker thread');
const setup = workerData as WorkerSetup;

function reply(message: WorkerReply): void {
  (port as NonNullable<typeof port>).postMessage(message);
}

function failure(e: unknown): WorkerReply {
  return { kind: 'error', name: e instanceof Error ? e.name : 'Error', message: e instanceof Error ? e.message : String(e) };
}

try {
  const { app } = await loadApp(setup.appFile);
  const processOf = (ref: ProcessRef): ProcessDef<unknown> => {
    const p = app.processes.find((q) => q.name === ref.process);
    if (p === undefined) throw new Error(`replay worker: ${setup.appFile} has no process ${ref.process}`);
    return p as ProcessDef<unknown>;
  };
  let fold: ColumnFold | undefined;
  port.on('message', (request: WorkerRequest) => {
    try {
      switch (request.kind) {
        case 'fold.start':
          fold = new ColumnFold({ process: processOf(request), version: request.version, m: request.m, shards: request.shards, check: request.check });
          return reply({ kind: 'ok' });
        case 'fold.batch':
          assert(fold !== undefined, 'fold.batch after fold.start');
          fold.batch(withLazyColumns(request.batch), request.n, request.g0, request.keyRuns);
          return reply({ kind: 'ok' });
        case 'fold.end': {
          assert(fold !== undefined, 'fold.end after fold.start');
          const result = fold.result();
          fold = undefined;
          return reply({ kind: 'fold.result', result });
        }
        case 'shard':
          return reply({ kind: 'shard.run', run: runShard(processOf(request), request.version, request.key, request.state, request.inputs) });
      }
    } catch (e) {
      reply(failure(e));
    }
  });
  reply({ kind: 'ready' });
} catch (e) {
  reply(failure(e));
}
