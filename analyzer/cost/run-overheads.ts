/**
 * What a replay run pays besides its shards' reads and handlers, as the engine does it (src/replay/
 * engine.ts, process-replay.ts, view.ts, base-shards.ts), priced with a process's cost model:
 *
 * - once per run, the changed process's inputs' key/time columns are read whole to number them;
 * - each downstream process reads every rebuilt upstream output whole, as a version view (the base
 *   stream and the new version's events, decoded and ordered in memory), and routes the events of a
 *   re-keyed view input to its shards with the key function;
 * - a downstream process rebuilds its affected shards from scratch (the engine has no time ray for
 *   them), from inputs already in memory: per event only its handler;
 * - every rebuilt shard's old output is read (per shard, or the whole stream scanned once when the
 *   replay covers much of it) and its fork record appended.
 *
 * A sample calibration left all of these out (a replay's "fixed cost" was only known after a real run
 * had measured it), so a first plan underestimated every strategy by a third or more.
 */
import type { RoutePolicy } from '../../src/replay/shard-inputs.ts';
import type { CostModel } from '../types.ts';

/** Events and payload bytes of a stream (or of a part of one). */
export interface Volume {
  readonly events: number;
  readonly bytes: number;
}

/** Reading a stream whole, decoded, in order (a scan): per event and per payload byte. */
export function readWholeMs(cost: CostModel, v: Volume): number {
  return (v.events * (cost.nsPerReadEvent ?? 0) + v.bytes * cost.nsPerByte) / 1e6;
}

/** Numbering the changed process's inputs: their columns read once per run. */
export function numberingMs(cost: CostModel, inputEvents: number): number {
  return (inputEvents * (cost.nsPerColumnEvent ?? 0)) / 1e6;
}

/** A downstream process's version views (each rebuilt upstream output read whole) and the routing of its re-keyed view inputs. */
export function viewsMs(cost: CostModel, views: Volume, routedEvents: number): number {
  return readWholeMs(cost, views) + (routedEvents * (cost.nsPerRoutedEvent ?? 0)) / 1e6;
}

/** Handling one event that is already in memory (a version view): the handler, without the read. */
export function nsPerHandledEvent(cost: CostModel): number {
  return Math.max(0, cost.nsPerEvent - (cost.nsPerReadEvent ?? 0));
}

/** Appending a rebuilt shard's fork record (and its share of an fsync). */
export function shardWriteNs(cost: CostModel): number {
  return cost.nsPerShardWrite ?? 0;
}

/**
 * Whether the engine scans a process's old output once instead of reading it per shard
 * (src/replay/base-shards.ts: by the share of the stream's shards the replay rebuilds).
 */
export function scansBase(policy: RoutePolicy, rebuiltShards: number, base: { readonly events: number; readonly shards: number }): boolean {
  if (base.shards === 0 || base.events < policy.minEvents) return false;
  const share = rebuiltShards / base.shards;
  return share >= policy.minShare && share * base.events <= policy.maxEvents;
}
