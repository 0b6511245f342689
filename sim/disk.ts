/**
 * SimDisk: an in-memory `FileSystem` that can lose power, in the style of FoundationDB's and
 * TigerBeetle's simulated storage. Crash tests and the simulator run the embedded store on it.
 *
 * Model (what survives a power cut; see `SimDiskOptions` for the knobs):
 *
 * - Paths are absolute POSIX paths. The root folder `/` always exists.
 * - Every file keeps two versions of its bytes: the *current* one (what reads see) and the *durable*
 *   one (what a power cut falls back to), plus the ordered list of writes and truncations made since
 *   its last `sync()`. `sync()` makes the writes issued before the call durable.
 * - Every folder keeps its current names, its durable names, and the ordered list of name changes
 *   (create, mkdir, rename, remove) since its last `syncDir()`. A name change is durable only after
 *   `syncDir()` of the folder that holds the name — including folders made by `mkdirp`: a new folder
 *   (and everything in it) survives only if its parent folder was synced after it was made. A rename
 *   within one folder is one change; a rename across folders is two (add in the target folder, remove
 *   in the source), each durable with its own folder.
 * - `powerCut(random)` returns the disk as it would be after power returns (this disk is untouched and
 *   keeps working, so a store still running on it is simply abandoned):
 *   - per file, every unsynced write is dropped, except that with probability `unsyncedWritesSurvive`
 *     a random non-empty prefix of them (in issue order) did land; with probability `tornWrite` the
 *     last write of that prefix is *torn*: only a strict prefix of its bytes landed (possibly none),
 *     and its tail is either missing (old bytes, no growth), zeros, or garbage, weighted by `tornTail`;
 *   - per folder, every unsynced name change is undone, except that with probability
 *     `unsyncedNamesSurvive` a random non-empty prefix of them (in order) did land;
 *   - a file or folder survives only if reachable from `/` through surviving names; a file's bytes
 *     after the cut do not depend on whether its name survived (the two are independent).
 *   All choices come from the `Random` passed in: a seed reproduces a cut exactly.
 * - Operations on an open `FileHandle` keep working after its name is removed or renamed (POSIX).
 * - Every operation first yields a random number (0..`maxYields`) of microtask turns, drawn from the
 *   disk's own `Random`, so concurrent callers interleave differently per seed but deterministically.
 *   Nothing here uses timers, the wall clock or Math.random.
 * - `afterOperation`, when set, is called synchronously after each operation takes effect: a test can
 *   cut power at an exact operation count. `stats` counts operations, writes, syncs and bytes.
 */
import type { Random } from '../src/random/random.ts';
import type { FileHandle, FileSystem } from '../src/store/embedded/file-system.ts';

export interface SimDiskOptions {
  /** At a power cut, chance that a file keeps a (random, non-empty) prefix of its unsynced writes instead of none. */
  readonly unsyncedWritesSurvive: number;
  /** When a prefix of unsynced writes survives, chance that its last write is torn (only part of it landed). */
  readonly tornWrite: number;
  /** Relative weights of how a torn write's tail looks: old bytes left in place, zeros, or random garbage. */
  readonly tornTail: { readonly missing: number; readonly zeros: number; readonly garbage: number };
  /** At a power cut, chance that a folder keeps a (random, non-empty) prefix of its unsynced name changes instead of none. */
  readonly unsyncedNamesSurvive: number;
  /** Each operation yields 0..maxYields microtask turns before taking effect (0: no interleaving). */
  readonly maxYields: number;
}

export const DEFAULT_SIM_DISK_OPTIONS: SimDiskOptions = {
  unsyncedWritesSurvive: 0.5,
  tornWrite: 0.5,
  tornTail: { missing: 1, zeros: 1, garbage: 1 },
  unsyncedNamesSurvive: 0.5,
  maxYields: 3,
};

export type SimOperation =
  | 'open'
  | 'readFile'
  | 'list'
  | 'mkdirp'
  | 'exists'
  | 'remove'
  | 'rename'
  | 'syncDir'
  | 'write'
  | 'read'
  | 'sync'
  | 'truncate'
  | 'size'
  | 'close';

export interface SimDiskStats {
  /** Every operation, file-system and handle alike. */
  operations: number;
  writes: number;
  bytesWritten: number;
  reads: number;
  bytesRead: number;
  /** File syncs. */
  syncs: number;
  dirSyncs: number;
  powerCuts: number;
}

