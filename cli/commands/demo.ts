/**
 * `spive demo` (what `npm start` runs): a finite tour of the embedded event store on a fresh folder —
 * durable batched appends, conditional appends, leases with fencing, snapshots, recovery on reopen,
 * sealing into Arrow and Parquet, a typed-column scan and a DuckDB query. Later issues grow it into
 * simulate → plan → replay.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { isConflict, isFenced } from '../../src/model/errors.ts';
import { ALL_SHARDS } from '../../src/model/shard.ts';
import { seededRandom } from '../../src/random/random.ts';
import { EmbeddedStore } from '../../src/store/embedded/embedded-store.ts';
import { parseStoreLocation } from '../../src/store/open-store.ts';
import { realClock } from '../../src/time/clock.ts';
import { realTimers } from '../../src/time/timers.ts';
import { assert } from '../../src/util/assert.ts';
import { UsageError } from '../exit-codes.ts';
import type { CommandContext } from '../main.ts';
import { positiveInt } from '../options.ts';
import { makeOutput } from '../output.ts';

interface DemoOptions {
  store?: string;
  events: number;
  accounts: number;
  keep?: boolean;
  json?: boolean;
}

const T0 = Date.UTC(2026, 0, 1);

export function registerDemo(program: Command, context: CommandContext): void {
  program
    .command('demo')
    .description('a finite tour of Spive on a fresh embedded store (what `npm start` runs)')
    .option('--store <dir>', 'where to create the demo store (must not exist yet; default: a temporary folder)')
    .option('--events <n>', 'deposits to append', positiveInt('--events'), 200_000)
    .option('--accounts <n>', 'accounts (shards) to spread them over', positiveInt('--accounts'), 1_000)
    .option('--keep', 'keep the store afterwards (a --store folder is always kept)')
    .option('--json', 'print one JSON object with the figures on stdout')
    .action(async (options: DemoOptions) => {
      const out = makeOutput(options.json === true, context.streams);
      const summary = await runDemo(options, out);
      out.result(summary);
    });
}

async function runDemo(options: DemoOptions, out: ReturnType<typeof makeOutput>) {
  let dir: string;
  let removeAfter: boolean;
  if (options.store !== undefined) {
    const parsed = parseStoreLocation(options.store, '--store');
    if (parsed.kind !== 'embedded') throw new UsageError(`--store: the demo needs an embedded store folder, got ${JSON.stringify(options.store)}`);
    const { existsSync } = await import('node:fs');
    if (existsSync(parsed.dir)) throw new UsageError(`--store: ${parsed.dir} already exists; the demo needs a fresh folder`);
    dir = parsed.dir;
    removeAfter = false;
  } else {
    dir = mkdtempSync(join(tmpdir(), 'spive-demo-'));
    removeAfter = options.keep !== true;
  }
  const clock = realClock;
  const rng = seededRandom(42).stream('demo');
  const accounts = Array.from({ length: options.accounts }, (_, i) => `acct-${String(i).padStart(5, '0')}`);
  const expectedTotals = new Map<string, number>();

  out.line(`Spive demo: an embedded event store at ${dir}`);
  let store = await EmbeddedStore.open(dir, { command: 'spive demo', warn: out.warn });

  // 1. Durable batched appends: many batches in flight share each fsync (group commit).
  const batchSize = 100;
  const started = clock.monotonicMs();
  let appended = 0;
  let inFlight: Promise<unknown>[] = [];
  while (appended < options.events) {
    const key = rng.pick(accounts);
    const n = Math.min(batchSize, options.events - appended);
    const events = Array.from({ length: n }, (_, i) => {
      const amount = rng.int(1, 500);
      return { type: 'Deposited', time: T0 + (appended + i) * 1000, data: { amount, memo: `deposit ${appended + i}` } };
    });
    for (const e of events) expectedTotals.set(key, (expectedTotals.get(key) ?? 0) + e.data.amount);
    appended += n;
    inFlight.push(store.append('deposits', key, events));
    if (inFlight.length >= 64) {
      await Promise.all(inFlight);
      inFlight = [];
      out.progress(`appending: ${appended}/${options.events}`);
    }
  }
  await Promise.all(inFlight);
  const appendMs = clock.monotonicMs() - started;
  const appendRate = Math.round(options.events / (appendMs / 1000));
  out.line(`1. appended ${options.events} deposits to ${options.accounts} accounts in batches of ${batchSize}, each acknowledged after fsync: ${fmt(appendRate)} events/s`);

  // 2. Conditional append: only if the shard is where the writer thinks it is.
  const key = accounts[0] as string;
  const head = await store.head('deposits', key);
  await store.append('deposits', key, [{ type: 'Deposited', time: T0, data: { amount: 1, memo: 'conditional' } }], { expect: { lastSeq: head.lastSeq } });
  expectedTotals.set(key, (expectedTotals.get(key) ?? 0) + 1);
  let conflict = '';
  try {
    await store.append('deposits', key, [{ type: 'Deposited', time: T0, data: { amount: 1, memo: 'stale' } }], { expect: { lastSeq: head.lastSeq } });
  } catch (e) {
    if (!isConflict(e)) throw e;
    conflict = e.message;
  }
  assert(conflict !== '', 'a stale appendIf is rejected');
  out.line(`2. appendIf with the right lastSeq succeeded; a second one with the same (now stale) lastSeq was rejected:\n   CONFLICT ${conflict}`);

  // 3. Leases and fencing: a writer whose lease expired and was taken over is fenced.
  const first = await store.acquireLease({ stream: 'ledger', range: ALL_SHARDS, owner: 'runner-1', ttlMs: 100 });
  await store.append('ledger', key, [{ type: 'Credited', time: T0, data: { amount: 1 } }], { token: first.token });
  await realTimers.sleep(150);
  const second = await store.acquireLease({ stream: 'ledger', range: ALL_SHARDS, owner: 'runner-2', ttlMs: 60_000 });
  let fenced = '';
  try {
    await store.append('ledger', key, [{ type: 'Credited', time: T0, data: { amount: 1 } }], { token: first.token });
  } catch (e) {
    if (!isFenced(e)) throw e;
    fenced = e.message;
  }
  assert(fenced !== '', 'a stale writer is fenced');
  await store.releaseLease(second);
  out.line(`3. runner-1 held the ledger lease (token ${first.token}); after it expired runner-2 took over (token ${second.token}) and runner-1's next append was fenced:\n   FENCED ${fenced}`);

  // 4. Snapshots, tagged with the version that made them.
  const state = new TextEncoder().encode(JSON.stringify({ balance: expectedTotals.get(key) }));
  await store.putSnapshot({ process: 'balances', version: 'v1', shard: key, position: (await store.stats()).lastPosition, time: T0, data: state });
  out.line(`4. stored a snapshot of process 'balances' version v1 for ${key} (${state.byteLength} bytes)`);

  // 5. Recovery: close, reopen, and find everything where it was.
  await store.close();
  const reopenStarted = clock.monotonicMs();
  store = await EmbeddedStore.open(dir, { command: 'spive demo', warn: out.warn });
  const reopenMs = clock.monotonicMs() - reopenStarted;
  const stats = await store.stats();
  const snapshot = await store.getSnapshot({ process: 'balances', version: 'v1', shard: key });
  assert(snapshot !== undefined && JSON.parse(new TextDecoder().decode(snapshot.data)).balance === expectedTotals.get(key), 'the snapshot survives a reopen');
  out.line(`5. reopened the store in ${Math.round(reopenMs)} ms: ${stats.events} events, ${stats.snapshots} snapshot, every checksum verified`);

  // 6. Seal into columnar form: Arrow IPC for fast scans, Parquet for DuckDB.
  const sealStarted = clock.monotonicMs();
  await store.seal();
  const sealMs = clock.monotonicMs() - sealStarted;
  const scanStarted = clock.monotonicMs();
  const totals = new Float64Array(options.accounts);
  let scanned = 0;
  let keyIds: Map<string, number> | undefined;
  for await (const batch of store.scanColumns('deposits', { fields: ['amount'] })) {
    keyIds = new Map(accounts.map((a, i) => [a, i]));
    const ids = batch.keys.map((k) => keyIds?.get(k) ?? -1);
    const amount = batch.fields.amount as Float64Array;
    for (let i = 0; i < batch.length; i++) totals[ids[batch.keyIndex[i] as number] as number]! += amount[i] as number;
    scanned += batch.length;
  }
  const scanMs = Math.max(clock.monotonicMs() - scanStarted, 0.001);
  accounts.forEach((a, i) => assert(totals[i] === (expectedTotals.get(a) ?? 0), `scanned total of ${a} matches what was appended`));
  out.line(`6. sealed the log into Arrow + Parquet in ${Math.round(sealMs)} ms; a typed-column scan summed ${scanned} amounts in ${Math.round(scanMs)} ms (${fmt(Math.round(scanned / (scanMs / 1000)))} events/s), matching every account`);
  await store.close();

  // 7. The same history, queried with SQL by DuckDB straight from the Parquet files.
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const db = await DuckDBInstance.create(':memory:');
  const connection = await db.connect();
  let top: Array<[string, number]>;
  try {
    const glob = join(dir, 'parquet', '*', '*.parquet').replaceAll("'", "''");
    const reader = await connection.runAndReadAll(
      `SELECT key, sum(json_extract(data, '$.amount')::BIGINT) AS total FROM read_parquet('${glob}', hive_partitioning = true)
       WHERE stream = 'deposits' GROUP BY key ORDER BY total DESC, key LIMIT 3`,
    );
    top = reader.getRows().map(([k, total]) => [String(k), Number(total)]);
  } finally {
    connection.closeSync();
    db.closeSync();
  }
  for (const [k, total] of top) assert(total === expectedTotals.get(k), `DuckDB's total for ${k} matches`);
  out.line(`7. DuckDB over the Parquet files, top accounts by deposits: ${top.map(([k, t]) => `${k}=${t}`).join(', ')}`);

  // 8. The bank example in the deterministic simulator, under seeded faults.
  const { simulate } = await import('../../sim/simulate.ts');
  const { loadApp } = await import('../../src/app/load-app.ts');
  const bankSpec = new URL('../../examples/bank/app.ts', import.meta.url).pathname;
  const { app: bank } = await loadApp(bankSpec);
  const sim = await simulate(bank, { seed: 1, faults: 'default', appSpec: 'examples/bank', wallClock: clock });
  const faults = Object.entries(sim.faults).map(([k, n]) => `${n} ${k}`).join(', ');
  out.line(`8. simulated the bank example (seed 1, default faults: ${faults}): ${sim.events} platform events, ${(sim.simulatedMs / 1000).toFixed(0)} s of simulated time in ${sim.wallMs} ms, ${sim.violations.length} violations, trace hash ${sim.traceHash.slice(0, 12)}…`);
  out.line(`   (npx spive simulate examples/bank --seed 1 reproduces it exactly; try --faults swarm, or examples/buggy/* for planted bugs)`);

  if (removeAfter) rmSync(dir, { recursive: true, force: true });
  out.line(removeAfter ? 'Done; the demo store was removed (use --keep to keep it).' : `Done; the store is at ${dir} (try: npx spive store stats ${dir}).`);
  return {
    store: removeAfter ? null : dir,
    events: stats.events,
    accounts: options.accounts,
    appendEventsPerSecond: appendRate,
    reopenMs: Math.round(reopenMs),
    sealMs: Math.round(sealMs),
    scannedEvents: scanned,
    topAccounts: top.map(([key, total]) => ({ key, total })),
    simulation: { seed: sim.seed, events: sim.events, violations: sim.violations.length, traceHash: sim.traceHash },
  };
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}
