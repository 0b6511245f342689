/** App declarations are checked when they are made: mistakes fail with a message naming the part. */
import { describe, expect, it } from 'vitest';
import { defineApp, defineProcess, defineStream, ingressStreams } from 'spive';

const input = defineStream<{ A: { n: number } }>('input', { key: (e) => String(e.data.n) });
const out = defineStream<{ B: { n: number } }>('out');
const proc = (name: string, output = out) =>
  defineProcess({ name, inputs: { input }, output, initial: () => 0, on: { input: { A: (s, e, ctx) => (ctx.emit('B', { n: e.data.n }), s + 1) } } });

describe('defineApp', () => {
  it('accepts a well-formed app and finds its ingress streams', () => {
    const app = defineApp({ name: 'ok', streams: [input, out], processes: [proc('p')] });
    expect(ingressStreams(app).map((s) => s.name)).toEqual(['input']);
    expect(app.processes[0]?.snapshots).toEqual({ everyEvents: 1000, everyMs: 0 });
  });

  it('rejects two writers of one stream, undeclared streams, duplicate names', () => {
    expect(() => defineApp({ name: 'x', streams: [input, out], processes: [proc('p'), proc('q')] })).toThrow(/stream 'out' is written by both 'p' and 'q' \(one writer per stream\)/);
    expect(() => defineApp({ name: 'x', streams: [input], processes: [proc('p')] })).toThrow(/process 'p' writes 'out', which is not in the app's streams/);
    expect(() => defineApp({ name: 'x', streams: [out], processes: [proc('p')] })).toThrow(/process 'p' reads 'input', which is not in the app's streams/);
    expect(() => defineApp({ name: 'x', streams: [input, input], processes: [] })).toThrow(/stream 'input' is declared twice/);
  });

  it('rejects handlers for inputs the process does not have', () => {
    expect(() =>
      defineProcess({ name: 'p', inputs: { input }, output: out, initial: () => 0, on: { other: {} } as never }),
    ).toThrow(/handlers for 'other', which is not one of its inputs \(input\)/);
  });
});
