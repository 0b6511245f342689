/** The running instance's HTTP endpoint: appends with derived keys, clear 4xx answers, status and health. */
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStore, Platform } from 'spive';
import { parseEvents, startIngressServer, type IngressServer } from '../../src/runtime/ingress-server.ts';
import bank from '../../examples/bank/app.ts';

let server: IngressServer | undefined;
let platform: Platform | undefined;
afterEach(async () => {
  await server?.close();
  await platform?.stop();
  server = undefined;
  platform = undefined;
});

async function start() {
  platform = await Platform.start(bank, { store: new MemoryStore(), version: 'v1', idle: false, ingressIdle: false });
  server = await startIngressServer(platform, { port: 0 });
  return server.url;
}

async function post(url: string, path: string, body: string) {
  const r = await fetch(`${url}${path}`, { method: 'POST', body });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

describe('ingress server', () => {
  it('appends one event, an array, or JSON lines, deriving keys from the stream declaration', async () => {
    const url = await start();
    const one = await post(url, '/streams/transfers', JSON.stringify({ type: 'AccountOpened', data: { account: 'alice', overdraftLimit: 10 }, time: 5 }));
    expect(one).toEqual({ status: 200, body: { appended: [{ key: 'alice', seq: 1, position: 1 }] } });
    const lines = [
      { type: 'Deposited', data: { id: 'd1', account: 'alice', amount: 30 } },
      { type: 'TransferRequested', data: { id: 't1', from: 'alice', to: 'bob', amount: 5 }, key: 'alice' },
    ];
    const jsonl = await post(url, '/streams/transfers', lines.map((l) => JSON.stringify(l)).join('\n'));
    expect(jsonl.status).toBe(200);
    expect((jsonl.body.appended as Array<{ key: string }>).map((a) => a.key)).toEqual(['alice', 'alice']);
    await platform?.settle();
    const status = (await (await fetch(`${url}/status`)).json()) as { processes: Array<{ process: string; eventsIn: number }> };
    expect(status.processes.find((p) => p.process === 'ledger')?.eventsIn).toBe(3);
    expect((await fetch(`${url}/health`)).status).toBe(200);
  });

  it('answers bad input with a 4xx that names the problem, appending nothing of the bad event', async () => {
    const url = await start();
    expect(await post(url, '/streams/ledger', JSON.stringify({ type: 'X', data: 1 }))).toMatchObject({ status: 400, body: { code: 'INVALID_INPUT' } });
    expect((await post(url, '/streams/ledger', JSON.stringify({ type: 'X', data: 1 }))).body.error).toMatch(/written by process 'ledger'/);
    expect(await post(url, '/streams/transfers', 'not json')).toMatchObject({ status: 400, body: { field: 'body' } });
    expect((await post(url, '/streams/transfers', '{"data":1}')).body.error).toMatch(/event 0: "type" must be a string/);
    const partial = await post(url, '/streams/transfers', JSON.stringify([{ type: 'AccountOpened', data: { account: 'a', overdraftLimit: 0 } }, { type: '$idle', data: null }]));
    expect(partial.status).toBe(400);
    expect(partial.body.appended).toHaveLength(1); // the first was appended; the answer says so
    expect((await fetch(`${url}/streams/transfers`)).status).toBe(405);
    expect((await fetch(`${url}/nope`)).status).toBe(404);
  });

  it('parses event bodies strictly', () => {
    expect(parseEvents('{"type":"A","data":null}')).toEqual([{ type: 'A', data: null }]);
    expect(() => parseEvents('')).toThrow(/empty body/);
    expect(() => parseEvents('{"type":"A","data":1}\n{oops')).toThrow(/line 2: not JSON/);
    expect(() => parseEvents('{"type":"A"}')).toThrow(/"data" is missing/);
    expect(() => parseEvents('{"type":"A","data":1,"time":1.5}')).toThrow(/"time" must be integer ms/);
  });
});
