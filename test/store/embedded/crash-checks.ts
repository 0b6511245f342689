/**
 * Crash checks of the embedded store, shared by `npm test` (a sample) and `npm run soak` (the full
 * campaign): power cuts on the simulated disk, and SIGKILL of a real writer process.
 * `powerLossRun` and `killCampaign` return reports whose `violations` list is empty when the store
 * kept its promises; `powerLossSuite` and `killSuite` wrap them as vitest suites.
 *
 * Reproduce one power-loss seed: `SPIVE_SEED=437 SPIVE_POWER_CUTS=1 npx vitest run test/store/embedded/power-loss.test.ts`.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  ALL_SHARDS,
  EmbeddedStore,
  ManualClock,
  isFenced,
  isLeaseHeld,
  seededRandom,
  type AppendResult,
  type EmbeddedStoreOptions,
  type Lease,
  type Random,
} from 'spive';
import { SimDisk, type SimDiskOptions } from '../../../sim/disk.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import {
  T0,
  checkStore,
  eventsHash,
  fingerprint,
  makeBatch,
  parseBatchId,
  type BatchSpec,
  type Expectation,
  type Placement,
} from './crash-workload.ts';
import { settle } from '../../helpers/async.ts';

/** How many power cuts / kills to run: the env var, else the default (npm test's sample). */
export function countFromEnv(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(text)}`);
  return n;
}

// ====================================================================== power loss

export interface PowerLossReport {
  readonly seed: number;
  /** Disk operation (or, with `cutOnWrite`, write) after which power was cut ('end' when the workload finished first). */
  readonly cutAt: number | 'end';
  readonly cutOnWrite: boolean;
  /** The cut came while `EmbeddedStore.open` was still running. */
  readonly cutDuringOpen: boolean;
  /** Power failed again while the first open after the cut was recovering. */
  readonly cutDuringRecovery: boolean;
  readonly segmentBytes: number | undefined;
  readonly submitted: number;
  readonly acked: number;
  /** Batches found after the cut (acknowledged ones plus unacknowledged ones that made it whole). */
  readonly present: number;
  readonly unackedPresent: number;
  readonly unackedAbsent: number;
  readonly walSegments: number;
  /** Warnings of the first open after the cut (a torn tail is reported here). */
  readonly recoveryWarnings: readonly string[];
  readonly violations: string[];
}

const STORE_DIR = '/data/store';
const LEASED = 'leased';
const NO_EXPIRY = 1_000_000_000;

interface Submitted {
  readonly spec: BatchSpec;
  result?: AppendResult;
}

/**
 * One power-loss run: a random workload (appends to several shards, many concurrent so that group
 * commit groups them, a lease and appends under it, snapshots, occasional seals) on a fresh SimDisk;
 * power is cut after a random disk operation (possibly inside `open`, usually with appends in
 * flight); the store is reopened on what survived and checked; then power is cut again right after
 * recovery and the store must look the same; then it must take new appends, and a clean reopen must
 * show everything.
 */
export async function powerLossRun(seed: number): Promise<PowerLossReport> {
  const root = seededRandom(seed);
  const plan = root.stream('plan');
  const work = root.stream('workload');
  const violations: string[] = [];
  const diskOptions: Partial<SimDiskOptions> = {
    unsyncedWritesSurvive: plan.pick([0.3, 0.7, 1]),
    tornWrite: plan.pick([0.3, 0.7, 1]),
    unsyncedNamesSurvive: plan.pick([0, 0.5, 1]),
    maxYields: plan.int(0, 4),
  };
  const disk = new SimDisk(root.stream('disk'), diskOptions);
  const segmentBytes = plan.pick([4096, 4096, 16384, undefined]);
  const clock = new ManualClock(T0);
  const base: EmbeddedStoreOptions = {
    fs: disk,
    lock: false,
    parquet: false,
    clock,
    segmentBytes,
    autoSeal: plan.chance(0.75),
  };
  // Where power fails: inside open in one run of ten; otherwise after a random disk operation, or
  // (half the time) right after a random write, before its sync: the moment that tears.
  const cutOnWrite = plan.chance(0.5);
  const cutAt = plan.chance(0.1) ? plan.int(1, 20) : cutOnWrite ? plan.int(1, 200) : plan.int(1, 700);
  const cutRandom = root.stream('cut');
  let cut: SimDisk | undefined;
  let opened = false;
  let cutDuringOpen = false;
  let writes = 0;
  disk.afterOperation = (op, count) => {
    if (op === 'write') writes++;
    if ((cutOnWrite ? op === 'write' && writes === cutAt : count === cutAt) && cut === undefined) {
      cut = disk.powerCut(cutRandom);
      cutDuringOpen = !opened;
    }
  };

  const batches = new Map<string, Submitted>();
  const snapshots: Array<{ shard: string; position: number; data: Uint8Array; acked: boolean }> = [];
  let lease: Lease | undefined;
  let leaseRequested = false;
  let leaseAcked = false;
  let next = 0;

  const store = await EmbeddedStore.open(STORE_DIR, { ...base, warn: () => undefined });
  opened = true;

  const inflight = new Set<Promise<void>>();
  const launch = <T>(what: string, p: Promise<T>, onAck: (value: T) => void): void => {
    const q = p.then(
      (value) => {
        if (cut === undefined) onAck(value);
      },
      (error: unknown) => {
        violations.push(`${what} failed (no fault was injected into the old store's disk): ${String(error)}`);
      },
    );
    inflight.add(q);
    void q.then(() => inflight.delete(q));
  };
  const appendBatch = (stream?: string): void => {
    const spec = makeBatch(seed, 0, next++, stream);
    const entry: Submitted = { spec };
    batches.set(spec.id, entry);
    const options = stream === LEASED && lease !== undefined ? { token: lease.token } : undefined;
    launch(`append ${spec.id}`, store.append(spec.stream, spec.key, spec.events, options), (r) => (entry.result = r));
  };
  const randomOp = (): void => {
    const roll = work.float();
    if (roll < 0.75) {
      appendBatch();
    } else if (roll < 0.85) {
      if (!leaseRequested) {
        leaseRequested = true;
        launch('acquireLease', store.acquireLease({ stream: LEASED, range: ALL_SHARDS, owner: 'writer-1', ttlMs: NO_EXPIRY }), (l) => {
          lease = l;
          leaseAcked = true;
        });
      } else if (lease !== undefined) {
        if (work.chance(0.3)) launch('renewLease', store.renewLease(lease, NO_EXPIRY), () => undefined);
        else appendBatch(LEASED);
      } else {
        appendBatch();
      }
    } else if (roll < 0.95) {
      const snapshot = { shard: `s${snapshots.length}`, position: work.int(0, 1000), data: randomBytes(work, work.int(0, 300)), acked: false };
      snapshots.push(snapshot);
      launch(
        'putSnapshot',
        store.putSnapshot({ process: 'proc', version: 'v1', shard: snapshot.shard, position: snapshot.position, time: T0, data: snapshot.data }),
        () => (snapshot.acked = true),
      );
    } else {
      launch('seal', store.seal(), () => undefined);
    }
  };

  for (let step = 0; step < 150 && cut === undefined; step++) {
    const ops = work.int(1, 5);
    for (let j = 0; j < ops && cut === undefined; j++) randomOp();
    const pause = work.int(0, 2);
    if (pause === 0 || inflight.size === 0) await Promise.all(inflight);
    else if (pause === 1) await Promise.race(inflight);
    else for (let t = work.int(0, 12); t > 0; t--) await Promise.resolve();
  }
  const endedFirst = cut === undefined;
  if (endedFirst) {
    await Promise.all(inflight);
    cut = disk.powerCut(cutRandom);
  }
  // The old store keeps running on the old disk until its work drains; then it is abandoned unclosed.
  while (inflight.size > 0) await Promise.all(inflight);
  disk.afterOperation = undefined;
  const afterCut = cut as SimDisk;

  const acked = new Map<string, Placement>();
  for (const [id, b] of batches) if (b.result !== undefined) acked.set(id, b.result);
  const expectation: Expectation = { batch: (id) => batches.get(id)?.spec, acked };

  // ---- first open after the cut: recovery. In some runs power fails again *during* it (say, between
  // truncating a torn tail and syncing that); what that leaves must recover just as well.
  const recoveryCutAt = plan.chance(0.3) ? plan.int(1, 12) : 0;
  let duringRecovery: SimDisk | undefined;
  afterCut.afterOperation = (_op, count) => {
    if (count === recoveryCutAt && duringRecovery === undefined) duringRecovery = afterCut.powerCut(root.stream('recovery-cut'));
  };
  const recoveryWarnings: string[] = [];
  let first: EmbeddedStore;
  try {
    first = await EmbeddedStore.open(STORE_DIR, { ...base, fs: afterCut, warn: (m) => recoveryWarnings.push(m) });
  } catch (e) {
    violations.push(`open after the power cut failed: ${String(e)}`);
    return report();
  }
  afterCut.afterOperation = undefined;
  const check = await checkStore(first, expectation);
  violations.push(...check.violations);
  const cutDuringRecovery = duringRecovery !== undefined;
  if (duringRecovery !== undefined) {
    try {
      const store = await EmbeddedStore.open(STORE_DIR, { ...base, fs: duringRecovery, warn: () => undefined });
      violations.push(...(await checkStore(store, expectation)).violations.map((v) => `after a second cut during recovery: ${v}`));
      await store.close();
    } catch (e) {
      violations.push(`open after a second cut during recovery failed: ${String(e)}`);
    }
  }
  for (const s of snapshots) {
    const got = await first.getSnapshot({ process: 'proc', version: 'v1', shard: s.shard });
    if (s.acked && got === undefined) violations.push(`acknowledged snapshot ${s.shard} is missing`);
    if (got !== undefined && (got.position !== s.position || Buffer.compare(got.data, s.data) !== 0)) {
      violations.push(`snapshot ${s.shard} came back different`);
    }
  }
  for (const info of await first.listSnapshots()) {
    if (!snapshots.some((s) => s.shard === info.shard)) violations.push(`snapshot ${info.shard} was never put`);
  }
  const recovered = await fingerprint(first);

  // ---- power fails again right after recovery: recovery's own writes must have been durable
  const again = afterCut.powerCut(root.stream('second-cut'));
  const secondWarnings: string[] = [];
  let second: EmbeddedStore;
  try {
    second = await EmbeddedStore.open(STORE_DIR, { ...base, fs: again, warn: (m) => secondWarnings.push(m) });
  } catch (e) {
    violations.push(`second open (power cut right after recovery) failed: ${String(e)}`);
    return report();
  }
  const openWarnings = [...secondWarnings];
  if (openWarnings.length > 0) violations.push(`second open warned again (recovery was not durable): ${openWarnings.join('; ')}`);
  if ((await fingerprint(second)) !== recovered) violations.push('second open after recovery shows different contents');

  // ---- the store takes new appends, under the lease too, and a clean reopen shows them
  const more = new Map<string, BatchSpec>();
  for (let k = 0; k < 3; k++) {
    const spec = makeBatch(seed, 1, k);
    more.set(spec.id, spec);
    const head = await second.head(spec.stream, spec.key);
    const stats = await second.stats();
    const r = await settle(second.append(spec.stream, spec.key, spec.events, { expect: { lastSeq: head.lastSeq } }));
    if (!r.ok) {
      violations.push(`append after recovery failed: ${String(r.error)}`);
      continue;
    }
    acked.set(spec.id, r.value);
    if (r.value.firstSeq !== head.lastSeq + 1 || r.value.firstPosition !== stats.lastPosition + 1) {
      violations.push(`append after recovery landed at seq ${r.value.firstSeq} position ${r.value.firstPosition}, expected ${head.lastSeq + 1} / ${stats.lastPosition + 1}`);
    }
  }
  if (leaseAcked && lease !== undefined) {
    const unfenced = await settle(second.append(LEASED, 'a', [{ type: 'X', time: T0, data: null }]));
    if (unfenced.ok || !isFenced(unfenced.error)) violations.push('an append without the token went through an acknowledged lease');
    const spec = makeBatch(seed, 1, 3, LEASED);
    more.set(spec.id, spec);
    const r = await settle(second.append(spec.stream, spec.key, spec.events, { token: lease.token }));
    if (r.ok) acked.set(spec.id, r.value);
    else violations.push(`append with the acknowledged lease token failed after recovery: ${String(r.error)}`);
  }
  if (leaseAcked && lease !== undefined) {
    // The acknowledged grant survived: another owner is refused, or (should a store ever expire
    // leases on open) gets a newer token, so the old holder stays fenced. A lost grant would hand
    // out its token again.
    const other = await settle(second.acquireLease({ stream: LEASED, range: ALL_SHARDS, owner: 'writer-2', ttlMs: 1000 }));
    if (other.ok ? other.value.token <= lease.token : !isLeaseHeld(other.error)) {
      violations.push(`an acknowledged lease (token ${lease.token}) was lost: another owner got ${other.ok ? `token ${other.value.token}` : String(other.error)}`);
    }
  }
  await second.close();
  const third = await EmbeddedStore.open(STORE_DIR, { ...base, fs: again, warn: (m) => violations.push(`clean reopen warned: ${m}`) });
  const final = await checkStore(third, { batch: (id) => batches.get(id)?.spec ?? more.get(id), acked });
  violations.push(...final.violations.map((v) => `after new appends and a clean reopen: ${v}`));
  await third.close();
  return report(check.present, cutDuringRecovery);

  function report(present = new Set<string>(), cutDuringRecovery = false): PowerLossReport {
    let unackedPresent = 0;
    for (const id of present) if (!batches.get(id)?.result) unackedPresent++;
    return {
      seed,
      cutAt: endedFirst ? 'end' : cutAt,
      cutOnWrite,
      cutDuringOpen,
      cutDuringRecovery,
      segmentBytes,
      submitted: batches.size,
      acked: [...batches.values()].filter((b) => b.result !== undefined).length,
      present: present.size,
      unackedPresent,
      unackedAbsent: [...batches.values()].filter((b) => b.result === undefined && !present.has(b.spec.id)).length,
      walSegments: afterCut.files().filter((f) => f.startsWith(`${STORE_DIR}/wal/`)).length,
      recoveryWarnings,
      violations,
    };
  }
}