/** A growable byte buffer whose bytes past `size` are always zero. */
class Bytes {
  private buf: Uint8Array;
  size: number;
  constructor(from?: Uint8Array) {
    this.buf = from === undefined ? new Uint8Array(0) : from.slice();
    this.size = this.buf.byteLength;
  }
  private ensure(capacity: number): void {
    if (capacity <= this.buf.byteLength) return;
    const next = new Uint8Array(Math.max(capacity, this.buf.byteLength * 2, 256));
    next.set(this.buf.subarray(0, this.size));
    this.buf = next;
  }
  write(data: Uint8Array, position: number): void {
    if (data.byteLength === 0) return; // like pwrite: writing nothing does not grow the file
    this.ensure(position + data.byteLength);
    this.buf.set(data, position);
    this.size = Math.max(this.size, position + data.byteLength);
  }
  truncate(length: number): void {
    if (length < this.size) this.buf.fill(0, length, this.size);
    else this.ensure(length);
    this.size = length;
  }
  read(position: number, length: number): Uint8Array {
    const end = Math.min(this.size, position + length);
    return end <= position ? new Uint8Array(0) : this.buf.slice(position, end);
  }
  all(): Uint8Array {
    return this.buf.slice(0, this.size);
  }
  clone(): Bytes {
    return new Bytes(this.all());
  }
}

type DataOp = { readonly kind: 'write'; readonly data: Uint8Array; readonly position: number } | { readonly kind: 'truncate'; readonly length: number };

function applyData(bytes: Bytes, op: DataOp): void {
  if (op.kind === 'write') bytes.write(op.data, op.position);
  else bytes.truncate(op.length);
}

interface FileNode {
  readonly kind: 'file';
  readonly id: number;
  current: Bytes;
  durable: Bytes;
  pending: DataOp[];
}

/** One atomic change of a folder's names: each entry sets (node) or removes (undefined) a name. */
type NameOp = ReadonlyArray<{ readonly name: string; readonly node: Node | undefined }>;

interface DirNode {
  readonly kind: 'dir';
  readonly id: number;
  readonly entries: Map<string, Node>;
  durable: Map<string, Node>;
  pending: NameOp[];
}

type Node = FileNode | DirNode;

function fsError(code: string, syscall: string, path: string): Error {
  const messages: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EEXIST: 'file already exists',
    ENOTDIR: 'not a directory',
    EISDIR: 'illegal operation on a directory',
    EBADF: 'bad file descriptor',
    ENOTEMPTY: 'directory not empty',
    EINVAL: 'invalid argument',
  };
  const error = new Error(`${code}: ${messages[code] ?? 'error'}, ${syscall} '${path}' (simulated disk)`) as Error & {
    code: string;
    syscall: string;
    path: string;
  };
  error.code = code;
  error.syscall = syscall;
  error.path = path;
  return error;
}

function splitPath(path: string, syscall: string): string[] {
  if (!path.startsWith('/')) throw fsError('EINVAL', syscall, path);
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw fsError('EINVAL', syscall, path);
  return parts;
}

export class SimDisk implements FileSystem {
  readonly options: SimDiskOptions;
  readonly stats: SimDiskStats = { operations: 0, writes: 0, bytesWritten: 0, reads: 0, bytesRead: 0, syncs: 0, dirSyncs: 0, powerCuts: 0 };
  /** Called synchronously after every operation takes effect (for cutting power at an exact point). */
  afterOperation: ((operation: SimOperation, count: number) => void) | undefined;
  private nextId = 1;
  private root: DirNode;

  constructor(
    private readonly random: Random,
    options: Partial<SimDiskOptions> = {},
  ) {
    this.options = { ...DEFAULT_SIM_DISK_OPTIONS, ...options };
    this.root = this.newDir();
  }

  // ------------------------------------------------------------------ power

  /** The disk after a power loss now (see the model at the top). This disk is left as it is. */
  powerCut(random: Random): SimDisk {
    const after = new SimDisk(this.random.stream(`after-cut-${this.stats.powerCuts + 1}`), this.options);
    after.stats.powerCuts = this.stats.powerCuts + 1;
    const copies = new Map<number, Node>();
    const copy = (node: Node): Node => {
      const done = copies.get(node.id);
      if (done !== undefined) return done;
      if (node.kind === 'file') {
        const bytes = this.cutFile(node, random);
        const file: FileNode = { kind: 'file', id: after.nextId++, current: bytes, durable: bytes.clone(), pending: [] };
        copies.set(node.id, file);
        return file;
      }
      const dir = after.newDir();
      copies.set(node.id, dir);
      for (const [name, child] of this.cutNames(node, random)) dir.entries.set(name, copy(child));
      dir.durable = new Map(dir.entries);
      return dir;
    };
    after.root = copy(this.root) as DirNode;
    return after;
  }

