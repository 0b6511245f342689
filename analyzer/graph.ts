/**
 * The process graph of an app as the planner needs it: what a process reads (as stored, or re-keyed
 * by a key function) and which processes are downstream of it, nearest first.
 */
import type { AppDef, ProcessDef } from '../src/app/define.ts';
import { InvalidInputError } from '../src/model/errors.ts';

// biome-ignore lint/suspicious/noExplicitAny: processes of any state and output
export type AnyProcess = ProcessDef<any, any>;

export interface ProcessInput {
  readonly index: number;
  readonly stream: string;
  /** True when the process re-keys this input with a key function (a fan-out or re-partition). */
  readonly rekeyed: boolean;
}

export function findProcess(app: AppDef, name: string): AnyProcess {
  const p = app.processes.find((q) => q.name === name);
  if (p === undefined) {
    throw new InvalidInputError('--process', `one of app ${app.name}'s processes (${app.processes.map((q) => q.name).join(', ')})`, name);
  }
  return p;
}

export function inputsOf(p: AnyProcess): ProcessInput[] {
  return p.inputs.map((input, index) => ({ index, stream: input.stream.name, rekeyed: input.key !== undefined }));
}

/** Processes that read `p`'s output, directly or transitively, in topological (breadth-first) order. */
export function downstreamOf(app: AppDef, p: AnyProcess): AnyProcess[] {
  const order: AnyProcess[] = [];
  const seen = new Set<string>([p.name]);
  const queue: AnyProcess[] = [p];
  while (queue.length > 0) {
    const up = queue.shift() as AnyProcess;
    for (const q of app.processes) {
      if (seen.has(q.name)) continue;
      if (q.inputs.some((i) => i.stream.name === up.output.name)) {
        seen.add(q.name);
        order.push(q);
        queue.push(q);
      }
    }
  }
  return order;
}

/** The process version the runtime would tag outputs with: its explicit tag, or the app's source hash. */
export function versionOf(p: AnyProcess, appVersion: string): string {
  return p.version ?? appVersion;
}
