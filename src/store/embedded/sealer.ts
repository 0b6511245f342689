/**
 * Sealing a full WAL segment: its events, per stream, become an Arrow IPC file of typed columns and a
 * Parquet file; then a manifest (written atomically, last) marks the segment sealed. A crash
 * mid-seal leaves no manifest, and the next open seals the segment again.
 */
import { mkdir, open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { StoredEvent } from '../../model/event.ts';
import { blockCrcs, encodeColumnFile, type ColumnFileInfo } from './columnar-segment.ts';
import { writeFileAtomic, type FileSystem } from './file-system.ts';
import { writeParquet } from './parquet-writer.ts';

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
  readonly events: () => AsyncIterable<StoredEvent[]>;
}

export async function sealSegment(request: SealRequest): Promise<SegmentManifest> {
  const { fs, dir, segment } = request;
  const name = String(segment).padStart(10, '0');
  const byStream = new Map<string, StoredEvent[]>();
  for await (const batch of request.events()) {
    for (const e of batch) {
      let list = byStream.get(e.stream);
      if (list === undefined) byStream.set(e.stream, (list = []));
      list.push(e);
    }
  }
  const streams: Array<ColumnFileInfo & { parquet: string | null }> = [];
  for (const stream of [...byStream.keys()].sort()) {
    const events = byStream.get(stream) as StoredEvent[];
    const { bytes, fields } = encodeColumnFile(stream, events);
    const columnsDir = `${dir}/columns/stream=${stream}`;
    await fs.mkdirp(columnsDir);
    await writeFileAtomic(fs, columnsDir, `${name}.arrow`, bytes);
    let parquet: string | null = null;
    if (request.parquet) {
      parquet = `parquet/stream=${stream}/${name}.parquet`;
      await writeParquetDurably(`${dir}/${parquet}`, events);
    }
    let minTime = Number.POSITIVE_INFINITY;
    let maxTime = Number.NEGATIVE_INFINITY;
    for (const e of events) {
      if (e.time < minTime) minTime = e.time;
      if (e.time > maxTime) maxTime = e.time;
    }
    streams.push({
      stream,
      file: `columns/stream=${stream}/${name}.arrow`,
      rows: events.length,
      bytes: bytes.byteLength,
      blockCrcs: blockCrcs(bytes),
      fields,
      minTime,
      maxTime,
      firstPosition: (events[0] as StoredEvent).position,
      lastPosition: (events[events.length - 1] as StoredEvent).position,
      parquet,
    });
  }
  const manifest: SegmentManifest = { format: 1, segment, streams };
  await fs.mkdirp(`${dir}/columns`);
  await writeFileAtomic(fs, `${dir}/columns`, `${name}.json`, new TextEncoder().encode(JSON.stringify(manifest)));
  return manifest;
}

/** DuckDB writes the file itself, so durability is done here: write aside, fsync, rename, fsync folder. */
async function writeParquetDurably(path: string, events: readonly StoredEvent[]): Promise<void> {
  const folder = dirname(path);
  await mkdir(folder, { recursive: true });
  const temp = `${path}.tmp`;
  await writeParquet(temp, events);
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
