/**
 * Which generation of an app's streams is current. A switch-over (src/runtime/switch-over.ts) ends
 * by appending one `$switch` event to the store's `spive.generations` stream: from then on, the
 * streams it names are read as their new version (base prefix and versioned suffix, see
 * generation-store.ts), and only the new version's code may write them. One event, so every stream
 * of the generation switches in one atomic step; the base streams stay as they were (the old version,
 * kept until the user drops it).
 */
import { InvalidInputError } from '../model/errors.ts';
import type { StoredEvent } from '../model/event.ts';
import type { EventStore } from '../store/event-store.ts';

export const GENERATIONS_STREAM = 'spive.generations';
export const CURRENT_KEY = 'current';
export const SWITCH_EVENT = '$switch';

export interface GenerationRecord {
  /** The changed process's new version: it names every versioned stream (`<stream>--<generation>`). */
  readonly generation: string;
  /** Event time since which behaviour changed (null: from the beginning). */
  readonly since: number | null;
  /** The changed process. */
  readonly process: string;
  /** Its version before the change (null: none). */
  readonly fromVersion: string | null;
  /** Each switched stream and the process that writes it: the changed process's output and its downstream's. */
  readonly streams: Readonly<Record<string, string>>;
  /** Per process of the generation: the version that wrote the base stream and its snapshots. */
  readonly oldVersions: Readonly<Record<string, string>>;
  /** Per process of the generation: its version now (the only one that may write the stream). */
  readonly newVersions: Readonly<Record<string, string>>;
  /** Per switched stream: the base's last position when it was switched (the old version wrote nothing after). */
  readonly baseLast: Readonly<Record<string, number>>;
  /** Per switched stream: the base's last position when the switch-over began (readers of the new version read the base up to there). */
  readonly baseCut: Readonly<Record<string, number>>;
  /** Per process of the generation: its input streams, in order. */
  readonly inputs: Readonly<Record<string, readonly string[]>>;
  /** Per switched stream: its versioned stream's last position when the switch-over began (what the replay wrote). */
  readonly replayedUpTo: Readonly<Record<string, number>>;
  /** Per process of the generation, per input: effects of inputs at or below were the old version's to perform. */
  readonly effectsDoneUpTo: Readonly<Record<string, readonly number[]>>;
  /** Wall time of the switch (ms since the epoch). */
  readonly switchedAt: number;
}

/** The current generation, or undefined when no switch-over ever happened in this store. */
export async function currentGeneration(store: EventStore): Promise<GenerationRecord | undefined> {
  const head = await store.head(GENERATIONS_STREAM, CURRENT_KEY);
  if (head.lastSeq === 0) return undefined;
  let last: StoredEvent | undefined;
  for await (const batch of store.readShard(GENERATIONS_STREAM, CURRENT_KEY, { fromSeq: head.lastSeq, batchSize: 1 })) last = batch[batch.length - 1];
  if (last === undefined) return undefined;
  return parseRecord(last);
}

/** Appends the record, conditional on the generation seen when the switch-over began (nothing may have switched meanwhile). */
export async function recordGeneration(store: EventStore, record: GenerationRecord, expectLastSeq: number, time: number): Promise<void> {
  await store.append(GENERATIONS_STREAM, CURRENT_KEY, [{ type: SWITCH_EVENT, time, data: record as never }], { expect: { lastSeq: expectLastSeq } });
}

export async function generationsSeq(store: EventStore): Promise<number> {
  return (await store.head(GENERATIONS_STREAM, CURRENT_KEY)).lastSeq;
}

function parseRecord(e: StoredEvent): GenerationRecord {
  const where = `${GENERATIONS_STREAM}/${CURRENT_KEY}#${e.seq}`;
  const d = e.data as Partial<Record<keyof GenerationRecord, unknown>> | null;
  const isMap = (v: unknown, kind: 'string' | 'number') => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === kind);
  if (
    e.type !== SWITCH_EVENT ||
    d === null ||
    typeof d !== 'object' ||
    typeof d.generation !== 'string' ||
    !(d.since === null || typeof d.since === 'number') ||
    typeof d.process !== 'string' ||
    !(d.fromVersion === null || typeof d.fromVersion === 'string') ||
    !isMap(d.streams, 'string') ||
    !isMap(d.oldVersions, 'string') ||
    !isMap(d.newVersions, 'string') ||
    !isMap(d.baseLast, 'number') ||
    !isMap(d.replayedUpTo, 'number') ||
    !isMap(d.baseCut, 'number') ||
    typeof d.effectsDoneUpTo !== 'object' ||
    d.effectsDoneUpTo === null ||
    !Object.values(d.effectsDoneUpTo).every((v) => Array.isArray(v) && v.every((x) => typeof x === 'number')) ||
    typeof d.inputs !== 'object' ||
    d.inputs === null ||
    !Object.values(d.inputs).every((v) => Array.isArray(v) && v.every((x) => typeof x === 'string')) ||
    typeof d.switchedAt !== 'number'
  ) {
    throw new InvalidInputError(where, `a ${SWITCH_EVENT} record {generation, since, process, fromVersion, streams, oldVersions, newVersions, baseLast, baseCut, inputs, replayedUpTo, effectsDoneUpTo, switchedAt}`, e.data);
  }
  return d as GenerationRecord;
}
