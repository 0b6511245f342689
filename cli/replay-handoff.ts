/**
 * `spive replay` on a store that `spive run` holds: the plan goes to the running instance
 * (cli/replay-service.ts), which executes it on its open store while it keeps serving; this side
 * shows its progress and returns its result, so the command prints what it prints on its own.
 */
import type { ReplayProgress } from '../src/replay/types.ts';
import { realTimers } from '../src/time/timers.ts';
import { UsageError } from './exit-codes.ts';
import type { ReplayHooks, ReplayRequest, ReplayResult } from './replay-execution.ts';
import type { HandedReplay, ReplayState } from './replay-service.ts';

/** How often the running instance is asked how far the replay has got. */
const POLL_MS = 200;

export async function handOffReplay(endpoint: string, request: ReplayRequest, hooks: ReplayHooks, holder: string): Promise<ReplayResult> {
  const { workersFrom: _workersFrom, ...rest } = request;
  const body: HandedReplay = { request: rest };
  const started = await call(endpoint, '/replays', holder, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  if (started.status !== 202) throw refused(started.body, holder);
  const id = (started.body as { id: string }).id;
  let lastStep: string | null = null;
  for (;;) {
    await realTimers.sleep(POLL_MS);
    const polled = await call(endpoint, `/replays/${encodeURIComponent(id)}`, holder, { method: 'GET' });
    if (polled.status !== 200) throw refused(polled.body, holder);
    const state = polled.body as ReplayState;
    if (state.state === 'done') return state.result;
    if (state.state === 'failed') {
      if (state.usage) throw new UsageError(`${state.error} (in ${holder})`);
      throw new Error(`the replay failed in ${holder}: ${state.error}`);
    }
    if (state.step !== null && state.step !== lastStep) hooks.step((lastStep = state.step));
    if (state.progress !== null) hooks.progress(state.progress as ReplayProgress);
  }
}

async function call(endpoint: string, path: string, holder: string, init: RequestInit): Promise<{ status: number; body: unknown }> {
  let response: Response;
  try {
    response = await fetch(`${endpoint}${path}`, init);
  } catch (e) {
    throw new UsageError(`the store is held by ${holder} but its endpoint ${endpoint} does not answer: ${e instanceof Error ? e.message : String(e)}`);
  }
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) as unknown };
  } catch {
    throw new Error(`${holder} answered ${path} with ${response.status} and no JSON: ${text.slice(0, 200)}`);
  }
}

function refused(body: unknown, holder: string): Error {
  const error = (body as { error?: unknown } | null)?.error;
  return new UsageError(`${holder} refused the replay: ${typeof error === 'string' ? error : JSON.stringify(body)}`);
}
