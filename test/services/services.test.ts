/** The servers later stores run against are there (in CI they must be: .ci/run starts them). */
import { describe, expect, it } from 'vitest';
import { SERVICES, reachable, service } from '../helpers/services.ts';

describe('test services', () => {
  for (const name of Object.keys(SERVICES) as Array<keyof typeof SERVICES>) {
    it(`${SERVICES[name].name} answers on ${SERVICES[name].host}:${SERVICES[name].port} (or the test explains why it skips)`, async (ctx) => {
      if (!(await service(name))) ctx.skip();
      expect(await reachable(SERVICES[name].host, SERVICES[name].port)).toBe(true);
    });
  }

  it('reports an unreachable port as unreachable', async () => {
    expect(await reachable('127.0.0.1', 1, 500)).toBe(false);
  });
});
