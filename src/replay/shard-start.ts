/**
 * Where a rebuilt shard starts: `scratch`, the process's initial state before the first input;
 * `ray`, the state of the snapshot the plan names (decoded from the runner's `{state}` JSON),
 * before the inputs after it. Shared by the object path and the columnar fold.
 */
import type { ProcessDef } from '../app/define.ts';
import { InvalidInputError } from '../model/errors.ts';
import type { EventStore } from '../store/event-store.ts';
import type { FoldStart } from './columnar-fold.ts';
import type { ShardJob } from './types.ts';

const decoder = new TextDecoder();

export async function shardStart(store: EventStore, p: ProcessDef<unknown>, job: ShardJob): Promise<FoldStart> {
  if (job.mode !== 'ray') return { state: p.initial(job.key), afterM: 0 };
  const snap = job.snapshot;
  if (snap === undefined) throw new InvalidInputError(`task ${job.key}.snapshot`, 'a snapshot {version, position} for a ray task');
  const found = await store.getSnapshot({ process: p.name, version: snap.version, shard: job.key, atOrBefore: snap.position });
  if (found === undefined || found.position !== snap.position) {
    throw new InvalidInputError(`task ${job.key}.snapshot`, `a snapshot of ${p.name}@${snap.version} for shard ${job.key} at input #${snap.position} in the store`, found === undefined ? 'none' : `one at #${found.position}`);
  }
  return { state: (JSON.parse(decoder.decode(found.data)) as { state: unknown }).state, afterM: snap.position };
}
