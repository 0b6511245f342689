/** The HTTP gateway against a real local server: idempotency header, fault vs bug classification. */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpStatusError, httpGateway } from 'spive';

const servers: Array<{ close: () => void }> = [];
afterEach(() => servers.splice(0).forEach((s) => s.close()));

async function serve(handler: (req: IncomingMessage, body: string) => { status: number; body?: string }) {
  const received: Array<{ headers: IncomingMessage['headers']; body: string }> = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      const r = handler(req, body);
      res.writeHead(r.status, { 'content-type': 'application/json' });
      res.end(r.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
}

const call = { idempotencyKey: 'bank/alice/transfers@7/0', attempt: 1, process: 'bank', key: 'alice' };

describe('http gateway', () => {
  it('POSTs the request as JSON with an Idempotency-Key header and returns the answer', async () => {
    const { url, received } = await serve(() => ({ status: 200, body: '{"ok":true}' }));
    const g = httpGateway<{ to: string }>({ url, headers: { authorization: 'Bearer t' } });
    expect(await g.perform({ to: 'alice' }, call)).toEqual({ ok: true });
    expect(received[0]?.headers['idempotency-key']).toBe('bank/alice/transfers@7/0');
    expect(received[0]?.headers.authorization).toBe('Bearer t');
    expect(JSON.parse(received[0]?.body ?? '')).toEqual({ to: 'alice' });
  });

  it('classifies 5xx, 408, 429 and network errors as faults, other 4xx as bugs', async () => {
    const g = httpGateway<unknown>({ url: 'http://127.0.0.1:1/unreachable', timeoutMs: 500 });
    const refused = await g.perform({}, call).catch((e: unknown) => e);
    expect(g.classify?.(refused)).toBe('fault');
    for (const [status, kind] of [[500, 'fault'], [503, 'fault'], [408, 'fault'], [429, 'fault'], [400, 'bug'], [404, 'bug'], [422, 'bug']] as const) {
      const { url } = await serve(() => ({ status, body: 'nope' }));
      const error = await httpGateway<unknown>({ url }).perform({}, call).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HttpStatusError);
      expect((error as Error).message).toBe(`HTTP ${status}: nope`);
      expect(g.classify?.(error), String(status)).toBe(kind);
    }
  });
});
