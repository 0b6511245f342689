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
      let done = 0;
      while (done < size) {
        const { bytesRead } = await handle.read(into, done, size - done, done);
        if (bytesRead === 0) break; // shrank while read: the caller's length check reports it
        done += bytesRead;
      }
      return into.subarray(0, done);
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
