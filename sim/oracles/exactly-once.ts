/**
 * Every input is reflected exactly once in each output: per output shard, each input event (by its
 * position in the store; named stream/key#seq in messages) appears in one contiguous batch and never
 * again, batches follow input order, and the faulty run reflects the same inputs as the fault-free run.
 */
import type { AppDef } from '../../src/app/define.ts';
import type { StoredEvent } from '../../src/model/event.ts';
import { inputName, type InputId } from './final-state.ts';
import type { Violation } from './violation.ts';
import { firstAtOrAfter } from '../../src/util/position-search.ts';

/** Per process, per output shard: the inputs reflected (by position, see `InputId`), in order. */
export type Reflections = Map<string, Map<string, InputId[]>>;

/**
 * Per output shard: the `m` of its highest input so far and the seq of that input's last output (only
 * that input's batch can still be continued, so one entry per shard is enough), and the inputs it reflects.
 */
interface ShardReflections {
  lastM: number;
  lastSeqOfLastM: number | undefined;
  list: InputId[] | undefined;
  seen: Set<InputId> | undefined;
}

/** `streams`: every stream of the app, read in full (position order). */
export function reflections(app: AppDef, streams: ReadonlyMap<string, readonly StoredEvent[]>, at: { step: number; simulatedMs: number }): { reflected: Reflections; violations: Violation[] } {
  const violations: Violation[] = [];
  const reflected: Reflections = new Map();
  const name = (id: InputId) => inputName(id, streams.values());
  for (const p of app.processes) {
    const perShard = new Map<string, InputId[]>();
    reflected.set(p.name, perShard);
    const shards = new Map<string, ShardReflections>();
    for (const e of streams.get(p.output.name) ?? []) {
      if (e.type === '$idle') continue;
      const m = e.meta?.m;
      const input = e.meta?.in as [number, number] | undefined;
      if (typeof m !== 'number' || input === undefined) {
        violations.push({ invariant: 'every input reflected exactly once', ...at, message: `${p.output.name}/${e.key}#${e.seq} carries no input reference` });
        continue;
      }
      let shard = shards.get(e.key);
      if (shard === undefined) shards.set(e.key, (shard = { lastM: 0, lastSeqOfLastM: undefined, list: undefined, seen: undefined }));
      const shardM = shard.lastM;
      if (m === shardM) {
        if (shard.lastSeqOfLastM !== e.seq - 1) {
          violations.push({ invariant: 'every input reflected exactly once', ...at, message: `${p.output.name}/${e.key}#${e.seq}: outputs of input #${m} are not one contiguous batch` });
        }
      } else if (m < shardM) {
        violations.push({ invariant: 'every input reflected exactly once', ...at, message: `${p.output.name}/${e.key}#${e.seq} reflects input #${m} after input #${shardM}: an input reflected twice or out of order` });
      } else {
        const stream = p.inputs[input[0]]?.stream.name as string;
        // The input by position when it is there, in the stream the reference names; otherwise a name that matches nothing.
        const identity: InputId = atPosition(streams.get(stream), input[1]) ? input[1] : `${stream}@${input[1]}?`;
        if (shard.list === undefined || shard.seen === undefined) {
          perShard.set(e.key, (shard.list = []));
          shard.seen = new Set();
        }
        if (shard.seen.has(identity)) {
          violations.push({ invariant: 'every input reflected exactly once', ...at, message: `${p.output.name}/${e.key}#${e.seq}: input ${name(identity)} is reflected a second time` });
        }
        shard.list.push(identity);
        shard.seen.add(identity);
      }
      if (m >= shardM) {
        shard.lastM = m;
        shard.lastSeqOfLastM = e.seq;
      }
    }
  }
  return { reflected, violations };
}

/** True when `events` (sorted by position) holds an event at `position`. */
function atPosition(events: readonly StoredEvent[] | undefined, position: number): boolean {
  if (events === undefined) return false;
  return events[firstAtOrAfter(events, position)]?.position === position;
}

/**
 * The output must reflect exactly the inputs whose handling (replayed over this run's own input
 * history) emits outputs or requests effects: none lost, none extra. Replaying this run's history —
 * not comparing with the fault-free run — keeps the check exact for processes whose outputs depend on
 * the order inputs from different shards arrived in (a global leaderboard, say).
 */
export function compareReflections(faulty: Reflections, reference: Reflections, at: { step: number; simulatedMs: number }, name: (id: InputId) => string = String): Violation[] {
  const violations: Violation[] = [];
  for (const [process, shards] of reference) {
    const other = faulty.get(process) ?? new Map<string, InputId[]>();
    for (const key of new Set([...shards.keys(), ...other.keys()])) {
      const want = new Set(shards.get(key) ?? []);
      const got = new Set(other.get(key) ?? []);
      const missing: InputId[] = [];
      const extra: InputId[] = [];
      for (const x of want) if (!got.has(x)) missing.push(x);
      for (const x of got) if (!want.has(x)) extra.push(x);
      if (missing.length > 0 || extra.length > 0) {
        // Named (and sorted by name) only here: a run without a violation never spells an input out.
        const named = (ids: InputId[]) => ids.map(name).sort();
        const m = named(missing);
        const x = named(extra);
        violations.push({
          invariant: 'every input reflected exactly once',
          ...at,
          message: `process ${process}, shard ${key}: ${m.length ? `inputs never reflected: ${m.slice(0, 3).join(', ')}` : ''}${m.length && x.length ? '; ' : ''}${x.length ? `inputs reflected that the fault-free run did not: ${x.slice(0, 3).join(', ')}` : ''}`,
        });
      }
    }
  }
  return violations;
}
