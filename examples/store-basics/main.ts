/**
 * The event store on its own, as an app uses it: `import … from 'spive'`.
 * Run: npx tsx examples/store-basics/main.ts [store-dir]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isConflict, openStore } from 'spive';

interface Deposited {
  amount: number;
}

const dir = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'spive-basics-'));
const store = await openStore(dir);
try {
  // Append a batch to one shard (stream `deposits`, key `alice`): all or nothing, durable when it resolves.
  await store.append('deposits', 'alice', [
    { type: 'Deposited', time: Date.parse('2026-01-01T10:00:00Z'), data: { amount: 100 } },
    { type: 'Deposited', time: Date.parse('2026-01-01T11:00:00Z'), data: { amount: 50 } },
  ]);

  // Append only if nobody else wrote to the shard since we looked (optimistic concurrency).
  const head = await store.head('deposits', 'alice');
  await store.append('deposits', 'alice', [{ type: 'Deposited', time: Date.parse('2026-01-01T12:00:00Z'), data: { amount: 25 } }], {
    expect: { lastSeq: head.lastSeq },
  });
  try {
    await store.append('deposits', 'alice', [{ type: 'Deposited', time: 0, data: { amount: 1 } }], { expect: { lastSeq: head.lastSeq } });
  } catch (e) {
    if (!isConflict(e)) throw e;
    console.log(`stale write refused: ${e.code}`);
  }

  // Read the shard back, in order.
  let balance = 0;
  for await (const batch of store.readShard('deposits', 'alice')) {
    for (const e of batch) balance += (e.data as unknown as Deposited).amount;
  }
  console.log(`alice: ${head.lastSeq + 1} deposits, balance ${balance}`);
} finally {
  await store.close();
  if (process.argv[2] === undefined) rmSync(dir, { recursive: true, force: true });
}
