/**
 * `spive simulate <app>`: the app's workload in the deterministic simulator under a fault plan.
 * Exit 0: no violation; 1: a violation (the report names the seed, the invariant, the first
 * violating step with its recent history, and the command that reproduces it); 2: bad usage.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { loadApp } from '../../src/app/load-app.ts';
import { realClock } from '../../src/time/clock.ts';
import { resolveFaults, type FaultOptions, type FaultPreset } from '../../sim/faults.ts';
import { seededRandom } from '../../src/random/random.ts';
import { simulate, type SimulationResult } from '../../sim/simulate.ts';
import type { WorkloadShape } from '../../sim/workload.ts';
import { EXIT_FOUND_PROBLEM, UsageError } from '../exit-codes.ts';
import type { CommandContext } from '../main.ts';
import { duration, integer } from '../options.ts';
import { makeOutput, type Output } from '../output.ts';

interface SimulateCliOptions {
  seed: number;
  faults: string;
  workload?: string;
  duration?: number;
  trace?: string;
  store: string;
  json?: boolean;
}

/** `--faults`/`--workload` take a preset name, a JSON file, or inline JSON: exactly what `fuzz` prints. */
export function parseJsonArgument(flag: string, value: string): unknown {
  const text = value.trim().startsWith('{') ? value : existsSync(value) ? readFileSync(value, 'utf8') : undefined;
  if (text === undefined) throw new UsageError(`${flag}: expected a preset, a JSON file or inline JSON, got ${JSON.stringify(value)} (no such file)`);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${flag}: ${value.trim().startsWith('{') ? 'inline JSON' : value} is not valid JSON: ${(e as Error).message}`);
  }
}

export function parseFaults(value: string): FaultPreset | (Partial<FaultOptions> & { base?: FaultPreset }) {
  if (value === 'none' || value === 'default' || value === 'swarm') return value;
  const parsed = parseJsonArgument('--faults', value);
  try {
    resolveFaults(parsed as never, seededRandom(0)); // validates field names
  } catch (e) {
    throw new UsageError(`--faults: ${(e as Error).message}`);
  }
  return parsed as Partial<FaultOptions>;
}

export function parseWorkload(value: string): Partial<WorkloadShape> {
  const parsed = parseJsonArgument('--workload', value) as Record<string, unknown>;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError('--workload: expected a JSON object like {"events": 500, "keys": 20}');
  const allowed = ['events', 'ratePerSecond', 'keys', 'skew'];
  for (const [k, v] of Object.entries(parsed)) {
    if (!allowed.includes(k)) throw new UsageError(`--workload: unknown field ${JSON.stringify(k)} (known: ${allowed.join(', ')})`);
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (k !== 'skew' && !Number.isInteger(v)) || (k !== 'skew' && v === 0)) {
      throw new UsageError(`--workload.${k}: expected a ${k === 'skew' ? 'number >= 0' : 'positive integer'}, got ${JSON.stringify(v)}`);
    }
  }
  return parsed as Partial<WorkloadShape>;
}

export function registerSimulate(program: Command, context: CommandContext): void {
  program
    .command('simulate')
    .description("run an app's workload in the deterministic simulator under seeded faults; exit 1 on a violation")
    .argument('<app>', 'the app: a module, or a folder holding app.ts')
    .option('--seed <n>', 'root seed: the same seed gives the same run, byte for byte', integer('--seed'), 1)
    .option('--faults <plan>', 'none, default, swarm, a JSON file, or inline JSON (a partial fault plan)', 'default')
    .option('--workload <shape>', 'JSON file or inline JSON overriding the workload: {"events", "ratePerSecond", "keys", "skew"}')
    .option('--duration <duration>', 'simulated time of arrivals (sets events = rate x duration), like 30s or 10m', duration('--duration'))
    .option('--store <kind>', 'memory, or embedded: the embedded store on a simulated disk that loses power', 'memory')
    .option('--trace <file.parquet>', 'write every step of the run to a Parquet file (for DuckDB and spive inspect)')
    .option('--json', 'print one JSON object on stdout')
    .action(async (appSpec: string, options: SimulateCliOptions) => {
      const out = makeOutput(options.json === true, context.streams);
      const faults = parseFaults(options.faults);
      let workload = options.workload === undefined ? {} : parseWorkload(options.workload);
      const { app } = await loadApp(appSpec);
      if (app.workload === undefined) throw new UsageError(`<app>: app ${app.name} declares no workload; add \`workload: { make, ... }\` to defineApp to simulate it`);
      if (options.duration !== undefined) {
        const rate = workload.ratePerSecond ?? app.workload.ratePerSecond ?? 100;
        workload = { ...workload, events: Math.max(1, Math.round((rate * options.duration) / 1000)) };
      }
      if (options.trace !== undefined && !options.trace.endsWith('.parquet')) throw new UsageError(`--trace: expected a file name ending in .parquet, got ${JSON.stringify(options.trace)}`);
      out.progress(`simulating ${app.name} with seed ${options.seed}…`);
      if (options.store !== 'memory' && options.store !== 'embedded') throw new UsageError(`--store: expected memory or embedded, got ${JSON.stringify(options.store)}`);
      const store = options.store;
      let result = await simulate(app, { seed: options.seed, faults, workload, appSpec, wallClock: realClock, keepTrace: options.trace !== undefined, store });
      if (result.violations.length > 0 && options.trace === undefined && !options.json) {
        // Runs are deterministic: run it again keeping the trace, to show what led to the violation.
        out.progress('violation found; replaying the seed to show its history…');
        result = await simulate(app, { seed: options.seed, faults, workload, appSpec, wallClock: realClock, keepTrace: true, store });
      }
      if (options.trace !== undefined) await result.trace.writeParquet(options.trace);
      out.result(toJson(result));
      report(out, result, options.trace);
      if (result.violations.length > 0) context.exitCode = EXIT_FOUND_PROBLEM;
    });
}

