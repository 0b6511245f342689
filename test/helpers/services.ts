/**
 * Tests that need a real server (PostgreSQL, NATS JetStream) call `service(name, port)`. Under
 * CI=true an unreachable server fails the test; elsewhere the test is skipped with a printed reason.
 */
import { connect } from 'node:net';

export const SERVICES = {
  postgres: { name: 'PostgreSQL', host: '127.0.0.1', port: 5432, start: 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start' },
  nats: {
    name: 'NATS JetStream',
    host: '127.0.0.1',
    port: 4222,
    start: 'start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log',
  },
} as const;

export type ServiceName = keyof typeof SERVICES;

export function reachable(host: string, port: number, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Resolves to true when the service is reachable. Outside CI it resolves to false after printing why
 * (callers skip); under CI=true it throws, because CI must exercise the real server.
 */
export async function service(name: ServiceName): Promise<boolean> {
  const s = SERVICES[name];
  if (await reachable(s.host, s.port)) return true;
  const reason = `${s.name} is not reachable on ${s.host}:${s.port} (start it with: ${s.start})`;
  if (process.env.CI === 'true') throw new Error(`CI=true requires ${reason}`);
  process.stderr.write(`skipping ${s.name} tests: ${reason}\n`);
  return false;
}
