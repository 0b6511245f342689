/** Snapshot metadata by (process, version, shard), sorted by position; `L` locates the bytes. */
import type { SnapshotInfo } from '../model/event.ts';
import type { SnapshotFilter, SnapshotQuery } from './event-store.ts';

export class SnapshotIndex<L> {
  private readonly byShard = new Map<string, Array<{ info: SnapshotInfo; locator: L }>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Adds or replaces (same position) a snapshot. */
  put(info: SnapshotInfo, locator: L): void {
    const id = `${info.process}\u0000${info.version}\u0000${info.shard}`;
    let list = this.byShard.get(id);
    if (list === undefined) {
      list = [];
      this.byShard.set(id, list);
    }
    const at = list.findIndex((s) => s.info.position >= info.position);
    if (at >= 0 && list[at]?.info.position === info.position) {
      list[at] = { info, locator };
      return;
    }
    list.splice(at < 0 ? list.length : at, 0, { info, locator });
    this.count++;
  }

  find(query: SnapshotQuery): { info: SnapshotInfo; locator: L } | undefined {
    const list = this.byShard.get(`${query.process}\u0000${query.version}\u0000${query.shard}`);
    if (list === undefined) return undefined;
    const limit = query.atOrBefore ?? Number.POSITIVE_INFINITY;
    for (let i = list.length - 1; i >= 0; i--) {
      const entry = list[i];
      if (entry !== undefined && entry.info.position <= limit) return entry;
    }
    return undefined;
  }

  list(filter?: SnapshotFilter): SnapshotInfo[] {
    const out: SnapshotInfo[] = [];
    const maxTime = filter?.maxTime ?? Number.POSITIVE_INFINITY;
    for (const entries of this.byShard.values()) {
      const first = entries[0]?.info;
      if (first === undefined) continue;
      if (filter?.process !== undefined && first.process !== filter.process) continue;
      if (filter?.version !== undefined && first.version !== filter.version) continue;
      if (filter?.newestPerShard === true) {
        // Entries are in position order, and a shard's snapshot times grow with its position.
        for (let i = entries.length - 1; i >= 0; i--) {
          const info = (entries[i] as { info: SnapshotInfo }).info;
          if (info.time <= maxTime) {
            out.push(info);
            break;
          }
        }
        continue;
      }
      for (const { info } of entries) if (info.time <= maxTime) out.push(info);
    }
    return out.sort(compareSnapshots);
  }
}

function compareSnapshots(a: SnapshotInfo, b: SnapshotInfo): number {
  return (
    cmp(a.process, b.process) || cmp(a.version, b.version) || cmp(a.shard, b.shard) || a.position - b.position
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
