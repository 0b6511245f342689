/**
 * `spive dataset generate`: a ready embedded store for an example, as if it had run in production —
 * realistic input events (shape.ts), the example's real processes folded over them offline (fold.ts)
 * with the outputs and snapshots the runtime would have written, bulk-loaded into a new store
 * (src/store/embedded/bulk-writer.ts) and sealed to Arrow and Parquet. With the real file system the
 * bulk writer's sink runs on its own thread: this thread generates, folds and encodes frames (bytes and
 * flat column records, moved to the sink without a copy); the sink thread checksums, writes, builds
 * the columns and seals, so the two cores split the work.
 */
import { realClock, type Clock } from '../../src/time/clock.ts';
import { fileURLToPath } from 'node:url';
import { ingressStreams } from '../../src/app/define.ts';
import { loadApp } from '../../src/app/load-app.ts';
import { seededRandom } from '../../src/random/random.ts';
import { BulkWriter, type BulkWriteSummary } from '../../src/store/embedded/bulk-writer.ts';
import type { FileSystem } from '../../src/store/embedded/file-system.ts';
import { dailyCycleTimes, DAY_MS } from './shape.ts';
import { AppFold, type FoldSink, type ProcessFoldStats } from './fold.ts';
import type { DatasetExample } from './examples/index.ts';

export interface GenerateOptions {
  readonly example: DatasetExample;
  /** Folder of the new store (must not exist, or be empty). */
  readonly out: string;
  /**
   * Input events to generate. The store holds more: every process's outputs too (`storeEvents` of the
   * result; the bank writes ~3.6 store events per input, so 10M store events are ~2.8M inputs).
   */
  readonly events: number;
  readonly keys: number;
  readonly skew: number;
  readonly seed: number;
  /** Simulated days the input events span. */
  readonly days: number;
  /** First instant of the span (ms since the epoch). */
  readonly startMs: number;
  /** Snapshot round every N input events for every process (0: none); default: `defaultSnapshotEvery`. */
  readonly snapshotEvery?: number;
  /** Seal to Arrow and Parquet (default true). */
  readonly seal?: boolean;
  readonly segmentBytes?: number;
  readonly fs?: FileSystem;
  readonly onProgress?: (inputsDone: number, total: number) => void;
  readonly warn?: (message: string) => void;
  /** Measures `wallMs` (default: the real clock). */
  readonly clock?: Clock;
  /** Checksum, write and seal on a thread of its own (default true; the real file system only). */
  readonly thread?: boolean;
}

export interface StreamSummary {
  readonly stream: string;
  readonly events: number;
  readonly shards: number;
}

export interface GenerateResult {
  readonly example: string;
  readonly app: string;
  readonly path: string;
  /** Input events generated. */
  readonly events: number;
  /** Distinct keys of the input events. */
  readonly keys: number;
  readonly minTime: number | null;
  readonly maxTime: number | null;
  /** Every event in the store: inputs and process outputs. */
  readonly storeEvents: number;
  readonly snapshots: number;
  readonly streams: readonly StreamSummary[];
  readonly processes: readonly ProcessFoldStats[];
  readonly seed: number;
  readonly skew: number;
  readonly walBytes: number;
  readonly wallMs: number;
}

/** Snapshot rounds a generated history gets per process by default (see `defaultSnapshotEvery`). */
export const DEFAULT_SNAPSHOT_ROUNDS = 100;

/**
 * The default cadence of a generated dataset: the process's own policy (`snapshots.everyEvents`), but
 * never more than DEFAULT_SNAPSHOT_ROUNDS rounds over the whole history — a round every 1% of the
 * inputs. A live system snapshots often because each round is cheap next to the traffic between
 * rounds; replaying the policy over a history generated in one go would make snapshots, not events,
 * most of a large store (every round stores every shard changed since the last one: at 1,000 inputs a
 * round, a 200k-input bank store is two thirds snapshot bytes). A hundred rounds spread over the span
 * still give `spive replay-plan` a recent snapshot before any point in time, and the store stays mostly
 * events. A process without event-count snapshots (policy 0) gets none.
 */
export function defaultSnapshotEvery(events: number, policy: number): number {
  return policy <= 0 ? 0 : Math.max(policy, Math.ceil(events / DEFAULT_SNAPSHOT_ROUNDS));
}