  /** An independent copy of this disk as it is now, unsynced state included (no power loss). */
  copy(): SimDisk {
    const twin = new SimDisk(this.random.stream(`copy-${this.nextId}`), this.options);
    const copies = new Map<number, Node>();
    const copyNode = (node: Node): Node => {
      const done = copies.get(node.id);
      if (done !== undefined) return done;
      if (node.kind === 'file') {
        const file: FileNode = { kind: 'file', id: node.id, current: node.current.clone(), durable: node.durable.clone(), pending: [...node.pending] };
        copies.set(node.id, file);
        return file;
      }
      const dir: DirNode = { kind: 'dir', id: node.id, entries: new Map(), durable: new Map(), pending: [] };
      copies.set(node.id, dir);
      for (const [name, child] of node.entries) dir.entries.set(name, copyNode(child));
      for (const [name, child] of node.durable) dir.durable.set(name, copyNode(child));
      dir.pending = node.pending.map((op) => op.map((c) => ({ name: c.name, node: c.node === undefined ? undefined : copyNode(c.node) })));
      return dir;
    };
    twin.root = copyNode(this.root) as DirNode;
    twin.nextId = this.nextId;
    return twin;
  }

  private survivingPrefix(length: number, chance: number, random: Random): number {
    if (length === 0 || !random.chance(chance)) return 0;
    return random.int(1, length);
  }

  private cutFile(file: FileNode, random: Random): Bytes {
    const bytes = file.durable.clone();
    const keep = this.survivingPrefix(file.pending.length, this.options.unsyncedWritesSurvive, random);
    for (let i = 0; i < keep; i++) {
      const op = file.pending[i] as DataOp;
      if (i === keep - 1 && op.kind === 'write' && op.data.byteLength > 0 && random.chance(this.options.tornWrite)) {
        this.tear(bytes, op, random);
      } else {
        applyData(bytes, op);
      }
    }
    return bytes;
  }

  private tear(bytes: Bytes, op: { data: Uint8Array; position: number }, random: Random): void {
    const landed = random.int(0, op.data.byteLength - 1);
    const { missing, zeros, garbage } = this.options.tornTail;
    const roll = random.float() * (missing + zeros + garbage);
    if (roll < missing) {
      bytes.write(op.data.subarray(0, landed), op.position);
      return;
    }
    const torn = op.data.slice();
    if (roll < missing + zeros) torn.fill(0, landed);
    else for (let i = landed; i < torn.byteLength; i++) torn[i] = random.int(0, 255);
    bytes.write(torn, op.position);
  }

  private cutNames(dir: DirNode, random: Random): Map<string, Node> {
    const names = new Map(dir.durable);
    const keep = this.survivingPrefix(dir.pending.length, this.options.unsyncedNamesSurvive, random);
    for (let i = 0; i < keep; i++) {
      for (const change of dir.pending[i] as NameOp) {
        if (change.node === undefined) names.delete(change.name);
        else names.set(change.name, change.node);
      }
    }
    return names;
  }

  // ------------------------------------------------------------------ inspection (tests)

  /** Every file path on the disk now, sorted (current names, not only durable ones). */
  files(): string[] {
    const out: string[] = [];
    const walk = (dir: DirNode, prefix: string): void => {
      for (const [name, node] of dir.entries) {
        if (node.kind === 'file') out.push(`${prefix}/${name}`);
        else walk(node, `${prefix}/${name}`);
      }
    };
    walk(this.root, '');
    return out.sort();
  }

  /** Unsynced writes/truncations of a file, and unsynced name changes of a folder (0 when clean). */
  unsynced(path: string): number {
    const node = this.lookup(splitPath(path, 'unsynced'));
    if (node === undefined) throw fsError('ENOENT', 'unsynced', path);
    return node.pending.length;
  }

  // ------------------------------------------------------------------ FileSystem

  async open(path: string, options: { create: boolean }): Promise<FileHandle> {
    await this.yieldTurns();
    const parts = splitPath(path, 'open');
    let node = this.lookup(parts);
    if (node === undefined) {
      if (!options.create) throw fsError('ENOENT', 'open', path);
      const parent = this.parentDir(parts, 'open', path);
      node = this.newFile();
      this.changeNames(parent, [{ name: parts[parts.length - 1] as string, node }]);
    }
    if (node.kind === 'dir') throw fsError('EISDIR', 'open', path);
    this.done('open');
    return new SimFileHandle(this, node, path);
  }

