/** The running instance's replay routes refuse a bad hand-over naming the field, before anything runs. */
import { describe, expect, it } from 'vitest';
import { MemoryStore } from 'spive';
import { replayRoutes } from '../../cli/replay-service.ts';

describe('replay routes of spive run', () => {
  const [post, get] = replayRoutes({ store: new MemoryStore(), location: { kind: 'memory' } as never, catalogueDir: '/nonexistent' }, 'spive run test', () => undefined);
  const postBody = async (body: string) => post?.handle(/^\/replays$/.exec('/replays') as RegExpExecArray, body);

  it('refuses a body that is not a hand-over, naming what is wrong (400)', async () => {
    expect(await postBody('{')).toMatchObject({ status: 400, body: { error: expect.stringMatching(/^body: not JSON/) } });
    expect(await postBody('{}')).toMatchObject({ status: 400, body: { error: expect.stringMatching(/^body: expected \{request:/) } });
    expect(await postBody(JSON.stringify({ request: { plan: {} } }))).toMatchObject({ status: 400, body: { error: "request.planPath: expected the plan file's path" } });
    expect(await postBody(JSON.stringify({ request: { planPath: 'p.json', plan: { format: 'nope' } } }))).toMatchObject({ status: 400, body: { error: expect.stringMatching(/^p\.json: format/) } });
  });

  it('answers 404 for a replay it does not know, listing what it has', async () => {
    expect(await get?.handle(/^\/replays\/([^/]+)$/.exec('/replays/7') as RegExpExecArray, undefined)).toEqual({ status: 404, body: { error: 'no replay 7 here (replays: none)' } });
  });
});