/** 2024-01-01T00:00:00Z: a fixed start, so a dataset depends on its options only. */
export const DEFAULT_START_MS = Date.UTC(2024, 0, 1);
/** Bytes a bulk writer in this thread encodes before handing them to its sink. */
const FLUSH_BYTES = 8 * 1024 * 1024;

export async function generateDataset(options: GenerateOptions): Promise<GenerateResult> {
  const clock = options.clock ?? realClock;
  const started = clock.monotonicMs();
  const { example } = options;
  const loaded = await loadApp(fileURLToPath(example.app));
  const random = seededRandom(options.seed).stream(`dataset/${example.name}`);
  const times = dailyCycleTimes(options.events, { startMs: options.startMs, spanMs: Math.round(options.days * DAY_MS), amplitude: 0.6, peakHour: 15 }, random.stream('times'));
  const make = example.inputs({ keys: options.keys, skew: options.skew, random: random.stream('inputs') });

  const writer = await openWriter(options, `spive dataset generate ${example.name}`);
  let minTime: number | null = null;
  let maxTime: number | null = null;
  const fold = new AppFold({
    app: loaded.app,
    version: loaded.version,
    snapshotEvery: options.snapshotEvery ?? ((p) => defaultSnapshotEvery(options.events, p.snapshots.everyEvents)),
    sink: writer,
  });
  const ingress = new Set(ingressStreams(loaded.app).map((s) => s.name));
  let summary;
  try {
    for (let i = 0; i < options.events; i++) {
      const input = make(i);
      const time = times[i] as number;
      fold.input(input.stream, input.key, input.type, time, input.data);
      if (minTime === null || time < minTime) minTime = time;
      if (maxTime === null || time > maxTime) maxTime = time;
      if ((i & 255) === 255) {
        if (writer.buffered > writer.flushAt) await writer.flush();
        if ((i & 0xffff) === 0xffff) options.onProgress?.(i + 1, options.events);
      }
    }
    summary = await writer.finish();
  } catch (e) {
    await writer.abort();
    throw e;
  }
  options.onProgress?.(options.events, options.events);
  return {
    example: example.name,
    app: loaded.file,
    path: options.out,
    events: options.events,
    keys: fold.streams().filter((s) => ingress.has(s.stream)).reduce((n, s) => n + s.shards, 0),
    minTime,
    maxTime,
    storeEvents: summary.events,
    snapshots: summary.snapshots,
    streams: fold.streams(),
    processes: fold.stats(),
    seed: options.seed,
    skew: options.skew,
    walBytes: summary.walBytes,
    wallMs: clock.monotonicMs() - started,
  };
}

/** Where the fold's appends and snapshots go: a bulk writer here, or on its own thread. */
interface DatasetWriter extends FoldSink {
  readonly buffered: number;
  /** `flush()` once `buffered` is past this. */
  readonly flushAt: number;
  flush(): Promise<void>;
  finish(): Promise<BulkWriteSummary>;
  abort(): Promise<void>;
}

async function openWriter(options: GenerateOptions, command: string): Promise<DatasetWriter> {
  const writer = await BulkWriter.create(options.out, {
    ...(options.fs === undefined ? {} : { fs: options.fs }),
    ...(options.segmentBytes === undefined ? {} : { segmentBytes: options.segmentBytes }),
    seal: options.seal !== false,
    thread: options.thread !== false,
    command,
    ...(options.warn === undefined ? {} : { warn: options.warn }),
  });
  return {
    batch: (batch) => writer.append(batch),
    snapshot: (snapshot) => writer.putSnapshot(snapshot),
    snapshotText: (process, version, shard, position, time, text) => writer.putSnapshotText(process, version, shard, position, time, text),
    event: (cell, stream, key, seq, position, time, type, dataText, data, version, m, in0, in1) => writer.appendEvent(cell, stream, key, seq, position, time, type, dataText, data, version, m, in0, in1),
    get buffered() {
      return writer.buffered;
    },
    flushAt: FLUSH_BYTES,
    flush: () => writer.flush(),
    finish: () => writer.finish(),
    abort: () => writer.abort(),
  };
}
