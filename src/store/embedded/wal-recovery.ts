/**
 * Opening a store: read every WAL segment in order, check every frame, and hand each record to the
 * store. A torn tail (the unsynced end of the last segment after a crash) is truncated with a warning;
 * a bad frame anywhere else is corruption and fails the open, naming file and offset.
 */
import { CorruptDataError } from '../../model/errors.ts';
import type { FileSystem } from './file-system.ts';
import type { FrameLocation } from './frame-index.ts';
import { anyValidFrameAfter, checkFrame } from './wal-frame.ts';
import { decodeRecord, type WalRecord } from './wal-records.ts';

export function segmentName(segment: number): string {
  return `${String(segment).padStart(10, '0')}.log`;
}

export interface RecoveryOptions {
  readonly readOnly: boolean;
  readonly warn: (message: string) => void;
  /** Applies one record; may throw CorruptDataError when it does not fit the state so far. */
  readonly apply: (record: WalRecord, at: FrameLocation) => void;
}

export interface RecoveredWal {
  /** Segment numbers found, ascending. */
  readonly segments: number[];
  /** Valid bytes in the last segment (where the next append goes). */
  readonly lastSize: number;
}

export async function recoverWal(fs: FileSystem, dir: string, options: RecoveryOptions): Promise<RecoveredWal> {
  const segments = (await fs.list(`${dir}/wal`))
    .map((name) => /^(\d{10})\.log$/.exec(name))
    .filter((m) => m !== null)
    .map((m) => Number(m[1]));
  let lastSize = 0;
  // One buffer for every segment (records keep no view of it: only their meta is parsed here).
  let buffer: Uint8Array | undefined;
  for (let s = 0; s < segments.length; s++) {
    const segment = segments[s] as number;
    const file = `${dir}/wal/${segmentName(segment)}`;
    const isLast = s === segments.length - 1;
    if (s > 0 && segment !== (segments[s - 1] as number) + 1) {
      throw new CorruptDataError(file, 0, `segment ${segment} follows segment ${segments[s - 1]}: a segment is missing`);
    }
    const bytes = await fs.readFileInto(file, buffer);
    buffer = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.buffer.byteLength - bytes.byteOffset);
    let offset = 0;
    while (offset < bytes.byteLength) {
      const check = checkFrame(bytes, offset);
      if (!check.ok) {
        if (isLast && !anyValidFrameAfter(bytes, offset + 1)) {
          options.warn(
            `${file}: discarding a torn tail of ${bytes.byteLength - offset} bytes at offset ${offset} (${check.reason}); ` +
              'it was never acknowledged (a crash interrupted its write)',
          );
          if (!options.readOnly) {
            const handle = await fs.open(file, { create: false });
            try {
              await handle.truncate(offset);
              await handle.sync();
            } finally {
              await handle.close();
            }
          }
          break;
        }
        throw new CorruptDataError(file, offset, check.reason);
      }
      let record: WalRecord;
      try {
        record = decodeRecord(check.body);
      } catch (e) {
        throw new CorruptDataError(file, offset, `undecodable record: ${String(e)}`);
      }
      options.apply(record, { segment, offset, length: check.end - offset });
      offset = check.end;
    }
    if (isLast) lastSize = offset;
  }
  return { segments, lastSize };
}
