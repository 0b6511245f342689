/**
 * The bank, live under `spive run` in a real child process: it accepts appends over HTTP and through
 * `spive append`, and after kill -9 and restart it ends with the same balances as an uninterrupted
 * run fed the same inputs.
 */
import { spawn, type ChildProcess, execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { EmbeddedStore, MemoryStore, Platform, seededRandom, type StoredEvent } from 'spive';
import bank, { balances } from '../../examples/bank/app.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { bankInputs, type BankInput } from './bank-inputs.ts';

interface Running {
  child: ChildProcess;
  url: string;
  exited: Promise<number | null>;
}

async function startRun(store: string): Promise<Running> {
  const child = spawn(process.execPath, ['bin/spive.js', 'run', 'examples/bank', '--store', store, '--port', '0', '--status-every', '1h'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = /ingress: POST (http:\/\/127\.0\.0\.1:\d+)\/streams/.exec(stdout);
      if (m) resolve(m[1] as string);
    });
    void exited.then((code) => reject(new Error(`spive run exited with ${code} before listening: ${stderr}`)));
  });
  return { child, url, exited };
}

async function post(url: string, events: BankInput[]): Promise<void> {
  const response = await fetch(`${url}/streams/transfers`, { method: 'POST', body: JSON.stringify(events) });
  expect(response.status, await response.clone().text()).toBe(200);
  const body = (await response.json()) as { appended: unknown[] };
  expect(body.appended).toHaveLength(events.length);
}

/** Waits until both processes have taken every input event (their status stops moving and is live). */
async function settled(url: string): Promise<void> {
  let previous = '';
  for (let stable = 0; stable < 3; ) {
    await new Promise((r) => setTimeout(r, 100));
    const status = (await (await fetch(`${url}/status`)).json()) as { processes: Array<{ mode: string; eventsIn: number; inputs: unknown }> };
    const now = JSON.stringify(status.processes.map((p) => [p.mode, p.eventsIn, p.inputs]));
    stable = now === previous && status.processes.every((p) => p.mode === 'live') ? stable + 1 : 0;
    previous = now;
  }
}

async function finalBalances(store: EventStoreLike): Promise<Record<string, number>> {
  const last: Record<string, number> = {};
  for await (const batch of store.readStream('balances')) {
    for (const e of batch as StoredEvent[]) if (e.type === 'BalanceChanged') last[e.key] = (e.data as { balance: number }).balance;
  }
  return last;
}
type EventStoreLike = { readStream(stream: string): AsyncIterable<StoredEvent[]> };

describe('the bank under spive run', () => {
  it('after kill -9 and restarts, has the same balances as an uninterrupted run', async () => {
    const inputs = bankInputs(2026, 150);
    // The uninterrupted reference run, in process.
    const reference = new MemoryStore();
    const platform = await Platform.start(bank, { store: reference, version: 'ref', idle: false, ingressIdle: false });
    for (const input of inputs) await platform.append('transfers', input);
    await platform.settle();
    const expectedStates = Object.fromEntries(platform.view().keys(balances).map((k) => [k, platform.view().state(balances, k).balance]));
    await platform.stop();
    const expected = await finalBalances(reference);
    expect(expected).toEqual(expectedStates);

    const dir = tempDir();
    try {
      const random = seededRandom(7);
      const chunks: BankInput[][] = [];
      for (let i = 0; i < inputs.length; i += 10) chunks.push(inputs.slice(i, i + 10));
      const killAfter = new Set([random.int(1, 4), random.int(5, 9), random.int(10, 13)]);
      let running = await startRun(dir.path);
      let kills = 0;
      for (const [i, chunk] of chunks.entries()) {
        await post(running.url, chunk);
        if (killAfter.has(i)) {
          // Runners are still processing what was just acknowledged: kill them mid-work.
          running.child.kill('SIGKILL');
          expect(await running.exited).toBeNull();
          kills++;
          running = await startRun(dir.path);
        }
      }
      expect(kills).toBe(3);
      // `spive append` goes through the running instance.
      const viaCli = execFileSync(process.execPath, ['bin/spive.js', 'append', 'transfers', '{"type":"AccountOpened","data":{"account":"late","overdraftLimit":0}}', '--store', dir.path, '--json'], { encoding: 'utf8' });
      expect(JSON.parse(viaCli)).toMatchObject({ events: 1, via: running.url });
      await settled(running.url);
      running.child.kill('SIGINT');
      expect(await running.exited).toBe(0);

      const store = await EmbeddedStore.open(dir.path, { readOnly: true });
      try {
        expect(await finalBalances(store)).toEqual(expected);
        // Each input reflected once: no ledger entry appears twice in its shard.
        const seen = new Set<string>();
        for await (const batch of store.readStream('ledger')) {
          for (const e of batch) {
            if (e.type.startsWith('$')) continue;
            const id = `${e.key}/${(e.data as { id?: string }).id ?? e.type}/${e.type}`;
            expect(seen.has(id), id).toBe(false);
            seen.add(id);
          }
        }
      } finally {
        await store.close();
      }
    } finally {
      dir.cleanup();
    }
  }, 120_000);
});
