/**
 * Every input is reflected exactly once in each output: per output shard, each input event (by its
 * identity stream/key#seq) appears in one contiguous batch and never again, batches follow input
 * order, and the faulty run reflects the same inputs as the fault-free run.
 */
import type { AppDef } from '../../src/app/define.ts';
import type { StoredEvent } from '../../src/model/event.ts';
import type { EventStore } from '../../src/store/event-store.ts';
import { readStreamFully } from './final-state.ts';
import type { Violation } from './violation.ts';
import { firstAtOrAfter } from '../../src/util/position-search.ts';

/** Per process, per output shard: the identities of the inputs reflected, in order. */
export type Reflections = Map<string, Map<string, string[]>>;

export async function reflections(app: AppDef, store: EventStore, at: { step: number; simulatedMs: number }): Promise<{ reflected: Reflections; violations: Violation[] }> {
  const violations: Violation[] = [];
  const reflected: Reflections = new Map();
  // Each stream in position order (an event is found by position with a binary search: no map of every event).
  const byPosition = new Map<string, StoredEvent[]>();
  for (const s of app.streams) byPosition.set(s.name, await readStreamFully(store, s.name));
  for (const p of app.processes) {
    const perShard = new Map<string, string[]>();
    const seenPerShard = new Map<string, Set<string>>();
    reflected.set(p.name, perShard);
    const lastM = new Map<string, number>();
    // Per shard, the seq of the last output of its highest input so far (lastM): only that input's
    // batch can still be continued, so one entry per shard is enough.
    const lastSeqOfLastM = new Map<string, number>();
    for (const e of byPosition.get(p.output.name) ?? []) {
      if (e.type === '$idle') continue;
      const m = e.meta?.m;
      const input = e.meta?.in as [number, number] | undefined;
      if (typeof m !== 'number' || input === undefined) {
        violations.push({ invariant: 'every input reflected exactly once', ...at, message: `${p.output.name}/${e.key}#${e.seq} carries no input reference` });
        continue;
      }
      const shardM = lastM.get(e.key) ?? 0;
      if (m === shardM) {
        if (lastSeqOfLastM.get(e.key) !== e.seq - 1) {
          violations.push({ invariant: 'every input reflected exactly once', ...at, message: `${p.output.name}/${e.key}#${e.seq}: outputs of input #${m} are not one contiguous batch` });
        }
      } else if (m < shardM) {
        violations.push({ invariant: 'every input reflected exactly once', ...at, message: `${p.output.name}/${e.key}#${e.seq} reflects input #${m} after input #${shardM}: an input reflected twice or out of order` });
      } else {
        const stream = p.inputs[input[0]]?.stream.name as string;
        const source = atPosition(byPosition.get(stream), input[1]);
        const identity = source === undefined ? `${stream}@${input[1]}?` : `${source.stream}/${source.key}#${source.seq}`;
        const list = perShard.get(e.key) ?? [];
        const seen = seenPerShard.get(e.key) ?? new Set<string>();
        seenPerShard.set(e.key, seen);
        if (seen.has(identity)) {
          violations.push({ invariant: 'every input reflected exactly once', ...at, message: `${p.output.name}/${e.key}#${e.seq}: input ${identity} is reflected a second time` });
        }
        list.push(identity);
        seen.add(identity);
        perShard.set(e.key, list);
      }
      if (m >= shardM) {
        lastM.set(e.key, m);
        lastSeqOfLastM.set(e.key, e.seq);
      }
    }
  }
  return { reflected, violations };
}

/** The event at `position` in `events` (sorted by position), if any. */
function atPosition(events: readonly StoredEvent[] | undefined, position: number): StoredEvent | undefined {
  if (events === undefined) return undefined;
  const e = events[firstAtOrAfter(events, position)];
  return e?.position === position ? e : undefined;
}

/**
 * The output must reflect exactly the inputs whose handling (replayed over this run's own input
 * history) emits outputs or requests effects: none lost, none extra. Replaying this run's history —
 * not comparing with the fault-free run — keeps the check exact for processes whose outputs depend on
 * the order inputs from different shards arrived in (a global leaderboard, say).
 */
export function compareReflections(faulty: Reflections, reference: Reflections, at: { step: number; simulatedMs: number }): Violation[] {
  const violations: Violation[] = [];
  for (const [process, shards] of reference) {
    const other = faulty.get(process) ?? new Map<string, string[]>();
    for (const key of new Set([...shards.keys(), ...other.keys()])) {
      const want = new Set(shards.get(key) ?? []);
      const got = new Set(other.get(key) ?? []);
      const missing = [...want].filter((x) => !got.has(x)).sort();
      const extra = [...got].filter((x) => !want.has(x)).sort();
      if (missing.length > 0 || extra.length > 0) {
        violations.push({
          invariant: 'every input reflected exactly once',
          ...at,
          message: `process ${process}, shard ${key}: ${missing.length ? `inputs never reflected: ${missing.slice(0, 3).join(', ')}` : ''}${missing.length && extra.length ? '; ' : ''}${extra.length ? `inputs reflected that the fault-free run did not: ${extra.slice(0, 3).join(', ')}` : ''}`,
        });
      }
    }
  }
  return violations;
}
