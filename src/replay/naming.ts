/**
 * Names of versioned output streams. A replay writes the new version of stream `S` to
 * `S--<version>` (store stream names allow letters, digits, `_ . -` only, so `@` cannot be used).
 * Every versioned stream of one replay — the changed process's and its downstream's — carries the
 * changed process's new version, the *generation* the replay builds: `ledger--v2`, `balances--v2`.
 * A version with other characters is spelled with `_` and a hash suffix, so two versions never share a name.
 */
import { createHash } from 'node:crypto';

export const VERSION_SEPARATOR = '--';
/** The first event of every shard of a versioned stream (see fork.ts). */
export const FORK_EVENT = '$fork';

const SAFE = /^[A-Za-z0-9_.-]+$/;
const MAX_NAME = 128;

export function versionedStreamName(base: string, version: string): string {
  let tag = version;
  if (!SAFE.test(tag) || base.length + VERSION_SEPARATOR.length + tag.length > MAX_NAME) {
    const hash = createHash('sha256').update(version).digest('hex').slice(0, 10);
    const room = Math.max(0, MAX_NAME - base.length - VERSION_SEPARATOR.length - hash.length - 1);
    tag = `${version.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, room)}_${hash}`;
  }
  const name = `${base}${VERSION_SEPARATOR}${tag}`;
  if (name.length > MAX_NAME) throw new RangeError(`stream name ${base} is too long to carry a version tag`);
  return name;
}