  async readFile(path: string): Promise<Uint8Array> {
    await this.yieldTurns();
    const node = this.lookup(splitPath(path, 'open'));
    if (node === undefined) throw fsError('ENOENT', 'open', path);
    if (node.kind === 'dir') throw fsError('EISDIR', 'read', path);
    const bytes = node.current.all();
    this.stats.reads++;
    this.stats.bytesRead += bytes.byteLength;
    this.done('readFile');
    return bytes;
  }

  async readFileInto(path: string, buffer: Uint8Array | undefined): Promise<Uint8Array> {
    const bytes = await this.readFile(path);
    const into = buffer !== undefined && buffer.byteLength >= bytes.byteLength ? buffer : new Uint8Array(bytes.byteLength);
    into.set(bytes);
    return into.subarray(0, bytes.byteLength);
  }

  async list(dir: string): Promise<string[]> {
    await this.yieldTurns();
    const node = this.lookup(splitPath(dir, 'scandir'));
    if (node !== undefined && node.kind !== 'dir') throw fsError('ENOTDIR', 'scandir', dir);
    const names = node === undefined ? [] : [...node.entries.keys()].sort();
    this.done('list');
    return names;
  }

  async mkdirp(dir: string): Promise<void> {
    await this.yieldTurns();
    let at: DirNode = this.root;
    for (const name of splitPath(dir, 'mkdir')) {
      let next = at.entries.get(name);
      if (next === undefined) {
        next = this.newDir();
        this.changeNames(at, [{ name, node: next }]);
      }
      if (next.kind !== 'dir') throw fsError('ENOTDIR', 'mkdir', dir);
      at = next;
    }
    this.done('mkdirp');
  }

  async exists(path: string): Promise<boolean> {
    await this.yieldTurns();
    const found = this.lookup(splitPath(path, 'access')) !== undefined;
    this.done('exists');
    return found;
  }

  async remove(path: string): Promise<void> {
    await this.yieldTurns();
    const parts = splitPath(path, 'rm');
    const node = this.lookup(parts);
    if (node !== undefined) {
      if (node.kind === 'dir') throw fsError('EISDIR', 'rm', path);
      this.changeNames(this.parentDir(parts, 'rm', path), [{ name: parts[parts.length - 1] as string, node: undefined }]);
    }
    this.done('remove');
  }

  async rename(from: string, to: string): Promise<void> {
    await this.yieldTurns();
    const fromParts = splitPath(from, 'rename');
    const toParts = splitPath(to, 'rename');
    const node = this.lookup(fromParts);
    if (node === undefined || fromParts.length === 0) throw fsError('ENOENT', 'rename', from);
    const fromDir = this.parentDir(fromParts, 'rename', from);
    const toDir = this.parentDir(toParts, 'rename', to);
    const fromName = fromParts[fromParts.length - 1] as string;
    const toName = toParts[toParts.length - 1] as string;
    if (toParts.length === 0) throw fsError('EINVAL', 'rename', to);
    const existing = toDir.entries.get(toName);
    if (existing !== undefined && existing.kind === 'dir' && existing !== node) {
      if (node.kind !== 'dir') throw fsError('EISDIR', 'rename', to);
      if (existing.entries.size > 0) throw fsError('ENOTEMPTY', 'rename', to);
    }
    if (existing !== undefined && existing.kind === 'file' && node.kind === 'dir') throw fsError('ENOTDIR', 'rename', to);
    if (existing === node) {
      this.done('rename');
      return;
    }
    if (fromDir === toDir) {
      this.changeNames(fromDir, [
        { name: toName, node },
        { name: fromName, node: undefined },
      ]);
    } else {
      this.changeNames(toDir, [{ name: toName, node }]);
      this.changeNames(fromDir, [{ name: fromName, node: undefined }]);
    }
    this.done('rename');
  }

  async syncDir(dir: string): Promise<void> {
    const node = this.lookup(splitPath(dir, 'fsync'));
    if (node === undefined) throw fsError('ENOENT', 'open', dir);
    if (node.kind !== 'dir') throw fsError('ENOTDIR', 'fsync', dir);
    const upTo = node.pending.length;
    await this.yieldTurns();
    for (const op of node.pending.slice(0, upTo)) {
      for (const change of op) {
        if (change.node === undefined) node.durable.delete(change.name);
        else node.durable.set(change.name, change.node);
      }
    }
    node.pending = node.pending.slice(upTo);
    this.stats.dirSyncs++;
    this.done('syncDir');
  }

