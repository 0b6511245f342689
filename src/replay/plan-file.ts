/**
 * Reading a plan file (`spive replay-plan --out plan.json`) and checking every field the engine
 * relies on; a bad file fails with INVALID_INPUT naming the file and the field. The fields mirror
 * analyzer/types.ts `ReplayPlan` (kept structural here so the platform does not depend on the
 * analyzer).
 */
import { readFileSync } from 'node:fs';
import { InvalidInputError, NotFoundError } from '../model/errors.ts';
import type { ReplayJob, ShardJob } from './types.ts';

export interface PlanTask {
  readonly key: string;
  readonly mode: 'scratch' | 'ray';
  readonly snapshot?: { readonly version: string; readonly position: number; readonly time: number; readonly sizeBytes: number };
  readonly fromTime: number | null;
  readonly events: number;
  readonly bytes: number;
  readonly cpuMs: number;
}

export interface PlanFile {
  readonly format: 'spive-replay-plan';
  readonly formatVersion: 1;
  readonly store: string;
  readonly app: string;
  readonly process: string;
  readonly output: string;
  readonly change: { readonly process: string; readonly fromVersion: string | null; readonly toVersion: string; readonly since: number | null; readonly keys: string | null };
  readonly workers: number;
  readonly chosen: string | null;
  readonly tasks: readonly PlanTask[];
  readonly downstream: ReadonlyArray<{
    readonly process: string;
    readonly shards: number;
    /** For calibration from the run (analyzer `DownstreamEstimate`): passed through, not checked. */
    readonly cost?: unknown;
    readonly version?: string;
    readonly eventsToRead?: number;
    readonly estimatedCpuMs?: number;
  }>;
  readonly strategies: ReadonlyArray<{ readonly name: string; readonly applicable: boolean; readonly estimatedWallMs: number; readonly estimatedCpuMs: number }>;
  /** The planner's cost model (analyzer `CostModel`), passed through for calibration. */
  readonly cost?: unknown;
}

export function readPlanFile(path: string): PlanFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new NotFoundError(`plan file ${path}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new InvalidInputError(`--plan ${path}`, `a JSON plan written by spive replay-plan --out (${e instanceof Error ? e.message : String(e)})`);
  }
  return checkPlan(value, path);
}

export function checkPlan(value: unknown, file: string): PlanFile {
  const fail = (field: string, expected: string, got?: unknown): never => {
    throw new InvalidInputError(`${file}: ${field}`, expected, got);
  };
  const obj = (v: unknown, field: string): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : fail(field, 'an object', v));
  const str = (v: unknown, field: string): string => (typeof v === 'string' && v !== '' ? v : fail(field, 'a non-empty string', v));
  const num = (v: unknown, field: string): number => (typeof v === 'number' && Number.isFinite(v) ? v : fail(field, 'a number', v));
  const orNull = <T>(v: unknown, f: (x: unknown) => T): T | null => (v === null || v === undefined ? null : f(v));
  const plan = obj(value, '(top level)');
  if (plan.format !== 'spive-replay-plan') fail('format', '"spive-replay-plan" (a plan written by spive replay-plan --out)', plan.format);
  if (plan.formatVersion !== 1) fail('formatVersion', '1', plan.formatVersion);
  str(plan.process, 'process');
  str(plan.output, 'output');
  str(plan.app, 'app');
  const change = obj(plan.change, 'change');
  str(change.toVersion, 'change.toVersion');
  orNull(change.fromVersion, (v) => str(v, 'change.fromVersion'));
  orNull(change.since, (v) => num(v, 'change.since'));
  if (change.process !== plan.process) fail('change.process', `the plan's process (${String(plan.process)})`, change.process);
  if (plan.chosen !== null && typeof plan.chosen !== 'string') fail('chosen', 'a strategy name or null', plan.chosen);
  if (!Array.isArray(plan.tasks)) fail('tasks', 'an array of shard tasks', plan.tasks);
  const keys = new Set<string>();
  (plan.tasks as unknown[]).forEach((t, i) => {
    const task = obj(t, `tasks[${i}]`);
    const key = str(task.key, `tasks[${i}].key`);
    if (keys.has(key)) fail(`tasks[${i}].key`, 'each shard once', key);
    keys.add(key);
    if (task.mode !== 'scratch' && task.mode !== 'ray') fail(`tasks[${i}].mode`, "'scratch' or 'ray'", task.mode);
    if (task.mode === 'ray') {
      const s = obj(task.snapshot, `tasks[${i}].snapshot`);
      str(s.version, `tasks[${i}].snapshot.version`);
      const m = num(s.position, `tasks[${i}].snapshot.position`);
      if (!Number.isSafeInteger(m) || m < 0) fail(`tasks[${i}].snapshot.position`, 'an input number m >= 0', m);
    }
    num(task.events, `tasks[${i}].events`);
    num(task.cpuMs, `tasks[${i}].cpuMs`);
  });
  if (!Array.isArray(plan.downstream)) fail('downstream', 'an array', plan.downstream);
  (plan.downstream as unknown[]).forEach((d, i) => str(obj(d, `downstream[${i}]`).process, `downstream[${i}].process`));
  if (!Array.isArray(plan.strategies)) fail('strategies', 'an array', plan.strategies);
  return plan as unknown as PlanFile;
}

/** The engine's job for a plan's chosen strategy. */
export function jobOf(plan: PlanFile): ReplayJob {
  return {
    process: plan.process,
    fromVersion: plan.change.fromVersion,
    toVersion: plan.change.toVersion,
    strategy: plan.chosen ?? 'none',
    tasks: plan.tasks.map(
      (t): ShardJob => ({
        key: t.key,
        mode: t.mode,
        ...(t.mode === 'ray' && t.snapshot !== undefined ? { snapshot: { version: t.snapshot.version, position: t.snapshot.position } } : {}),
        estimatedCpuMs: t.cpuMs,
        estimatedEvents: t.events,
      }),
    ),
    downstream: plan.downstream.map((d) => d.process),
  };
}
