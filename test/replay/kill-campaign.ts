/**
 * SIGKILL of a real `spive replay` child process at random moments, shared by `npm test` (a few
 * kills) and `npm run soak` (many). One store is replayed without interruption (the reference); a
 * copy of the same store is replayed by children killed at seeded random moments — one in five
 * anywhere from the child's start (mostly during startup), the others at a random moment of the work
 * still left after the child's first write to the store (mid-shard, between shards, while the
 * downstream runs) — and finally by a child left to finish. The versioned streams of both must then be
 * equal, shard by shard, event by event (type, data, meta): nothing lost, nothing twice.
 */
import { spawn } from 'node:child_process';
import { cpSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EmbeddedStore, seededRandom, type EventStore } from 'spive';
import { countFromEnv } from '../store/embedded/crash-checks.ts';
import { readFork } from '../../src/replay/fork.ts';
import { runCli } from '../helpers/fake-streams.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { manyAccountInputs, writeBankStore } from './helpers.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const KILL_APP = 'test/replay/fixtures/bank-fixed-from-start.ts';
const STREAMS = ['ledger--fixed-0', 'balances--fixed-0'];

export interface KillCampaignReport {
  readonly kills: number;
  /** Fresh copies of the store the kills were spread over (a new one once a run got to the end). */
  readonly rounds: number;
  /** Rounds (before the last) whose result differed from the reference. */
  readonly mismatchedRounds: readonly number[];
  /** Kills that came after the child had completed shards and before it completed all (mid-way). */
  readonly killedMidway: number;
  /** Kills that left a shard partly written (continued by the next run). */
  readonly partialShards: number;
  readonly finalResult: { shards: number; resumedShards: number; eventsWritten: number };
  readonly referenceResult: { shards: number; eventsWritten: number };
  /** Versioned streams, per shard, as written by the interrupted runs and by the reference. */
  readonly victim: Record<string, unknown>;
  readonly reference: Record<string, unknown>;
  readonly referenceMs: number;
}

interface ChildRun {
  readonly code: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
  /** When the child first and last wrote to the store (ms after its start), if it did. */
  readonly firstWriteMs: number | undefined;
  readonly lastWriteMs: number | undefined;
}

/** When to kill: so many ms after the start, or after the child's first write to the store (its WAL grows). */
type KillAt = { readonly afterStartMs: number } | { readonly afterFirstWriteMs: number };

function walBytes(store: string): number {
  let n = 0;
  for (const f of readdirSync(`${store}/wal`)) n += statSync(`${store}/wal/${f}`).size;
  return n;
}

function runChild(plan: string, store: string, killAt?: KillAt): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['bin/spive.js', 'replay', '--plan', plan, '--store', store, '--json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    let timer: ReturnType<typeof setTimeout> | undefined;
    let firstWriteMs: number | undefined;
    if (killAt !== undefined && 'afterStartMs' in killAt) timer = setTimeout(() => child.kill('SIGKILL'), killAt.afterStartMs);
    let lastWriteMs: number | undefined;
    let size = walBytes(store);
    let poll: ReturnType<typeof setInterval> | undefined = setInterval(() => {
      const now = walBytes(store);
      if (now === size) return;
      size = now;
      lastWriteMs = Date.now() - started;
      if (firstWriteMs !== undefined) return;
      firstWriteMs = lastWriteMs;
      if (killAt !== undefined && 'afterFirstWriteMs' in killAt) timer = setTimeout(() => child.kill('SIGKILL'), killAt.afterFirstWriteMs);
    }, 5);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer !== undefined) clearTimeout(timer);
      if (poll !== undefined) clearInterval(poll);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started, firstWriteMs, lastWriteMs });
    });
  });
}

/** Every shard of the versioned streams: events as (type, data, meta), positions left out. */
async function versioned(dir: string): Promise<Record<string, unknown>> {
  const store = await EmbeddedStore.open(dir, { readOnly: true });
  try {
    const out: Record<string, unknown> = {};
    for (const stream of STREAMS) {
      for await (const batch of store.readStream(stream)) for (const e of batch) ((out[`${stream}/${e.key}`] ??= []) as unknown[]).push({ seq: e.seq, type: e.type, data: e.data, meta: e.meta });
    }
    return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
  } finally {
    await store.close();
  }
}

/** Complete and partial shards of the versioned streams (for the accounts the replay may touch). */
async function progressOf(dir: string, keys: readonly string[]): Promise<{ complete: number; partial: number }> {
  const store: EventStore = await EmbeddedStore.open(dir, { readOnly: true });
  try {
    let complete = 0;
    let partial = 0;
    for (const stream of STREAMS) {
      for (const key of keys) {
        const f = await readFork(store, stream, key);
        if (f === undefined) continue;
        if (f.complete) complete++;
        else partial++;
      }
    }
    return { complete, partial };
  } finally {
    await store.close();
  }
}

