/**
 * Distributed replay through PostgreSQL (src/store/postgres/replay-claims.ts): three OS processes
 * pull the shard tasks of one replay job from the store's replay_tasks table; one is killed (SIGKILL)
 * while it holds a claim; its claim lapses, another process takes the batch over, and the versioned
 * streams end up exactly as a single-process replay of the same job writes them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore, type EventStore } from 'spive';
import { runReplay } from '../../src/replay/engine.ts';
import type { ReplayJob } from '../../src/replay/types.ts';
import { PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { PostgresTaskClaims } from '../../src/store/postgres/replay-claims.ts';
import { realRandom } from '../../src/random/real-random.ts';
import { realClock } from '../../src/time/clock.ts';
import { realTimers } from '../../src/time/timers.ts';
import { canonical } from '../../src/util/json-equal.ts';
import { service } from '../helpers/services.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { dropSchema, freshSchema, storeUrl } from '../store/postgres/pg-test-db.ts';
import { bankVariant } from './fixtures/bank-variant.ts';
import { copyStore, inputsFor, runApp } from './helpers.ts';

const up = await service('postgres');
const WORKER = fileURLToPath(new URL('./fixtures/distributed-worker.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const N = 160;
const LIMIT_SINCE = 60;

let dir: ReturnType<typeof tempDir>;
const schemas: string[] = [];

/** The old history (bank, every ledger shard from scratch) in memory, the job, and the reference replay. */
async function history(): Promise<{ memory: MemoryStore; job: ReplayJob }> {
  const memory = new MemoryStore();
  const platform = await runApp(bankVariant({ ledgerVersion: 'old', limitSince: null, snapshotEvery: 15 }).app, memory, inputsFor(11, N), 'bank-v1');
  await platform.stop();
  const keys = new Set<string>();
  for await (const batch of memory.readStream('transfers')) for (const e of batch) keys.add(e.key);
  const job: ReplayJob = { process: 'ledger', fromVersion: 'old', toVersion: 'new', strategy: 'shards-from-scratch', tasks: [...keys].sort().map((key) => ({ key, mode: 'scratch' })), downstream: ['balances'] };
  return { memory, job };
}


async function written(store: EventStore, stream: string): Promise<string[]> {
  const out: string[] = [];
  // canonical: PostgreSQL's jsonb returns object keys in its own order.
  for await (const batch of store.readStream(stream)) for (const e of batch) out.push(canonical([e.key, e.seq, e.type, e.time, e.data, e.meta]));
  return out.sort();
}

function lines(child: ChildProcess, each: (line: Record<string, unknown>) => void): Promise<number | null> {
  let buffer = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.startsWith('{')) each(JSON.parse(line) as Record<string, unknown>);
    }
  });
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}

beforeAll(() => {
  dir = tempDir('spive-distributed-');
});

afterAll(async () => {
  dir.cleanup();
  for (const s of schemas) await dropSchema(s);
});

describe.skipIf(!up)('distributed replay through PostgreSQL', () => {
  it('three processes, one killed holding a claim, write what one replay writes', async () => {
    const { memory, job } = await history();
    const schema = freshSchema('dist');
    schemas.push(schema);
    const url = storeUrl(schema);
    const pg = await PostgresStore.open(url);
    try {
      await copyStore(memory, pg); // same positions: the job's numbering must hold on both
    } finally {
      await pg.close();
    }
    const app = bankVariant({ ledgerVersion: 'new', limitSince: LIMIT_SINCE, snapshotEvery: 15 }).app;
    const single = await runReplay({ store: memory, app, appVersion: 'bank-v2', job, clock: realClock });
    expect(single.eventsWritten).toBeGreaterThan(0);

    const jobFile = join(dir.path, 'job.json');
    writeFileSync(jobFile, JSON.stringify({ job, limitSince: LIMIT_SINCE }));
    const start = () => spawn(process.execPath, ['--import', 'tsx', WORKER, url, jobFile, 'test-job', '1500'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    // The victim starts alone and is killed the moment it holds its first batch (mid-task: nothing
    // of it marked done); the two survivors start after it died and must take that batch over.
    const victim = start();
    let killedHolding: unknown;
    const victimExit = lines(victim, (line) => {
      if (line.claimed !== undefined && killedHolding === undefined) {
        killedHolding = line.claimed;
        victim.kill('SIGKILL');
      }
    });
    const victimCode = await victimExit;
    const survivors = [start(), start()];
    const claimedBySurvivors: unknown[] = [];
    const finished: unknown[] = [];
    const exits = survivors.map((c) =>
      lines(c, (line) => {
        if (line.claimed !== undefined) claimedBySurvivors.push(...(line.claimed as unknown[]));
        if (line.done !== undefined) finished.push(line.done);
      }),
    );
    expect(victimCode).toBeNull(); // killed by a signal
    expect(await Promise.all(exits)).toEqual([0, 0]);
    expect(finished).toHaveLength(2);
    expect(Array.isArray(killedHolding) && (killedHolding as unknown[]).length).toBeGreaterThan(0);
    // The victim's batch was taken over by a survivor after its claim lapsed.
    for (const key of killedHolding as string[]) expect(claimedBySurvivors).toContain(key);

    const check = await PostgresStore.open(url);
    try {
      for (const stream of ['ledger--new', 'balances--new']) expect(await written(check, stream)).toEqual(await written(memory, stream));
    } finally {
      await check.close();
    }
  }, 120_000);

  it('claims are disjoint, lapse when not renewed, and end when every task is done', async () => {
    const schema = freshSchema('claims');
    schemas.push(schema);
    const url = storeUrl(schema);
    const open = (holdMs: number) => PostgresTaskClaims.open(url, { job: 'j', clock: realClock, timers: realTimers, random: realRandom(), holdMs, pollMs: 20 });
    const a = await open(60_000);
    const b = await open(300);
    try {
      const keys = Array.from({ length: 30 }, (_, i) => `k${String(i).padStart(2, '0')}`);
      await a.offer('p', keys);
      await b.offer('p', keys); // idempotent
      const [x, y] = await Promise.all([a.claim('p', 10), b.claim('p', 10)]);
      expect(x).toHaveLength(10);
      expect(y).toHaveLength(10);
      expect(new Set([...x, ...y]).size).toBe(20);
      await a.done('p', x);
      // b stops renewing (closed); its claims lapse and a takes them over with the rest.
      await b.close();
      const rest: string[] = [];
      for (let got = await a.claim('p', 100); got.length > 0; got = await a.claim('p', 100)) {
        rest.push(...got);
        await a.done('p', got);
      }
      expect([...x, ...rest].sort()).toEqual(keys);
      expect(await a.claim('p', 5)).toEqual([]);
    } finally {
      await a.close();
    }
  }, 60_000);
});
