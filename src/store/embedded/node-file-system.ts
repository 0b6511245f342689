/** The real file system, through node:fs/promises. */
import { constants } from 'node:fs';
import * as fsp from 'node:fs/promises';
import type { FileHandle, FileSystem } from './file-system.ts';

class NodeFileHandle implements FileHandle {
  constructor(private readonly handle: fsp.FileHandle) {}
  async write(data: Uint8Array, position: number): Promise<void> {
    let done = 0;
    while (done < data.byteLength) {
      const { bytesWritten } = await this.handle.write(data, done, data.byteLength - done, position + done);
      done += bytesWritten;
    }
  }
  async read(position: number, length: number): Promise<Uint8Array> {
    const buffer = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(buffer, done, length - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done === length ? buffer : buffer.subarray(0, done);
  }
  sync(): Promise<void> {
    return this.handle.datasync();
  }
  truncate(length: number): Promise<void> {
    return this.handle.truncate(length);
  }
  async size(): Promise<number> {
    return (await this.handle.stat()).size;
  }
  close(): Promise<void> {
    return this.handle.close();
  }
}

/** Bytes per read of readFileInto, and reads in flight at once. */
const PIECE_BYTES = 4 << 20;
const PIECES_IN_FLIGHT = 4;

/**
 * Reads a file's first `size` bytes into `into` as pieces, several in flight: one read of the whole
 * file is served by one thread pool thread, in order, while a file not in the page cache reads about
 * 2-3x faster with a few requests queued (measured on this disk: 382 MiB in 0.54 s one at a time, 0.25 s
 * with 4 in flight), and one in the page cache is copied by several threads. Returns the bytes read:
 * fewer than `size` when the file shrank meanwhile (the caller checks the length).
 */
export async function readPieces(handle: fsp.FileHandle, into: Uint8Array, size: number, pieceBytes = PIECE_BYTES): Promise<number> {
  let next = 0;
  let end = size;
  const reader = async (): Promise<void> => {
    while (next < end) {
      const from = next;
      const to = Math.min(end, from + pieceBytes);
      next = to;
      for (let at = from; at < to; ) {
        const { bytesRead } = await handle.read(into, at, to - at, at);
        if (bytesRead === 0) {
          end = Math.min(end, at);
          return;
        }
        at += bytesRead;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PIECES_IN_FLIGHT, Math.ceil(size / pieceBytes)) }, reader));
  return end;
}

export const nodeFileSystem: FileSystem = {
  async open(path, options) {
    const flags = options.create ? constants.O_RDWR | constants.O_CREAT : constants.O_RDWR;
    return new NodeFileHandle(await fsp.open(path, flags, 0o644));
  },
  async readFile(path) {
    return fsp.readFile(path);
  },
  async readFileInto(path, buffer) {
    const handle = await fsp.open(path, constants.O_RDONLY);
    try {
      const size = (await handle.stat()).size;
      // A new buffer is 8-byte aligned (offset 0), so Arrow maps its float64 columns without copying.
      const into = buffer !== undefined && buffer.byteLength >= size ? buffer : new Uint8Array(size);
      return into.subarray(0, await readPieces(handle, into, size));
    } finally {
      await handle.close();
    }
  },
  async list(dir) {
    try {
      return (await fsp.readdir(dir)).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  },
  async mkdirp(dir) {
    await fsp.mkdir(dir, { recursive: true });
  },
  async exists(path) {
    try {
      await fsp.access(path);
      return true;
    } catch {
      return false;
    }
  },
  async remove(path) {
    await fsp.rm(path, { force: true });
  },
  async rename(from, to) {
    await fsp.rename(from, to);
  },
  async syncDir(dir) {
    const handle = await fsp.open(dir, constants.O_RDONLY);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
};
