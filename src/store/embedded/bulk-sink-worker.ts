/**
 * A bulk load's sink thread (bulk-sink-thread.ts starts it): one `SegmentSink` on the real file system,
 * fed requests in order and answering each in order once it is done.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SegmentSink } from './bulk-sink.ts';
import type { SinkReply, SinkRequest, SinkThreadSetup } from './bulk-sink-thread.ts';
import { nodeFileSystem } from './node-file-system.ts';
import { closeParquetSession } from './parquet-writer.ts';

const port = parentPort;
if (port === null) throw new Error('bulk-sink-worker.ts runs as a worker thread');
const setup = workerData as SinkThreadSetup;
let sink: SegmentSink | undefined;
/** Buffers the sink is done with, handed back with the next answer (moved, not copied). */
let released: { bytes: ArrayBuffer[]; records: ArrayBuffer[] } = { bytes: [], records: [] };
const release = (buffer: ArrayBuffer, kind: 'bytes' | 'records'): void => {
  released[kind].push(buffer);
};
let queue: Promise<unknown> = SegmentSink.open({ fs: nodeFileSystem, ...setup, release }).then((s) => (sink = s));

async function handle(request: SinkRequest): Promise<void> {
  const s = sink as SegmentSink;
  switch (request.kind) {
    case 'items':
      return s.takeAll(request.items);
    case 'finish':
      // The thread is stopped next: its DuckDB instance goes now rather than with the thread.
      return s.finish().finally(closeParquetSession);
    case 'abort':
      return s.abort().finally(closeParquetSession);
  }
}

port.on('message', (request: SinkRequest) => {
  // Requests run one after another; a failure fails every later request too (the load is lost anyway).
  queue = queue.then(() => handle(request));
  queue.then(
    () => {
      const buffers = released;
      released = { bytes: [], records: [] };
      port.postMessage({ kind: 'done', released: buffers } satisfies SinkReply, [...buffers.bytes, ...buffers.records]);
    },
    (e: unknown) => port.postMessage({ kind: 'error', name: e instanceof Error ? e.name : 'Error', message: e instanceof Error ? e.message : String(e) } satisfies SinkReply),
  );
});
