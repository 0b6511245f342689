/**
 * The fault-free run of a workload, executed directly: no network, no runners, no scheduler. Every
 * input the workload made is appended in arrival order; then every process is folded over its inputs
 * with the runner's merge rule, its outputs appended to its output stream as the runner appends them
 * (the handler's outputs, or one `$progress` event when it only requested effects), until no process
 * can take another event, then joins drain as the world's closing idle events let them.
 *
 * Why this is the fault-free run: a runner takes an event only when every input has one, and picks
 * by the heads alone, so each process is a deterministic function of its input sequences (a Kahn
 * process) and a network of them computes the same streams under any schedule — the simulated
 * world without faults is one schedule, this loop is another. Per stream, events land in the order
 * their single writer produced them in both. The only freedom left is the order of the workload's
 * inputs across shards, which in a world depends on network latency; here it is the arrival order,
 * the order the fault-free run is meant to reflect.
 */
import type { AppDef, ProcessDef } from '../src/app/define.ts';
import type { StoredEvent } from '../src/model/event.ts';
import { PROGRESS_EVENT } from '../src/runtime/runner.ts';
import { copyJson } from '../src/store/json-copy.ts';
import { ShardMap } from '../src/store/store-state.ts';
import { ProcessFold } from './oracles/final-state.ts';
import type { WorkloadInput } from './workload.ts';

export interface ReferenceRun {
  /** Per process, the final state of every shard it touched. */
  readonly states: ReadonlyMap<string, ReadonlyMap<string, unknown>>;
  /** Events in the reference store (inputs and outputs), for reports. */
  readonly events: number;
}

/**
 * The order a world committed a process output in, per stream: `key\u0000seq` of each app event in
 * position order. Only for outputs a join reads (see `joinOrderedOutputs`).
 */
export type CommittedOrder = ReadonlyMap<string, readonly string[]>;

/** The process outputs that a process with two or more inputs reads: their cross-key order matters. */
export function joinOrderedOutputs(app: AppDef): string[] {
  const written = new Set(app.processes.map((p) => p.output.name));
  const out = new Set<string>();
  for (const p of app.processes) if (p.inputs.length > 1) for (const i of p.inputs) if (written.has(i.stream.name)) out.add(i.stream.name);
  return [...out].sort();
}

/**
 * Runs `processes` (the app's, as the world runs them: guarded) over `inputs` to the end. A join
 * reads another process's output in `committed` order when given: a runner's appends to different
 * shards may land out of event-time order (a retried append lands after later ones), a join merges
 * in the order they landed, and that order is the world's, not the workload's.
 */
export function referenceRun(app: AppDef, processes: readonly ProcessDef<unknown>[], inputs: readonly WorkloadInput[], committed?: CommittedOrder): ReferenceRun {
  const log = new StreamLog(app);
  for (const input of inputs) log.append(input.stream, input.key, input.type, input.time, input.data);
  const written = new Set(processes.map((p) => p.output.name));
  // A join's input that another process writes: filled in committed order once its writer is done.
  const pending = processes.map((p) => (p.inputs.length > 1 && committed !== undefined ? p.inputs.map((i) => written.has(i.stream.name)) : p.inputs.map(() => false)));
  const joinInputs = processes.map((p, j) => p.inputs.map((i, k) => ((pending[j] as boolean[])[k] ? ([] as StoredEvent[]) : log.stream(i.stream.name))));
  const folds = processes.map(
    (p, j) =>
      new ProcessFold(
        p,
        joinInputs[j] as StoredEvent[][],
        (key, event, outputs, effects) => {
          if (outputs.length > 0) for (const o of outputs) log.append(p.output.name, key, o.type, event.time, o.data);
          else if (effects > 0) log.append(p.output.name, key, PROGRESS_EVENT, event.time, null);
        },
        false, // only the states are compared: no expected effects or reflections
      ),
  );
  // Round after round until no process can take an event (with a cycle of processes, many rounds).
  // Then the end of the world's run: after the last input every stream a join reads is closed by an
  // idle event later than all its events, so a join drains. Drain one join at a time, upstream
  // first, each once nothing upstream of it can still grow its inputs; then fold again.
  const order = upstreamFirst(processes);
  for (let moved = true; moved; ) {
    moved = false;
    for (const fold of folds) if (fold.run() > 0) moved = true;
    if (moved) continue;
    for (const i of order) {
      const p = processes[i] as ProcessDef<unknown>;
      const fill = (pending[i] as boolean[]).findIndex((x) => x);
      if (fill >= 0) {
        // Everything upstream of p is done (upstream first, and nothing moved): its input is complete.
        (pending[i] as boolean[])[fill] = false;
        const stream = (p.inputs[fill] as { stream: { name: string } }).stream.name;
        ((joinInputs[i] as StoredEvent[][])[fill] as StoredEvent[]).push(...inCommittedOrder(log.stream(stream), committed?.get(stream) ?? []));
        moved = true;
        break;
      }
      if (p.inputs.length > 1 && (folds[i] as ProcessFold).run({ drain: true }) > 0) {
        moved = true;
        break;
      }
    }
  }
  return { states: new Map(processes.map((p, i) => [p.name, (folds[i] as ProcessFold).states])), events: log.events };
}