export async function replayKillCampaign(options: { kills: number; seed: number; events: number; accounts: number }): Promise<KillCampaignReport> {
  const dir = tempDir('spive-replay-kill-');
  try {
    const pristine = `${dir.path}/pristine`;
    await writeBankStore(pristine, manyAccountInputs(options.seed, options.events, options.accounts));
    const ref = `${dir.path}/reference`;
    cpSync(pristine, ref, { recursive: true });
    const plan = `${dir.path}/plan.json`;
    const planned = await runCli('replay-plan', '--store', ref, '--app', KILL_APP, '--process', 'ledger', '--out', plan, '--json');
    if (planned.code !== 0) throw new Error(`replay-plan failed: ${planned.stderr}`);
    const keys = (JSON.parse(planned.stdout).tasks as Array<{ key: string }>).map((t) => t.key);

    const reference = await runChild(plan, ref);
    if (reference.code !== 0) throw new Error(`reference replay failed (${reference.code}): ${reference.stderr}`);
    const total = (await progressOf(ref, keys)).complete;
    // The work window: from the reference child's first write to its last.
    const workMs = Math.max(50, (reference.lastWriteMs ?? reference.ms) - (reference.firstWriteMs ?? 0));

    const random = seededRandom(options.seed).stream('replay-kills');
    const expected = await versioned(ref);
    let killedMidway = 0;
    let partialShards = 0;
    let rounds = 0;
    const mismatches: number[] = [];
    let victim = `${dir.path}/victim-0`;
    cpSync(pristine, victim, { recursive: true });
    for (let i = 0; i < options.kills; i++) {
      const before = await progressOf(victim, keys);
      const left = 1 - before.complete / total;
      // One kill in five at any moment from the start (mostly during startup); the others while it writes.
      const killAt: KillAt = random.chance(0.2) ? { afterStartMs: Math.round(random.float() * reference.ms) } : { afterFirstWriteMs: Math.round(random.float() * left * workMs) };
      const run = await runChild(plan, victim, killAt);
      if (run.signal !== 'SIGKILL' && run.code !== 0) throw new Error(`replay child failed (${run.code}): ${run.stderr}`);
      const after = await progressOf(victim, keys);
      if (after.partial > 0) partialShards++;
      if (after.complete > before.complete && after.complete < total) killedMidway++;
      if (after.complete === total && i < options.kills - 1) {
        // This round's replay got to the end despite the kills: check it, then start a new round on a fresh copy.
        const done = await runChild(plan, victim);
        if (done.code !== 0) throw new Error(`replay child failed (${done.code}): ${done.stderr}`);
        if (JSON.stringify(await versioned(victim)) !== JSON.stringify(expected)) mismatches.push(rounds);
        rounds++;
        victim = `${dir.path}/victim-${rounds}`;
        cpSync(pristine, victim, { recursive: true });
      }
    }
    const final = await runChild(plan, victim);
    if (final.code !== 0) throw new Error(`final replay failed (${final.code}): ${final.stderr}`);
    const finalResult = JSON.parse(final.stdout);
    const referenceResult = JSON.parse(reference.stdout);
    return {
      kills: options.kills,
      rounds: rounds + 1,
      mismatchedRounds: mismatches,
      killedMidway,
      partialShards,
      finalResult: { shards: finalResult.shards, resumedShards: finalResult.resumedShards, eventsWritten: finalResult.eventsWritten },
      referenceResult: { shards: referenceResult.shards, eventsWritten: referenceResult.eventsWritten },
      victim: await versioned(victim),
      reference: expected,
      referenceMs: reference.ms,
    };
  } finally {
    dir.cleanup();
  }
}

/** The campaign as a vitest suite (`npm test` runs a few kills, `npm run soak` many). */
export function replayKillSuite(kills: number, size: { events: number; accounts: number }, timeoutMs: number): void {
  describe(`spive replay killed ${kills} times`, () => {
    it('finishes with the same versioned streams as an uninterrupted run: nothing lost, nothing twice', async () => {
      const r = await replayKillCampaign({ kills, seed: countFromEnv('SPIVE_SEED', 1), ...size });
      console.log(`replay kills: ${r.kills} over ${r.rounds} rounds, mid-way ${r.killedMidway}, partial shards ${r.partialShards}, final run resumed ${r.finalResult.resumedShards} of ${r.finalResult.shards} shards, reference run ${r.referenceMs} ms`);
      expect(Object.keys(r.reference).length).toBeGreaterThan(size.accounts);
      expect(r.mismatchedRounds).toEqual([]);
      expect(r.victim).toEqual(r.reference);
      expect(r.finalResult.shards).toBe(r.referenceResult.shards);
      // Kills must have landed while the replay was working, not only before or after it.
      if (kills > 0) expect(r.killedMidway).toBeGreaterThan(0);
    }, timeoutMs);
  });
}