  // ------------------------------------------------------------------ handles (called by SimFileHandle)

  async fileWrite(file: FileNode, data: Uint8Array, position: number): Promise<void> {
    if (!Number.isSafeInteger(position) || position < 0) throw fsError('EINVAL', 'write', String(position));
    const op: DataOp = { kind: 'write', data: data.slice(), position };
    await this.yieldTurns();
    applyData(file.current, op);
    file.pending.push(op);
    this.stats.writes++;
    this.stats.bytesWritten += data.byteLength;
    this.done('write');
  }

  async fileRead(file: FileNode, position: number, length: number): Promise<Uint8Array> {
    await this.yieldTurns();
    const bytes = file.current.read(position, length);
    this.stats.reads++;
    this.stats.bytesRead += bytes.byteLength;
    this.done('read');
    return bytes;
  }

  async fileSync(file: FileNode): Promise<void> {
    const upTo = file.pending.length;
    await this.yieldTurns();
    for (const op of file.pending.slice(0, upTo)) applyData(file.durable, op);
    file.pending = file.pending.slice(upTo);
    this.stats.syncs++;
    this.done('sync');
  }

  async fileTruncate(file: FileNode, length: number): Promise<void> {
    if (!Number.isSafeInteger(length) || length < 0) throw fsError('EINVAL', 'ftruncate', String(length));
    await this.yieldTurns();
    const op: DataOp = { kind: 'truncate', length };
    applyData(file.current, op);
    file.pending.push(op);
    this.done('truncate');
  }

  async fileSize(file: FileNode): Promise<number> {
    await this.yieldTurns();
    this.done('size');
    return file.current.size;
  }

  async handleClosed(): Promise<void> {
    await this.yieldTurns();
    this.done('close');
  }

  // ------------------------------------------------------------------ internals

  private newFile(): FileNode {
    return { kind: 'file', id: this.nextId++, current: new Bytes(), durable: new Bytes(), pending: [] };
  }

  private newDir(): DirNode {
    return { kind: 'dir', id: this.nextId++, entries: new Map(), durable: new Map(), pending: [] };
  }

  private changeNames(dir: DirNode, op: NameOp): void {
    for (const change of op) {
      if (change.node === undefined) dir.entries.delete(change.name);
      else dir.entries.set(change.name, change.node);
    }
    dir.pending.push(op);
  }

  private lookup(parts: readonly string[]): Node | undefined {
    let at: Node = this.root;
    for (const name of parts) {
      if (at.kind !== 'dir') return undefined;
      const next: Node | undefined = at.entries.get(name);
      if (next === undefined) return undefined;
      at = next;
    }
    return at;
  }

  private parentDir(parts: readonly string[], syscall: string, path: string): DirNode {
    const parent = this.lookup(parts.slice(0, -1));
    if (parent === undefined) throw fsError('ENOENT', syscall, path);
    if (parent.kind !== 'dir') throw fsError('ENOTDIR', syscall, path);
    return parent;
  }

  private async yieldTurns(): Promise<void> {
    const turns = this.options.maxYields > 0 ? this.random.int(0, this.options.maxYields) : 0;
    for (let i = 0; i < turns; i++) await Promise.resolve();
  }

  private done(operation: SimOperation): void {
    this.stats.operations++;
    this.afterOperation?.(operation, this.stats.operations);
  }
}

class SimFileHandle implements FileHandle {
  private closed = false;
  constructor(
    private readonly disk: SimDisk,
    private readonly file: FileNode,
    private readonly path: string,
  ) {}

  private check(syscall: string): void {
    if (this.closed) throw fsError('EBADF', syscall, this.path);
  }

  async write(data: Uint8Array, position: number): Promise<void> {
    this.check('write');
    await this.disk.fileWrite(this.file, data, position);
  }
  async read(position: number, length: number): Promise<Uint8Array> {
    this.check('read');
    return this.disk.fileRead(this.file, position, length);
  }
  async sync(): Promise<void> {
    this.check('fsync');
    await this.disk.fileSync(this.file);
  }
  async truncate(length: number): Promise<void> {
    this.check('ftruncate');
    await this.disk.fileTruncate(this.file, length);
  }
  async size(): Promise<number> {
    this.check('fstat');
    return this.disk.fileSize(this.file);
  }
  async close(): Promise<void> {
    this.check('close');
    this.closed = true;
    await this.disk.handleClosed();
  }
}
