/**
 * The running instance's local HTTP endpoint (127.0.0.1 only):
 *   POST /streams/<name>   one event `{type, data, time?, key?}`, an array of them, or JSON lines
 *   GET  /status           the platform status as JSON
 *   GET  /health           200 while every runner is healthy, 503 otherwise
 * and the routes the host adds (`spive run`: replay plans, cli/replay-service.ts).
 * `spive append` and `spive replay` use it when `spive run` holds the store. Bad input gets a 400 whose JSON names the
 * field; nothing of a rejected request is appended before the bad event (events are validated first).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isSpiveError } from '../model/errors.ts';
import type { IngressEvent, Platform } from './platform.ts';

export interface IngressServer {
  readonly url: string;
  close(): Promise<void>;
}

/** A further route of the local endpoint (e.g. `spive run` takes replay plans: cli/replay-service.ts). */
export interface LocalRoute {
  readonly method: 'GET' | 'POST';
  /** Matched against the whole path. */
  readonly path: RegExp;
  /** `body`: the request body of a POST. Replies with a status and a JSON body. */
  handle(match: RegExpExecArray, body: string | undefined): Promise<{ readonly status: number; readonly body: unknown }>;
}

const MAX_BODY_BYTES = 16 * 1024 * 1024;

export async function startIngressServer(platform: Platform, options: { port?: number; host?: string; routes?: readonly LocalRoute[] } = {}): Promise<IngressServer> {
  const routes = options.routes ?? [];
  const server = createServer((req, res) => {
    handle(platform, routes, req, res).catch((e: unknown) => reply(res, 500, { error: `internal error: ${e instanceof Error ? e.message : String(e)}` }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  return { url: `http://${address.address}:${address.port}`, close: () => closeServer(server) };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

async function handle(platform: Platform, routes: readonly LocalRoute[], req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  for (const route of routes) {
    const match = route.path.exec(url.pathname);
    if (match === null || route.method !== req.method) continue;
    let body: string | undefined;
    if (req.method === 'POST') {
      body = await readBody(req);
      if (body === undefined) return reply(res, 413, { error: `request body larger than ${MAX_BODY_BYTES} bytes` });
    }
    const answer = await route.handle(match, body);
    return reply(res, answer.status, answer.body);
  }
  if (req.method === 'GET' && url.pathname === '/status') return reply(res, 200, platform.status());
  if (req.method === 'GET' && url.pathname === '/health') {
    const failure = platform.failure();
    return reply(res, failure === undefined ? 200 : 503, failure === undefined ? { ok: true } : { ok: false, process: failure.process, error: String(failure.error) });
  }
  const m = /^\/streams\/([^/]+)$/.exec(url.pathname);
  if (m === null) return reply(res, 404, { error: `no route ${req.method} ${url.pathname}; try POST /streams/<name>, GET /status, GET /health` });
  if (req.method !== 'POST') return reply(res, 405, { error: `use POST to append to /streams/${m[1]}` });
  const stream = decodeURIComponent(m[1] as string);
  const body = await readBody(req);
  if (body === undefined) return reply(res, 413, { error: `request body larger than ${MAX_BODY_BYTES} bytes` });
  let events: IngressEvent[];
  try {
    events = parseEvents(body);
  } catch (e) {
    return reply(res, 400, { error: (e as Error).message, field: 'body' });
  }
  const appended: Array<{ key: string; seq: number; position: number }> = [];
  for (const [i, event] of events.entries()) {
    try {
      const r = await platform.append(stream, event);
      appended.push({ key: r.key, seq: r.firstSeq, position: r.firstPosition });
    } catch (e) {
      if (!isSpiveError(e)) throw e;
      return reply(res, e.code === 'INVALID_INPUT' ? 400 : 409, { error: `event ${i}: ${e.message}`, code: e.code, appended });
    }
  }
  return reply(res, 200, { appended });
}

/** One JSON event, a JSON array of events, or JSON lines. Throws naming the line on bad input. */
export function parseEvents(body: string): IngressEvent[] {
  const text = body.trim();
  if (text === '') throw new Error('empty body: expected a JSON event {type, data, time?, key?}, an array of them, or JSON lines');
  let values: unknown[];
  if (text.startsWith('[')) {
    values = JSON.parse(text) as unknown[];
  } else {
    values = text.split('\n').filter((l) => l.trim() !== '').map((line, i) => {
      try {
        return JSON.parse(line);
      } catch (e) {
        throw new Error(`line ${i + 1}: not JSON (${(e as Error).message})`);
      }
    });
  }
  return values.map((v, i) => {
    const e = v as Partial<IngressEvent> | null;
    if (typeof e !== 'object' || e === null || Array.isArray(e)) throw new Error(`event ${i}: expected an object {type, data, time?, key?}`);
    if (typeof e.type !== 'string') throw new Error(`event ${i}: "type" must be a string`);
    if (!('data' in e)) throw new Error(`event ${i}: "data" is missing (use null for none)`);
    if (e.time !== undefined && !Number.isSafeInteger(e.time)) throw new Error(`event ${i}: "time" must be integer ms since the epoch`);
    if (e.key !== undefined && typeof e.key !== 'string') throw new Error(`event ${i}: "key" must be a string`);
    return e as IngressEvent;
  });
}

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        resolve(undefined);
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body)}\n`);
}
