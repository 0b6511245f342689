/**
 * The runner's merged input numbering, computed over whole input sequences: inputs are merged by
 * event time, ties by input order, and an event is taken only while every input still has one (at
 * the end a join waits for its quiet inputs, as a runner does). Every taken event — platform events
 * included — gets the next merged number `m`; the runner writes it as `meta.m` and seeds a handler's
 * `ctx.random` and `ctx.id()` from it. Works on typed arrays only, so numbering 10M events costs
 * milliseconds.
 */

/** Per input, the m of each event in the input's order (0: never taken); and how many were taken. */
export interface Numbering {
  readonly m: readonly Float64Array[];
  readonly taken: number;
}

export function mergedNumbers(times: readonly Float64Array[]): Numbering {
  const m = times.map((t) => new Float64Array(t.length));
  if (times.length === 1) {
    const only = m[0] as Float64Array;
    for (let i = 0; i < only.length; i++) only[i] = i + 1;
    return { m, taken: only.length };
  }
  const next = new Int32Array(times.length);
  let taken = 0;
  for (;;) {
    let best = -1;
    let bestTime = 0;
    for (let i = 0; i < times.length; i++) {
      const t = times[i] as Float64Array;
      const at = next[i] as number;
      if (at >= t.length) return { m, taken };
      const time = t[at] as number;
      if (best < 0 || time < bestTime) {
        best = i;
        bestTime = time;
      }
    }
    (m[best] as Float64Array)[next[best] as number] = ++taken;
    next[best] = (next[best] as number) + 1;
  }
}
