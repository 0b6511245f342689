/**
 * Effects: every effect a handler requested is performed at least once (live), nothing is performed
 * that no handler requested, and no runner performs an effect after the output of its input became
 * durable under its own lease (or an older one) — that would be an effect performed during catch-up.
 * Repeats before that point are at-least-once delivery (a lost reply, a crash between effect and
 * output), and a repeat by a fenced instance that had not yet learnt it was fenced *trails* the new
 * owner: both are allowed, and the idempotency key lets the receiver drop them.
 */
import type { Commit } from '../world.ts';
import type { PerformedEffect } from '../outside-world.ts';
import { canonical, type ExpectedEffect } from './final-state.ts';
import type { Violation } from './violation.ts';

export function checkEffects(
  performed: readonly PerformedEffect[],
  expected: ReadonlyMap<string, ExpectedEffect>,
  commits: readonly Commit[],
  outputs: ReadonlyMap<string, string>,
  tokens: ReadonlyMap<string, number>,
  end: { step: number; simulatedMs: number },
): Violation[] {
  const violations: Violation[] = [];
  const done = new Set(performed.map((e) => e.idempotencyKey));
  const missing = [...expected].filter(([k]) => !done.has(k));
  if (missing.length > 0) {
    violations.push({
      invariant: 'effects performed at least once',
      ...end,
      message: `requested but never performed: ${missing.slice(0, 3).map(([k, e]) => `${e.gateway} ${canonical(e.request)} (${k})`).join('; ')}${missing.length > 3 ? ` (+${missing.length - 3} more)` : ''}`,
    });
  }
  const spurious = performed.filter((e) => !expected.has(e.idempotencyKey));
  if (spurious.length > 0) {
    const e = spurious[0] as PerformedEffect;
    violations.push({ invariant: 'effects performed at least once', step: e.step, simulatedMs: e.simulatedMs, message: `${e.gateway} ${canonical(e.request)} (${e.idempotencyKey}) was performed, but no handler requested it` });
  }
  // When did the output of each effect's input become durable? Idempotency keys are process/key/stream@position/i.
  // Only the inputs of performed effects are looked up: per process and shard, the input positions asked for.
  const parsed = performed.map((e) => parseIdempotencyKey(e.idempotencyKey));
  const durableAt = new Map<string, Map<string, Map<number, { step: number; token: number } | undefined>>>();
  for (const m of parsed) {
    if (m === null) continue;
    let byKey = durableAt.get(m[1] as string);
    if (byKey === undefined) durableAt.set(m[1] as string, (byKey = new Map()));
    let byPosition = byKey.get(m[2] as string);
    if (byPosition === undefined) byKey.set(m[2] as string, (byPosition = new Map()));
    byPosition.set(Number(m[3]), undefined);
  }
  for (const c of commits) {
    const process = outputs.get(c.stream);
    const byPosition = process === undefined ? undefined : durableAt.get(process)?.get(c.key);
    if (byPosition === undefined) continue;
    for (const e of c.events) {
      const input = e.meta?.in as [number, number] | undefined;
      if (input !== undefined && byPosition.has(input[1]) && byPosition.get(input[1]) === undefined) byPosition.set(input[1], { step: c.step, token: c.token ?? 0 });
    }
  }
  for (let i = 0; i < performed.length; i++) {
    const e = performed[i] as PerformedEffect;
    const m = parsed[i];
    const output = m === undefined || m === null ? undefined : durableAt.get(m[1] as string)?.get(m[2] as string)?.get(Number(m[3]));
    const outputStep = output?.step;
    // A performer with an older token than the output's writer is a fenced instance trailing it.
    const trailing = output !== undefined && (tokens.get(e.performer) ?? 0) < output.token;
    if (outputStep !== undefined && e.step > outputStep && !trailing) {
      violations.push({
        invariant: 'no effect during catch-up',
        step: e.step,
        simulatedMs: e.simulatedMs,
        message: `${e.gateway} ${canonical(e.request)} (${e.idempotencyKey}) performed by ${e.performer} at step ${e.step}, after the output of its input was durable (step ${outputStep})`,
      });
      break;
    }
  }
  return violations;
}

/** What the key pattern below captures: [whole, process, key, position]. */
type ParsedKey = readonly [string, string, string, string];

const KEY_PATTERN = /^(.+?)\/(.+)\/[^/@]+@(\d+)\/\d+$/;

/**
 * `KEY_PATTERN.exec(id)`, by index arithmetic: the pattern's lazy and greedy groups backtracked on
 * every performed effect (over 1% of a run). A key with a line break (which `.` does not match) takes
 * the pattern itself.
 */
export function parseIdempotencyKey(id: string): ParsedKey | null {
  if (/[\n\r\u2028\u2029]/.test(id)) return KEY_PATTERN.exec(id) as ParsedKey | null;
  const last = id.lastIndexOf('/');
  if (last < 0 || !digitsOnly(id, last + 1, id.length)) return null;
  const before = id.lastIndexOf('/', last - 1);
  if (before < 0) return null;
  // The segment between them: [^/@]+@(\d+)
  const at = id.indexOf('@', before + 1);
  if (at <= before + 1 || at >= last || !digitsOnly(id, at + 1, last)) return null;
  // (.+?)\/(.+) before it: the first '/' after a non-empty process, with a non-empty key after it.
  const first = id.indexOf('/', 1);
  if (first < 0 || first + 1 >= before) return null;
  return [id, id.slice(0, first), id.slice(first + 1, before), id.slice(at + 1, last)];
}

/** True when `s[from..to)` is one or more ASCII digits. */
export function digitsOnly(s: string, from: number, to: number): boolean {
  if (from >= to) return false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}