/** `events` reordered as `order` lists them (`key\u0000seq`); events it does not list keep their order, after. */
function inCommittedOrder(events: readonly StoredEvent[], order: readonly string[]): StoredEvent[] {
  const rank = new Map(order.map((id, i) => [id, i]));
  const ranked = events.map((e, i) => ({ e, r: rank.get(`${e.key}\u0000${e.seq}`) ?? order.length + i }));
  return ranked.sort((a, b) => a.r - b.r).map((x) => x.e);
}

/** Indexes of `processes`, every writer of a process's inputs before it (Kahn's algorithm; a cycle keeps app order). */
function upstreamFirst(processes: readonly ProcessDef<unknown>[]): number[] {
  const writer = new Map(processes.map((p, i) => [p.output.name, i]));
  const ups = processes.map((p) => new Set(p.inputs.map((i) => writer.get(i.stream.name)).filter((w): w is number => w !== undefined)));
  const order: number[] = [];
  const placed = new Set<number>();
  while (order.length < processes.length) {
    const ready = processes.findIndex((_, i) => !placed.has(i) && [...(ups[i] as Set<number>)].every((u) => placed.has(u) || u === i));
    const next = ready >= 0 ? ready : processes.findIndex((_, i) => !placed.has(i));
    order.push(next);
    placed.add(next);
  }
  return order;
}

/** Streams as growing arrays, with the store's numbering (seq per shard, one global position) and its JSON copies. */
class StreamLog {
  private readonly streams = new Map<string, StoredEvent[]>();
  private readonly seqs = new ShardMap<number>();
  events = 0;

  constructor(app: AppDef) {
    for (const s of app.streams) this.streams.set(s.name, []);
  }

  stream(name: string): StoredEvent[] {
    let list = this.streams.get(name);
    if (list === undefined) this.streams.set(name, (list = []));
    return list;
  }

  append(stream: string, key: string, type: string, time: number, data: unknown): void {
    const seq = (this.seqs.get(stream, key) ?? 0) + 1;
    this.seqs.set(stream, key, seq);
    const position = ++this.events;
    naming.stream = stream;
    naming.key = key;
    naming.seq = seq;
    const copy = copyJson(data, namedField) as StoredEvent['data'];
    this.stream(stream).push(Object.freeze({ stream, key, seq, position, type, time, data: copy }));
  }
}

/** The event being copied, for the field name copyJson reports (copyJson runs at once): no closure per appended event. */
const naming = { stream: '', key: '', seq: 0 };

function namedField(): string {
  return `${naming.stream}/${naming.key}#${naming.seq} data`;
}
