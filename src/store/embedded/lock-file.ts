/**
 * One process holds an embedded store open for writing. The lock is a file created with O_EXCL that
 * names its holder; a lock left by a dead process (same host, pid gone) is taken over with a warning.
 * Later, the lock also carries the running instance's local endpoint so that other commands can hand
 * their work to it (DESIGN.md, "Who writes the embedded store").
 */
import { hostname } from 'node:os';
import * as fs from 'node:fs';
import { LockedError } from '../../model/errors.ts';

export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  readonly since: string;
  readonly command: string;
  /** Where a running instance accepts work (set by `spive run`), if any. */
  readonly endpoint?: string;
}

export class LockFile {
  private constructor(
    readonly path: string,
    readonly holder: LockHolder,
  ) {}

  static acquire(path: string, holder: Omit<LockHolder, 'pid' | 'host'>, warn: (message: string) => void): LockFile {
    const me: LockHolder = { pid: process.pid, host: hostname(), ...holder };
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = fs.openSync(path, 'wx', 0o644);
        try {
          fs.writeSync(fd, `${JSON.stringify(me)}\n`);
          fs.fsyncSync(fd);
        } finally {
          fs.closeSync(fd);
        }
        return new LockFile(path, me);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const other = readHolder(path);
      if (other !== undefined && !isStale(other)) throw new LockedError(path, describeHolder(other));
      warn(`taking over stale lock ${path} left by ${other === undefined ? 'an unreadable holder' : describeHolder(other)}`);
      fs.rmSync(path, { force: true });
    }
    throw new LockedError(path, 'another process (the lock was re-taken while we removed a stale one)');
  }

  /** Who holds the lock at `path` now, if anyone. */
  static holder(path: string): LockHolder | undefined {
    const h = readHolder(path);
    return h !== undefined && !isStale(h) ? h : undefined;
  }

  /** Records where the running instance accepts work, for `spive append` and `spive replay`. */
  advertise(endpoint: string): void {
    const updated: LockHolder = { ...this.holder, endpoint };
    const temp = `${this.path}.${process.pid}.tmp`;
    fs.writeFileSync(temp, `${JSON.stringify(updated)}\n`);
    fs.renameSync(temp, this.path);
    (this as { holder: LockHolder }).holder = updated;
  }

  release(): void {
    const current = readHolder(this.path);
    if (current?.pid === this.holder.pid && current.since === this.holder.since) fs.rmSync(this.path, { force: true });
  }
}

export function describeHolder(h: LockHolder): string {
  return `${h.command} (pid ${h.pid} on ${h.host}, since ${h.since})`;
}

function readHolder(path: string): LockHolder | undefined {
  try {
    return JSON.parse(fs.readFileSync(path, 'utf8')) as LockHolder;
  } catch {
    return undefined;
  }
}

function isStale(h: LockHolder): boolean {
  if (h.host !== hostname()) return false; // cannot tell; be safe
  try {
    process.kill(h.pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
