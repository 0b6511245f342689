/**
 * Sealing a full WAL segment: its events, per stream, become an Arrow IPC file of typed columns and a
 * Parquet file; then a manifest (written atomically, last) marks the segment sealed. A crash
 * mid-seal leaves no manifest, and the next open seals the segment again.
 */
import { mkdir, open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { StoredEvent } from '../../model/event.ts';
import type { ColumnBatch } from '../event-store.ts';
import { ColumnBuilder } from './column-builder.ts';
import { blockCrcs, encodeColumnBatch, type ColumnFileInfo } from './columnar-segment.ts';
import { writeFileAtomic, type FileSystem } from './file-system.ts';
import { writeParquet, type ParquetTexts } from './parquet-writer.ts';

export interface SegmentManifest {
  readonly format: 1;
  readonly segment: number;
  readonly streams: readonly (ColumnFileInfo & { readonly parquet: string | null })[];
}

export interface SealRequest {
  readonly fs: FileSystem;
  readonly dir: string;
  readonly segment: number;
  readonly parquet: boolean;
  /** The segment's events in WAL order. */
  readonly events: () => AsyncIterable<StoredEvent[]>;
}

/** One stream's events of a segment, already in columns, with each event's payload and meta JSON (for Parquet: as strings, or as bytes of the segment). */
export type StreamColumns = { readonly batch: ColumnBatch } & ParquetTexts;

export async function sealSegment(request: SealRequest): Promise<SegmentManifest> {
  const byStream = new Map<string, { events: StoredEvent[]; dataTexts: string[]; metaTexts: Array<string | undefined> }>();
  for await (const batch of request.events()) {
    for (const e of batch) {
      let list = byStream.get(e.stream);
      if (list === undefined) byStream.set(e.stream, (list = { events: [], dataTexts: [], metaTexts: [] }));
      list.events.push(e);
      if (request.parquet) {
        list.dataTexts.push(JSON.stringify(e.data));
        list.metaTexts.push(e.meta === undefined ? undefined : JSON.stringify(e.meta));
      }
    }
  }
  const streams: StreamColumns[] = [];
  for (const [stream, list] of byStream) {
    const builder = new ColumnBuilder(stream);
    if (request.parquet) builder.addBatch(list.events, list.dataTexts, list.metaTexts);
    else builder.addBatch(list.events);
    streams.push({ batch: builder.batch(), dataTexts: builder.dataTexts, metaTexts: builder.metaTexts });
  }
  return sealColumns({ ...request, streams });
}

export interface SealColumnsRequest {
  readonly fs: FileSystem;
  readonly dir: string;
  readonly segment: number;
  readonly parquet: boolean;
  /** Every stream with events in the segment (texts may be empty when `parquet` is off). */
  readonly streams: readonly StreamColumns[];
}

/** Seals a segment whose events are already in columns (a bulk load builds them as it writes). */
export async function sealColumns(request: SealColumnsRequest): Promise<SegmentManifest> {
  const { fs, dir, segment } = request;
  const name = String(segment).padStart(10, '0');
  const streams: Array<ColumnFileInfo & { parquet: string | null }> = [];
  for (const columns of [...request.streams].sort((a, b) => (a.batch.stream < b.batch.stream ? -1 : a.batch.stream > b.batch.stream ? 1 : 0))) {
    const { batch } = columns;
    const stream = batch.stream;
    if (batch.length === 0) continue;
    const { bytes, fields } = encodeColumnBatch(batch);
    const columnsDir = `${dir}/columns/stream=${stream}`;
    await fs.mkdirp(columnsDir);
    await writeFileAtomic(fs, columnsDir, `${name}.arrow`, bytes);
    let parquet: string | null = null;
    if (request.parquet) {
      parquet = `parquet/stream=${stream}/${name}.parquet`;
      await writeParquetDurably(`${dir}/${parquet}`, batch, columns);
    }
    let minTime = Number.POSITIVE_INFINITY;
    let maxTime = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < batch.length; i++) {
      const t = batch.time[i] as number;
      if (t < minTime) minTime = t;
      if (t > maxTime) maxTime = t;
    }
    streams.push({
      stream,
      file: `columns/stream=${stream}/${name}.arrow`,
      rows: batch.length,
      bytes: bytes.byteLength,
      blockCrcs: blockCrcs(bytes),
      fields,
      minTime,
      maxTime,
      firstPosition: batch.position[0] as number,
      lastPosition: batch.position[batch.length - 1] as number,
      parquet,
    });
  }
  const manifest: SegmentManifest = { format: 1, segment, streams };
  await fs.mkdirp(`${dir}/columns`);
  await writeFileAtomic(fs, `${dir}/columns`, `${name}.json`, new TextEncoder().encode(JSON.stringify(manifest)));
  return manifest;
}

/** DuckDB writes the file itself, so durability is done here: write aside, fsync, rename, fsync folder. */
async function writeParquetDurably(path: string, batch: ColumnBatch, texts: ParquetTexts): Promise<void> {
  const folder = dirname(path);
  await mkdir(folder, { recursive: true });
  const temp = `${path}.tmp`;
  await writeParquet(temp, batch, texts);
  const file = await open(temp, 'r+');
  try {
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temp, path);
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