function randomBytes(random: Random, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = random.int(0, 255);
  return out;
}


// ====================================================================== SIGKILL

const CHILD = fileURLToPath(new URL('./fixtures/append-child.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface KillReport {
  readonly run: number;
  readonly pid: number;
  /** The child was killed after this many acknowledgements had been read (0: right after it opened). */
  readonly killAfterAcks: number;
  /** Acknowledgements the child printed before it died (read to the end of its stdout). */
  readonly acked: number;
  readonly present: number;
  readonly events: number;
  readonly unackedPresent: number;
  /** Warnings the child printed: a taken-over stale lock, a truncated torn tail. */
  readonly childWarnings: readonly string[];
  readonly violations: string[];
}

interface ChildLine {
  ready?: boolean;
  pid?: number;
  warn?: string;
  ack?: string;
  firstSeq?: number;
  firstPosition?: number;
  count?: number;
  hash?: string;
}

/**
 * Runs `kills` writer processes one after another on the store in `dir`, SIGKILLing each at a
 * seeded random point, and checks the store after each kill: every acknowledged batch (of every run
 * so far) present exactly once, at its acknowledged place, nothing partial. Between kills the store
 * is checked read-only, so the next writer finds the dead writer's lock and must take it over.
 * Finally the test process itself takes the store over, appends and closes.
 */
export async function killCampaign(options: { dir: string; seed: number; kills: number; onReport?: (r: KillReport) => void }): Promise<KillReport[]> {
  const { dir, seed, kills } = options;
  const plan = seededRandom(seed).stream('kills');
  const acked = new Map<string, Placement>();
  const expectation: Expectation = {
    batch(id) {
      const parsed = parseBatchId(id);
      return parsed === undefined || parsed.run >= kills + 1 ? undefined : makeBatch(seed, parsed.run, parsed.index);
    },
    acked,
  };
  const reports: KillReport[] = [];
  let previousPid: number | undefined;
  for (let run = 0; run < kills; run++) {
    const violations: string[] = [];
    const killAfterAcks = plan.chance(0.1) ? 0 : plan.int(1, 150);
    const segmentBytes = plan.pick([4096, 16384, 1 << 20]);
    const child = await runChild({ dir, seed, run, segmentBytes, killAfterAcks });
    violations.push(...child.problems);
    let newAcks = 0;
    for (const line of child.lines) {
      if (line.ack === undefined) continue;
      newAcks++;
      const spec = expectation.batch(line.ack);
      if (spec === undefined) {
        violations.push(`child acknowledged unknown batch ${line.ack}`);
        continue;
      }
      if (line.hash !== eventsHash(spec.events) || line.count !== spec.events.length) {
        violations.push(`child's batch ${line.ack} differs from the regenerated one (generator mismatch)`);
      }
      acked.set(line.ack, { firstSeq: line.firstSeq ?? -1, firstPosition: line.firstPosition ?? -1 });
    }
    const childWarnings = child.lines.flatMap((l) => (l.warn === undefined ? [] : [l.warn]));
    if (previousPid !== undefined && !childWarnings.some((w) => w.includes('taking over stale lock') && w.includes(`pid ${previousPid}`))) {
      violations.push(`run ${run} did not report taking over the stale lock of pid ${previousPid}: ${JSON.stringify(childWarnings)}`);
    }
    // The dead writer's lock stays behind, naming it.
    let lockPid: number | undefined;
    try {
      lockPid = (JSON.parse(readFileSync(`${dir}/LOCK`, 'utf8')) as { pid?: number }).pid;
    } catch (e) {
      violations.push(`no readable LOCK after the kill: ${String(e)}`);
    }
    if (lockPid !== undefined && lockPid !== child.pid) violations.push(`LOCK names pid ${lockPid}, the killed child was ${child.pid}`);

    const reader = await EmbeddedStore.open(dir, { readOnly: true, warn: () => undefined });
    const check = await checkStore(reader, expectation);
    await reader.close();
    violations.push(...check.violations);
    let unackedPresent = 0;
    for (const id of check.present) if (!acked.has(id)) unackedPresent++;
    const report: KillReport = {
      run,
      pid: child.pid,
      killAfterAcks,
      acked: newAcks,
      present: check.present.size,
      events: check.events,
      unackedPresent,
      childWarnings,
      violations,
    };
    reports.push(report);
    options.onReport?.(report);
    previousPid = child.pid;
  }

  // Take the store over from the last dead writer, append, close: the lock must be gone afterwards.
  const violations: string[] = [];
  const warnings: string[] = [];
  const store = await EmbeddedStore.open(dir, { warn: (m) => warnings.push(m) });
  if (previousPid !== undefined && !warnings.some((w) => w.includes(`pid ${previousPid}`))) violations.push(`final open did not take over the stale lock: ${JSON.stringify(warnings)}`);
  const spec = makeBatch(seed, kills, 0);
  const r = await store.append(spec.stream, spec.key, spec.events);
  acked.set(spec.id, r);
  await store.close();
  const reader = await EmbeddedStore.open(dir, { readOnly: true, warn: () => undefined });
  const check = await checkStore(reader, expectation);
  await reader.close();
  violations.push(...check.violations);
  const lockLeft = (() => {
    try {
      readFileSync(`${dir}/LOCK`);
      return true;
    } catch {
      return false;
    }
  })();
  if (lockLeft) violations.push('LOCK is still there after a clean close');
  const final: KillReport = {
    run: kills,
    pid: process.pid,
    killAfterAcks: -1,
    acked: 1,
    present: check.present.size,
    events: check.events,
    unackedPresent: 0,
    childWarnings: warnings,
    violations,
  };
  reports.push(final);
  options.onReport?.(final);
  return reports;
}

interface ChildResult {
  readonly pid: number;
  readonly lines: ChildLine[];
  readonly problems: string[];
}

/** Starts one writer, reads its lines as they come, SIGKILLs it after `killAfterAcks` acknowledgements. */
function runChild(o: { dir: string; seed: number; run: number; segmentBytes: number; killAfterAcks: number }): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, o.dir, String(o.seed), String(o.run), String(o.segmentBytes)], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: ChildLine[] = [];
    const problems: string[] = [];
    let stderr = '';
    let acks = 0;
    let killed = false;
    const kill = () => {
      if (!killed) {
        killed = true;
        child.kill('SIGKILL');
      }
    };
    // A writer that neither acknowledges nor dies is a failure, not a hang.
    const watchdog = setTimeout(() => {
      problems.push(`child run ${o.run} made no progress for 20 s (acks so far: ${acks}); stderr: ${stderr.slice(-2000)}`);
      kill();
    }, 20_000);
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const rl = createInterface({ input: child.stdout });
    rl.on('line', (text) => {
      let line: ChildLine;
      try {
        line = JSON.parse(text) as ChildLine;
      } catch {
        return; // only the very last line can be cut short by the kill
      }
      lines.push(line);
      if (line.ready === true && o.killAfterAcks === 0) kill();
      if (line.ack !== undefined && ++acks >= o.killAfterAcks) kill();
    });
    child.on('error', reject);
    // 'close' comes after the exit *and* the end of stdout/stderr, so every line printed is read.
    child.on('close', (code, signal) => {
      clearTimeout(watchdog);
      if (!killed || signal !== 'SIGKILL') {
        problems.push(`child run ${o.run} exited by itself (code ${code}, signal ${signal}); stderr: ${stderr.slice(-2000)}`);
      }
      if (!lines.some((l) => l.ready === true)) problems.push(`child run ${o.run} never opened the store; stderr: ${stderr.slice(-2000)}`);
      resolve({ pid: child.pid ?? -1, lines, problems });
    });
  });
}

