/**
 * The final state of every shard of a process, folded from the complete input history in the store
 * with the runner's own merge rule (earliest head first, ties by input order; stop when an input has
 * nothing more). Independent of what any runner held in memory, so it sees every shard.
 */
import type { ProcessDef } from '../../src/app/define.ts';
import type { StoredEvent } from '../../src/model/event.ts';
import { deriveSeed, seededRandom } from '../../src/random/random.ts';
import type { EventStore } from '../../src/store/event-store.ts';

export async function readStreamFully(store: EventStore, stream: string): Promise<StoredEvent[]> {
  const all: StoredEvent[] = [];
  for await (const batch of store.readStream(stream, { batchSize: 10_000 })) all.push(...batch);
  return all;
}

/** An effect a handler requested, under the idempotency key the runner gives it. */
export interface ExpectedEffect {
  readonly gateway: string;
  readonly request: unknown;
}

export interface Folded {
  readonly states: Map<string, unknown>;
  /** Every effect the handlers requested, by idempotency key. */
  readonly effects: Map<string, ExpectedEffect>;
  /** Per shard, the inputs (stream/key#seq) whose handling emitted outputs or requested effects: what the output must reflect. */
  readonly reflected: Map<string, string[]>;
}

export async function foldProcess(p: ProcessDef<unknown>, store: EventStore): Promise<Folded> {
  const effects = new Map<string, ExpectedEffect>();
  const reflected = new Map<string, string[]>();
  const inputs = await Promise.all(p.inputs.map((i) => readStreamFully(store, i.stream.name)));
  const next = inputs.map(() => 0);
  const states = new Map<string, unknown>();
  for (let m = 1; ; m++) {
    let best = -1;
    for (let i = 0; i < inputs.length; i++) {
      const head = inputs[i]?.[next[i] as number];
      if (head === undefined) {
        best = -1;
        break;
      }
      if (best < 0 || head.time < (inputs[best]?.[next[best] as number] as StoredEvent).time) best = i;
    }
    if (best < 0) break;
    const event = inputs[best]?.[next[best] as number] as StoredEvent;
    next[best] = (next[best] as number) + 1;
    if (event.type.startsWith('$')) continue;
    const handler = p.handlers[best]?.[event.type];
    if (handler === undefined) continue;
    const keyFn = p.inputs[best]?.key;
    const k = keyFn === undefined ? event.key : keyFn(event as never);
    const keys = [...new Set(typeof k === 'string' ? [k] : k)];
    for (const key of keys) {
      let rng: ReturnType<typeof seededRandom> | undefined;
      let ids = 0;
      let effectIndex = 0;
      let visible = false;
      const ctx = {
        key,
        time: event.time,
        process: p.name,
        version: p.version ?? '',
        emit: () => void (visible = true),
        effect: (gateway: { name: string }, request: unknown) => {
          visible = true;
          effects.set(`${p.name}/${key}/${event.stream}@${event.position}/${effectIndex++}`, { gateway: gateway.name, request });
        },
        get random() {
          rng ??= seededRandom(deriveSeed(m, `${p.name}/${key}`));
          return rng;
        },
        id: () => `${p.name}:${key}:${m}:${ids++}`,
      };
      states.set(key, handler(states.has(key) ? states.get(key) : p.initial(key), event as never, ctx as never));
      if (visible) {
        const list = reflected.get(key) ?? [];
        list.push(`${event.stream}/${event.key}#${event.seq}`);
        reflected.set(key, list);
      }
    }
  }
  return { states, effects, reflected };
}

/** JSON with object keys sorted: equal states print equally whatever their insertion order. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as object).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}
