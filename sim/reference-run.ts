/**
 * The fault-free run of a workload, executed directly: no network, no runners, no scheduler. Every
 * input the workload made is appended in arrival order; then every process is folded over its inputs
 * with the runner's merge rule, its outputs appended to its output stream as the runner appends them
 * (the handler's outputs, or one `$progress` event when it only requested effects), until no process
 * can take another event.
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
import { ProcessFold } from './oracles/final-state.ts';
import type { WorkloadInput } from './workload.ts';

export interface ReferenceRun {
  /** Per process, the final state of every shard it touched. */
  readonly states: ReadonlyMap<string, ReadonlyMap<string, unknown>>;
  /** Events in the reference store (inputs and outputs), for reports. */
  readonly events: number;
}

/** Runs `processes` (the app's, as the world runs them: guarded) over `inputs` to the end. */
export function referenceRun(app: AppDef, processes: readonly ProcessDef<unknown>[], inputs: readonly WorkloadInput[]): ReferenceRun {
  const log = new StreamLog(app);
  for (const input of inputs) log.append(input.stream, input.key, input.type, input.time, input.data);
  const folds = processes.map(
    (p) =>
      new ProcessFold(
        p,
        p.inputs.map((i) => log.stream(i.stream.name)),
        (key, event, outputs, effects) => {
          if (outputs.length > 0) for (const o of outputs) log.append(p.output.name, key, o.type, event.time, o.data);
          else if (effects > 0) log.append(p.output.name, key, PROGRESS_EVENT, event.time, null);
        },
      ),
  );
  // Round after round until no process can take an event (with a cycle of processes, many rounds).
  for (let moved = true; moved; ) {
    moved = false;
    for (const fold of folds) if (fold.run() > 0) moved = true;
  }
  return { states: new Map(processes.map((p, i) => [p.name, (folds[i] as ProcessFold).states])), events: log.events };
}

/** Streams as growing arrays, with the store's numbering (seq per shard, one global position) and its JSON copies. */
class StreamLog {
  private readonly streams = new Map<string, StoredEvent[]>();
  private readonly seqs = new Map<string, number>();
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
    const id = `${stream}\u0000${key}`;
    const seq = (this.seqs.get(id) ?? 0) + 1;
    this.seqs.set(id, seq);
    const position = ++this.events;
    const copy = copyJson(data, () => `${stream}/${key}#${seq} data`) as StoredEvent['data'];
    this.stream(stream).push(Object.freeze({ stream, key, seq, position, type, time, data: copy }));
  }
}
