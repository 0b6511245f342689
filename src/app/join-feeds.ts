/**
 * The streams a join depends on: every input of a process with two or more inputs, and, upstream,
 * every input of a process whose output is one of them.
 *
 * A join takes an event only when each of its inputs has one, so after the last input it waits for
 * idle events on its quiet inputs; no other process ever waits for one. Where idle events are an
 * expense rather than a service, they are written on these streams only: in the simulator (whose
 * traces then stay free of timing-dependent events; it also appends these streams' workload in time
 * order and closes each with one idle event after the last input) and in a finite `spive run
 * --until-idle`.
 */
import type { AppDef } from './define.ts';

export function joinFeeds(app: AppDef): ReadonlySet<string> {
  const feeds = new Set<string>();
  for (const p of app.processes) if (p.inputs.length > 1) for (const i of p.inputs) feeds.add(i.stream.name);
  // Upstream closure: a process writing a fed stream makes its own inputs fed (a fixpoint; graphs may have cycles).
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of app.processes) {
      if (!feeds.has(p.output.name)) continue;
      for (const i of p.inputs) {
        if (feeds.has(i.stream.name)) continue;
        feeds.add(i.stream.name);
        grew = true;
      }
    }
  }
  return feeds;
}
