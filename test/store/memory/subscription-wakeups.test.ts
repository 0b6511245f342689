/**
 * The memory store (the simulated world's store): a subscription to one stream waits on that
 * stream's commits alone (a commit to another stream does not wake it), and closing the store still
 * ends every waiting subscription.
 */
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../src/store/memory/memory-store.ts';

const event = (n: number) => ({ type: 'E', time: n, data: { n } });

/** Whether `p` has settled after every pending continuation ran. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe('memory store subscriptions', () => {
  it('wake on a commit to their stream, not to another one', async () => {
    const store = new MemoryStore();
    const it = store.subscribe({ stream: 'a' })[Symbol.asyncIterator]();
    const next = it.next();
    await store.append('b', 'k', [event(1)]);
    expect(await settled(next)).toBe(false);
    await store.append('a', 'k', [event(2)]);
    const r = await next;
    expect(r.done).toBe(false);
    expect(r.value.map((e: { stream: string; position: number }) => [e.stream, e.position])).toEqual([['a', 2]]);
    await store.close();
  });

  it('all end when the store closes, also one opened after', async () => {
    const store = new MemoryStore();
    await store.append('a', 'k', [event(1)]);
    const waiting = store.subscribe({ stream: 'a', fromPosition: 2 })[Symbol.asyncIterator]();
    const everything = store.subscribe({ fromPosition: 2 })[Symbol.asyncIterator]();
    const pending = [waiting.next(), everything.next()];
    expect(await settled(pending[0] as Promise<unknown>)).toBe(false);
    await store.close();
    expect((await Promise.all(pending)).map((r) => r.done)).toEqual([true, true]);
    const late = store.subscribe({ stream: 'c' })[Symbol.asyncIterator]();
    expect((await late.next()).done).toBe(true);
  });
});
