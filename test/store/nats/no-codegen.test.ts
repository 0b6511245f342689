/**
 * The decoder where code generation from strings is refused (`--disallow-code-generation-from-strings`,
 * or a host that forbids `new Function`): the compiled shape builders and event loops (value-reader.ts,
 * event-runs.ts) are then never made, and every event is decoded value by value, to the same events.
 */
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const MODULE = pathToFileURL('src/store/nats/event-message.ts').href;

/** Run in a child process: encodes events whose data has one shape used often, decodes them three times. */
const CHILD = `
const { ALL_EVENTS, batchPayload, decodeBatch, encodeBatch } = await import(${JSON.stringify(MODULE)});
let refused = false;
try { new Function('return 1'); } catch { refused = true; }
const written = Array.from({ length: 300 }, (_, i) => ({
  type: i % 5 === 0 ? 'Other' : 'Often',
  time: 1_700_000_000_000 + i,
  data: i % 7 === 3 ? { other: i } : { amount: i / 4, s: 's' + (i % 150), n: i, nested: { x: [i, null, true] }, ['__proto__']: i },
  ...(i % 13 === 0 ? { meta: { by: 'm' + i } } : {}),
}));
const payload = batchPayload(encodeBatch('s', 'k', written), 1000, 50);
const rounds = [];
for (let r = 0; r < 3; r++) {
  const out = [];
  out.length = decodeBatch({ subject: 'subj', seq: 7 }, payload, ALL_EVENTS, out, 0);
  rounds.push(out);
}
process.stdout.write(JSON.stringify({ refused, written, rounds }));
`;

describe('event messages where code generation is refused', () => {
  it('decode to the same events, value by value', () => {
    const run = spawnSync(process.execPath, ['--disallow-code-generation-from-strings', '--import', 'tsx', '--input-type=module', '--eval', CHILD], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    const { refused, written, rounds } = JSON.parse(run.stdout) as { refused: boolean; written: Array<Record<string, unknown>>; rounds: unknown[][] };
    expect(refused).toBe(true);
    const expected = written.map((e, i) => ({ stream: 's', key: 'k', seq: 50 + i, position: 1000 + i, ...e }));
    // JSON on both sides: `__proto__` is an own key of the data, as JSON.parse makes it.
    for (const events of rounds) expect(events).toEqual(expected);
  });
});
