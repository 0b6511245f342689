/**
 * A dataset's writer thread (writer-thread.ts starts it): one `BulkWriter` fed packed operations in
 * order, answering each request in order once it is done. Frames, columns, checksums, writes and
 * sealing all happen here (or on the writer's own sink thread), off the thread running the handlers.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BulkWriter } from '../../src/store/embedded/bulk-writer.ts';
import type { WriterReply, WriterRequest, WriterSetup } from './writer-thread.ts';
import { unpackOps } from './writer-ops.ts';

const port = parentPort;
if (port === null) throw new Error('writer-worker.ts runs as a worker thread');
const setup = workerData as WriterSetup;
/** Bytes encoded by the writer before it hands them to its sink (as generate.ts flushed in one thread). */
const FLUSH_BYTES = 8 * 1024 * 1024;

let writer: BulkWriter | undefined;
let queue: Promise<unknown> = BulkWriter.create(setup.dir, {
  ...(setup.segmentBytes === undefined ? {} : { segmentBytes: setup.segmentBytes }),
  seal: setup.seal,
  thread: setup.sinkThread,
  command: setup.command,
  warn: (message) => port.postMessage({ kind: 'warn', message } satisfies WriterReply),
}).then((w) => (writer = w));
// The first answer, unasked: the store is created (or the reason it is not).
queue.then(
  () => port.postMessage({ kind: 'done' } satisfies WriterReply),
  (e: unknown) => port.postMessage(errorReply(e)),
);

function errorReply(e: unknown): WriterReply {
  return { kind: 'error', name: e instanceof Error ? e.name : 'Error', message: e instanceof Error ? e.message : String(e) };
}

async function handle(request: WriterRequest): Promise<WriterReply> {
  const w = writer as BulkWriter;
  switch (request.kind) {
    case 'ops':
      unpackOps(request.ops, w);
      if (w.buffered > FLUSH_BYTES) await w.flush();
      return { kind: 'done' };
    case 'finish':
      return { kind: 'finished', summary: await w.finish() };
    case 'abort':
      await w?.abort();
      return { kind: 'done' };
  }
}

port.on('message', (request: WriterRequest) => {
  // Requests run one after another; a failure fails every later request too (the load is lost anyway),
  // except the abort that follows it, which still closes the files and releases the lock.
  const reply = (request.kind === 'abort' ? queue.catch(() => undefined) : queue).then(() => handle(request));
  queue = reply;
  reply.then(
    (r) => port.postMessage(r),
    (e: unknown) => port.postMessage(errorReply(e)),
  );
});