export function toJson(r: SimulationResult) {
  return {
    seed: r.seed,
    traceHash: r.traceHash,
    events: r.events,
    steps: r.steps,
    simulatedMs: r.simulatedMs,
    wallMs: r.wallMs,
    faults: r.faults,
    violations: r.violations,
    repro: r.repro,
    plan: r.plan,
  };
}

function report(out: Output, r: SimulationResult, trace: string | undefined): void {
  const faults = Object.entries(r.faults).map(([k, n]) => `${k} ${n}`).join(', ') || 'none';
  const speed = r.wallMs > 0 ? ` (${Math.round(r.simulatedMs / r.wallMs)}x real time)` : '';
  out.line(`seed ${r.seed}: ${r.events} platform events, ${r.steps} steps, ${(r.simulatedMs / 1000).toFixed(1)} s simulated in ${r.wallMs} ms${speed}`);
  out.line(`faults: ${faults}`);
  out.line(`trace hash ${r.traceHash}${trace === undefined ? '' : ` (trace written to ${trace})`}`);
  if (r.violations.length === 0) {
    out.line('no violations');
    return;
  }
  const first = r.violations[0];
  out.line('');
  out.line(`VIOLATION of "${first?.invariant}" at step ${first?.step} (${((first?.simulatedMs ?? 0) / 1000).toFixed(3)} s simulated):`);
  out.line(`  ${first?.message}`);
  if (r.violations.length > 1) out.line(`  (+${r.violations.length - 1} more: ${[...new Set(r.violations.slice(1).map((v) => v.invariant))].join(', ')})`);
  const history = recentHistory(r, first?.step ?? 0, first?.message ?? '', 14);
  if (history.length > 0) {
    out.line('');
    out.line('what happened just before (step, simulated s, what, who, where):');
    for (const line of history) out.line(`  ${line}`);
  }
  out.line('');
  out.line('reproduce with:');
  out.line(`  ${r.repro}${trace === undefined ? ' --trace run.parquet' : ''}`);
}

/**
 * The recent causal history of a violation: the last `n` happenings up to `step` that involve what
 * the violation names (a shard key, a runner, a stream) or that change the platform's course (faults,
 * runner restarts and fencing, leases, snapshots).
 */
function recentHistory(r: SimulationResult, step: number, message: string, n: number): string[] {
  const t = r.trace;
  const named = new Set((message.match(/[A-Za-z][\w.-]*(?:#\d+)?/g) ?? []).filter((w) => /\d|-/.test(w)));
  const hosts = new Set([...named].map((w) => w.replace(/#\d+$/, '')));
  const host = (i: number) => (t.actors[i] as string).replace(/#\d+$/, '');
  // First what the named runners did and what changed the platform's course; then the named shards.
  const tiers = [
    (i: number) => hosts.has(host(i)) || /^(runner|lease|snapshot|gateway)\./.test(t.kinds[i] as string),
    (i: number) => named.has(t.keys[i] as string),
  ];
  const picked = new Set<number>();
  for (const tier of tiers) {
    for (let i = t.steps.length - 1; i >= 0 && picked.size < n; i--) {
      if ((t.steps[i] as number) > step || t.kinds[i] === 'step' || t.kinds[i] === 'violation') continue;
      if (tier(i)) picked.add(i);
    }
  }
  return [...picked].sort((a, b) => a - b).map((i) => {
    const where = t.streams[i] === '' ? '' : ` ${t.streams[i]}/${t.keys[i]}@${t.positions[i]}`;
    return `${t.steps[i]}  ${((t.times[i] as number) / 1000).toFixed(3)}  ${t.kinds[i]}  ${t.actors[i]}${where}  ${(t.details[i] as string).slice(0, 100)}`;
  });
}