// ====================================================================== suites

/** `cuts` power-loss runs, one test per seed (seeds from `SPIVE_SEED`, default 1), plus a coverage check. */
export function powerLossSuite(cuts: number, firstSeed = countFromEnv('SPIVE_SEED', 1)): void {
  const reports: PowerLossReport[] = [];
  describe(`embedded store: ${cuts} power cuts (seeds ${firstSeed}..${firstSeed + cuts - 1})`, () => {
    for (let seed = firstSeed; seed < firstSeed + cuts; seed++) {
      it(`seed ${seed}`, async () => {
        const r = await powerLossRun(seed);
        reports.push(r);
        expect(r.violations, `seed ${seed} (cut after disk ${r.cutOnWrite ? 'write' : 'operation'} ${r.cutAt})`).toEqual([]);
        expect(r.present).toBeGreaterThanOrEqual(r.acked);
        expect(r.present + r.unackedAbsent).toBe(r.submitted);
      });
    }

    // The seeds must actually reach the interesting cases, or passing proves little.
    it.runIf(cuts >= 50)('the cuts covered open, in-flight appends, torn tails and segment rotation', () => {
      expect(reports.length).toBe(cuts);
      const count = (f: (r: PowerLossReport) => boolean) => reports.filter(f).length;
      expect(count((r) => r.cutDuringOpen)).toBeGreaterThan(0);
      expect(count((r) => r.cutDuringRecovery)).toBeGreaterThan(0);
      expect(count((r) => r.cutAt !== 'end' && r.acked > 0 && r.acked < r.submitted)).toBeGreaterThan(cuts / 10);
      expect(count((r) => r.unackedPresent > 0)).toBeGreaterThan(0);
      expect(count((r) => r.unackedAbsent > 0)).toBeGreaterThan(0);
      expect(count((r) => r.recoveryWarnings.some((w) => w.includes('torn tail')))).toBeGreaterThan(0);
      expect(count((r) => r.walSegments > 1)).toBeGreaterThan(0);
    });
  });
}

