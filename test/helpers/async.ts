/** Small promise helpers shared by tests (no vitest import: child-process fixtures may use them too). */
import type { StoredEvent } from 'spive';

/** Every event of a read, in order. */
export async function collect(batches: AsyncIterable<StoredEvent[]>): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for await (const batch of batches) out.push(...batch);
  return out;
}

/** A promise's outcome as a value, so a test can assert on a rejection without try/catch. */
export async function settle<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await p };
  } catch (error) {
    return { ok: false, error };
  }
}
