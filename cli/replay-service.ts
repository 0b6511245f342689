/**
 * `spive run` executes replay plans handed to it (`spive replay` on a store it holds: DESIGN.md, "Who
 * writes the embedded store"). The running instance is the store's one writer, so the replay runs
 * here, on the open store, while the old version's runners keep serving and appending; `spive
 * replay` follows it through the local endpoint:
 *
 *   POST /replays        {request}: starts it; 202 {id}; 400 for a bad request; 409 while one runs
 *   GET  /replays/<id>   {state: 'running', progress, step} | {state: 'done', result} |
 *                        {state: 'failed', error, usage}
 *
 * One replay at a time: two would compete for the same versioned streams. A request with `switchOver`
 * goes on, once the replay is done, to switch the running platform over to the new version
 * (src/runtime/switch-over.ts): the job's step says how far that has got.
 */
import { STRATEGY_NAMES, type StrategyName } from '../analyzer/types.ts';
import { isSpiveError } from '../src/model/errors.ts';
import { checkPlan } from '../src/replay/plan-file.ts';
import type { ReplayProgress } from '../src/replay/types.ts';
import type { LocalRoute } from '../src/runtime/ingress-server.ts';
import type { AnalyzedStore } from './analyzed-store.ts';
import { UsageError } from './exit-codes.ts';
import type { SwitchOverRequest, SwitchOverResult } from '../src/runtime/switch-over.ts';
import { executeReplay, loadPlannedApp, type ReplayRequest, type ReplayResult } from './replay-execution.ts';

/** What `spive replay` posts: its request, with the plan's content (the file is on its side). */
export interface HandedReplay {
  readonly request: Omit<ReplayRequest, 'plan' | 'workersFrom'> & { readonly plan: unknown };
}

export type ReplayState =
  | { readonly state: 'running'; readonly progress: ReplayProgress | null; readonly step: string | null }
  | { readonly state: 'done'; readonly result: ReplayResult }
  | { readonly state: 'failed'; readonly error: string; readonly usage: boolean };

interface Job {
  state: ReplayState;
}

/** Switches the running platform over (Platform.switchOver); absent where nothing runs the app. */
export type SwitchOver = (request: SwitchOverRequest) => Promise<SwitchOverResult>;

export function replayRoutes(analyzed: AnalyzedStore, executedBy: string, warn: (message: string) => void, switchOver?: SwitchOver): LocalRoute[] {
  const jobs = new Map<string, Job>();
  let running: string | undefined;
  let next = 1;
  const start: LocalRoute = {
    method: 'POST',
    path: /^\/replays$/,
    async handle(_match, body) {
      let request: ReplayRequest;
      try {
        request = parseRequest(body ?? '');
      } catch (e) {
        return { status: 400, body: { error: e instanceof Error ? e.message : String(e), usage: true } };
      }
      if (request.switchOver === true && switchOver === undefined) return { status: 400, body: { error: `${executedBy} cannot switch over (it runs no platform on this store)`, usage: true } };
      if (running !== undefined) return { status: 409, body: { error: `replay ${running} is still running in ${executedBy}; wait for it (GET /replays/${running})`, usage: true } };
      const id = String(next++);
      const job: Job = { state: { state: 'running', progress: null, step: null } };
      jobs.set(id, job);
      running = id;
      const setRunning = (progress: ReplayProgress | null, step: string | null) => {
        if (job.state.state === 'running') job.state = { state: 'running', progress: progress ?? job.state.progress, step: step ?? job.state.step };
      };
      const hooks = { progress: (p: ReplayProgress) => setRunning(p, null), step: (s: string) => setRunning(null, s), warn };
      const run = async (): Promise<ReplayResult> => {
        const loaded = await loadPlannedApp(request.plan, request.planPath);
        const result = await executeReplay(analyzed, request, hooks, executedBy, loaded);
        if (request.switchOver !== true || switchOver === undefined) return result;
        const { plan } = request;
        const switched = await switchOver({ app: loaded.app, appVersion: loaded.version, process: plan.process, generation: plan.change.toVersion, fromVersion: plan.change.fromVersion, since: plan.change.since, onStep: hooks.step });
        return { ...result, switchOver: switched };
      };
      run().then(
        (result) => {
          job.state = { state: 'done', result };
        },
        (e: unknown) => {
          const usage = e instanceof UsageError || isSpiveError(e);
          if (!usage) warn(`a handed-over replay failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
          job.state = { state: 'failed', error: e instanceof Error ? e.message : String(e), usage };
        },
      ).finally(() => {
        running = undefined;
      });
      return { status: 202, body: { id } };
    },
  };
  const status: LocalRoute = {
    method: 'GET',
    path: /^\/replays\/([^/]+)$/,
    async handle(match) {
      const job = jobs.get(match[1] as string);
      if (job === undefined) return { status: 404, body: { error: `no replay ${match[1]} here (replays: ${[...jobs.keys()].join(', ') || 'none'})` } };
      return { status: 200, body: job.state };
    },
  };
  return [start, status];
}

/** The posted request, every field checked (the plan as `checkPlan` checks a plan file). */
function parseRequest(body: string): ReplayRequest {
  let value: Partial<HandedReplay>;
  try {
    value = JSON.parse(body) as Partial<HandedReplay>;
  } catch (e) {
    throw new Error(`body: not JSON (${(e as Error).message})`);
  }
  const r = value.request;
  if (typeof r !== 'object' || r === null) throw new Error('body: expected {request: {plan, planPath, verify, effects, concurrency, workers}}');
  if (typeof r.planPath !== 'string') throw new Error('request.planPath: expected the plan file\'s path');
  const plan = checkPlan(r.plan, r.planPath);
  if (r.verify !== false && !(Number.isInteger(r.verify) && (r.verify as number) > 0)) throw new Error('request.verify: expected false or a positive number of shards');
  if (typeof r.effects !== 'boolean') throw new Error('request.effects: expected true or false');
  for (const field of ['concurrency', 'workers'] as const) if (!(Number.isInteger(r[field]) && r[field] > 0)) throw new Error(`request.${field}: expected a positive integer`);
  if (r.strategy !== undefined && !(STRATEGY_NAMES as readonly string[]).includes(r.strategy)) throw new Error(`request.strategy: expected one of ${STRATEGY_NAMES.join(', ')}`);
  if (r.switchOver !== undefined && typeof r.switchOver !== 'boolean') throw new Error('request.switchOver: expected true or false');
  return {
    plan,
    planPath: r.planPath,
    ...(r.strategy === undefined ? {} : { strategy: r.strategy as StrategyName }),
    verify: r.verify,
    effects: r.effects,
    concurrency: r.concurrency,
    workers: r.workers,
    ...(r.switchOver === true ? { switchOver: true } : {}),
  };
}