/** One campaign of `kills` SIGKILLs on one store (seed from `SPIVE_SEED`, default 1). */
export function killSuite(kills: number, seed = countFromEnv('SPIVE_SEED', 1)): void {
  describe(`embedded store: ${kills} SIGKILLs of a writer process`, () => {
    it(
      `keeps every acknowledged batch across ${kills} kills (seed ${seed})`,
      async () => {
        const dir = tempDir('spive-kill-');
        try {
          const reports: KillReport[] = [];
          await killCampaign({
            dir: dir.path,
            seed,
            kills,
            onReport: (r) => {
              reports.push(r);
              // Fail at the first kill that broke something, naming it.
              expect(r.violations, `run ${r.run} (pid ${r.pid}, killed after ${r.killAfterAcks} acks)`).toEqual([]);
            },
          });
          expect(reports).toHaveLength(kills + 1);
          const runs = reports.slice(0, kills);
          // After each kill the store holds at least everything acknowledged so far.
          let ackedSoFar = 0;
          for (const r of runs) {
            ackedSoFar += r.acked;
            expect(r.present, `run ${r.run}`).toBeGreaterThanOrEqual(ackedSoFar);
          }
          expect(ackedSoFar).toBeGreaterThan(kills);
          // Each writer after the first found a dead writer's lock and took it over.
          for (const r of runs.slice(1)) expect(r.childWarnings.some((w) => w.includes('taking over stale lock')), `run ${r.run}`).toBe(true);
          const final = reports[kills] as KillReport;
          expect(final.present).toBe((runs[kills - 1]?.present ?? 0) + 1);
        } finally {
          dir.cleanup();
        }
      },
      Math.max(60_000, kills * 6_000),
    );
  });
}
