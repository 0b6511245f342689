/**
 * The runner's merged input numbering, computed over whole input sequences: inputs are merged by
 * event time, ties by input order, and an event is taken only while every input still has one (at
 * the end a join waits for its quiet inputs, as a runner does). Every taken app event gets the next
 * merged number `m`; the runner writes it as `meta.m` and seeds a handler's `ctx.random` and
 * `ctx.id()` from it. Platform events (`$idle`, `$progress`) are taken but not numbered — they land
 * at timing-dependent places — and get their predecessor's number plus ½: never 0 (0 means never
 * taken), growing along an input, sorting between the app events around them. Works on typed arrays
 * only, so numbering 10M events costs milliseconds.
 */

/** Per input, the m of each event in the input's order (0: never taken); and how many app events were taken. */
export interface Numbering {
  readonly m: readonly Float64Array[];
  readonly taken: number;
}

/** `platform[i][j]` is 1 when event j of input i is a platform (`$`) event; absent: none are. */
export function mergedNumbers(times: readonly Float64Array[], platform?: readonly Uint8Array[]): Numbering {
  const m = times.map((t) => new Float64Array(t.length));
  let taken = 0;
  const number = (input: number, at: number): void => {
    (m[input] as Float64Array)[at] = platform?.[input]?.[at] === 1 ? taken + 0.5 : ++taken;
  };
  if (times.length === 1) {
    const length = (times[0] as Float64Array).length;
    for (let i = 0; i < length; i++) number(0, i);
    return { m, taken };
  }
  const next = new Int32Array(times.length);
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
    number(best, next[best] as number);
    next[best] = (next[best] as number) + 1;
  }
}
