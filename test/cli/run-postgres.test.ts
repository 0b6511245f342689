/**
 * `spive run --store postgres://… --shards <range>` in real OS processes: two runners own the two
 * halves of the shard space and together give the same balances as one in-process run; a third one
 * started on taken shards waits as a standby (it holds no lease, and the database rejects any write
 * to a leased shard without the governing token), and takes over when the holder dies, after which
 * the dead holder's token is FENCED.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore, Platform, type StoredEvent } from 'spive';
import bank from '../../examples/bank/app.ts';
import { bucketOf } from '../../src/model/shard.ts';
import { PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { bankInputs, type BankInput } from '../examples/bank-inputs.ts';
import { service } from '../helpers/services.ts';
import { dropSchema, freshSchema, rawClient, storeUrl } from '../store/postgres/pg-test-db.ts';

const available = await service('postgres');

interface Runner {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `pattern` in stdout+stderr (rejects if the process exits first). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
}

function startRun(url: string, shards: string): Runner {
  const child = spawn(
    process.execPath,
    ['bin/spive.js', 'run', 'examples/bank', '--store', url, '--shards', shards, '--port', '0', '--lease-ttl', '2s', '--status-every', '1h', '--verbose'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  const changed = () => {
    for (const l of listeners) l();
  };
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    changed();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
    changed();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    stdout: () => out,
    stderr: () => err,
    waitFor(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = pattern.exec(`${out}\n${err}`);
          if (m === null) return;
          listeners.delete(check);
          clearTimeout(timer);
          resolve(m);
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`no ${pattern} from spive run --shards ${shards} within ${timeoutMs} ms:\n${out}\n${err}`));
        }, timeoutMs);
        listeners.add(check);
        void exited.then((code) => {
          if (listeners.has(check)) {
            listeners.delete(check);
            clearTimeout(timer);
            reject(new Error(`spive run --shards ${shards} exited with ${code} before ${pattern}:\n${out}\n${err}`));
          }
        });
        check();
      });
    },
  };
}

/** Feeds inputs through `spive append` (the CLI opens the PostgreSQL store itself; keys from the app). */
async function append(url: string, inputs: readonly BankInput[]): Promise<void> {
  const child = spawn(process.execPath, ['bin/spive.js', 'append', 'transfers', '--app', 'examples/bank', '--store', url, '--json'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.stdin.end(inputs.map((i) => JSON.stringify(i)).join('\n'));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  expect(code, err).toBe(0);
  expect(JSON.parse(out)).toMatchObject({ events: inputs.length, via: 'store' });
}

async function lastBalances(store: PostgresStore): Promise<Record<string, number>> {
  const last: Record<string, number> = {};
  for await (const batch of store.readStream('balances')) {
    for (const e of batch as StoredEvent[]) if (e.type === 'BalanceChanged') last[e.key] = (e.data as { balance: number }).balance;
  }
  return last;
}

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** The balances one in-process runner (all shards, memory store) ends with for these inputs. */
async function referenceBalances(inputs: readonly BankInput[]): Promise<Record<string, number>> {
  const reference = new MemoryStore();
  const platform = await Platform.start(bank, { store: reference, version: 'ref', idle: false, ingressIdle: false });
  for (const input of inputs) await platform.append('transfers', input);
  await platform.settle();
  await platform.stop();
  const last: Record<string, number> = {};
  for await (const batch of reference.readStream('balances')) for (const e of batch) if (e.type === 'BalanceChanged') last[e.key] = (e.data as { balance: number }).balance;
  await reference.close();
  return last;
}

interface LeaseRow {
  stream: string;
  token: string;
  owner: string;
  range_from: number;
  range_to: number;
}

async function leases(schema: string): Promise<LeaseRow[]> {
  const client = await rawClient();
  try {
    return (await client.query<LeaseRow>(`SELECT stream, token, owner, range_from, range_to FROM "${schema}".leases ORDER BY stream, range_from, token`)).rows;
  } finally {
    await client.end();
  }
}

describe.skipIf(!available)('spive run on PostgreSQL with shard ranges in separate processes', () => {
  const schema = freshSchema('run');
  const url = storeUrl(schema);
  let store: PostgresStore;
  beforeAll(async () => {
    store = await PostgresStore.open(url);
  });
  afterAll(async () => {
    await store?.close();
    await dropSchema(schema);
  });

  it('two processes split the shards, a third waits as a standby, takes over, and fences the dead holder', async () => {
    const inputs = bankInputs(9, 80);
    const accounts = [...new Set(inputs.filter((i) => i.type === 'AccountOpened').map((i) => i.data.account as string))];
    const low = accounts.filter((a) => bucketOf(a) < 2048);
    const high = accounts.filter((a) => bucketOf(a) >= 2048);
    // The inputs must exercise both halves (and transfers between them).
    expect(low.length).toBeGreaterThan(0);
    expect(high.length).toBeGreaterThan(0);
    const firstHalf = inputs.slice(0, 60);
    const later = inputs.slice(60);

    const runners: Runner[] = [];
    try {
      const a = startRun(url, '0-2048');
      runners.push(a);
      const b = startRun(url, '2048-4096');
      runners.push(b);
      const [, aUrl] = (await a.waitFor(/ingress: POST (http:\/\/127\.0\.0\.1:\d+)\//)) as unknown as [string, string];
      const [, bUrl] = (await b.waitFor(/ingress: POST (http:\/\/127\.0\.0\.1:\d+)\//)) as unknown as [string, string];
      await append(url, firstHalf);

      const expected = await referenceBalances(firstHalf);
      await eventually('both halves to reach the reference balances', async () => JSON.stringify(sorted(await lastBalances(store))) === JSON.stringify(sorted(expected)));
      expect(Object.keys(expected).some((k) => low.includes(k)) && Object.keys(expected).some((k) => high.includes(k))).toBe(true);

      // Each half under its own lease: one lease per output stream and range, held by the process
      // running it, with the token its runners report (the database takes no write without it).
      const held = await leases(schema);
      for (const stream of ['ledger', 'balances']) {
        const rows = held.filter((r) => r.stream === stream);
        expect(rows.map((r) => [r.range_from, r.range_to])).toEqual([
          [0, 2048],
          [2048, 4096],
        ]);
        expect(rows[0]?.owner).toMatch(new RegExp(`^spive-run@.+:${a.child.pid}$`));
        expect(rows[1]?.owner).toMatch(new RegExp(`^spive-run@.+:${b.child.pid}$`));
        expect(rows[0]?.token).not.toBe(rows[1]?.token);
      }
      for (const [runnerUrl, range] of [
        [aUrl, 0],
        [bUrl, 2048],
      ] as const) {
        const status = (await (await fetch(`${runnerUrl}/status`)).json()) as { processes: Array<{ process: string; leaseToken: number; eventsOut: number; range: { from: number } }> };
        for (const p of status.processes) {
          expect(p.range.from).toBe(range);
          expect(String(p.leaseToken)).toBe(held.find((r) => r.stream === (p.process === 'ledger' ? 'ledger' : 'balances') && r.range_from === range)?.token);
          expect(p.eventsOut, `${p.process} on [${range}, …) wrote outputs`).toBeGreaterThan(0);
        }
      }

      // A third process on taken shards: a standby that says so and holds nothing.
      const c = startRun(url, '0-2048');
      runners.push(c);
      await c.waitFor(/waiting for the lease: stream ledger: shards are leased to spive-run@\S+:(\d+)/);
      expect(c.stdout()).not.toMatch(/ingress: POST/);
      expect((await leases(schema)).some((r) => r.owner.endsWith(`:${c.child.pid}`))).toBe(false);

      // Writes without the governing token are rejected by the database: none, or another range's.
      const lowKey = low[0] as string;
      const highLedgerToken = Number(held.find((r) => r.stream === 'ledger' && r.range_from === 2048)?.token);
      const lowLedgerToken = Number(held.find((r) => r.stream === 'ledger' && r.range_from === 0)?.token);
      const stray = [{ type: 'Credited', time: 1, data: { account: lowKey, amount: 1, id: 'stray' } }];
      await expect(store.append('ledger', lowKey, stray)).rejects.toMatchObject({ code: 'FENCED' });
      await expect(store.append('ledger', lowKey, stray, { token: highLedgerToken })).rejects.toMatchObject({ code: 'FENCED' });

      // The holder dies without releasing: the standby takes over once the lease expires.
      a.child.kill('SIGKILL');
      expect(await a.exited).toBeNull();
      await c.waitFor(/ingress: POST/);
      const after = await leases(schema);
      const cLedger = after.find((r) => r.stream === 'ledger' && r.owner.endsWith(`:${c.child.pid}`));
      expect(cLedger).toMatchObject({ range_from: 0, range_to: 2048 });
      expect(Number(cLedger?.token)).toBeGreaterThan(lowLedgerToken);
      // The dead holder's token is stale now.
      await expect(store.append('ledger', lowKey, stray, { token: lowLedgerToken })).rejects.toMatchObject({ code: 'FENCED' });

      // And the new holder carries on from where the durable outputs end.
      await append(url, later);
      const expectedAll = await referenceBalances(inputs);
      await eventually('the standby and the other half to reach the reference balances', async () => JSON.stringify(sorted(await lastBalances(store))) === JSON.stringify(sorted(expectedAll)));

      for (const r of [b, c]) r.child.kill('SIGINT');
      expect(await b.exited).toBe(0);
      expect(await c.exited).toBe(0);
      expect(b.stderr()).not.toMatch(/ERROR/);
      expect(c.stderr()).not.toMatch(/ERROR/);
    } finally {
      for (const r of runners) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
      await Promise.all(runners.map((r) => r.exited));
    }
  }, 60_000);
});

/** Balances objects are built in stream order; compare them by sorted keys. */
function sorted(o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).sort(([x], [y]) => (x < y ? -1 : 1)));
}
