/**
 * Runs the new version's real handlers over one shard's inputs, exactly as the runner does: the
 * shared HandlerCallContext (same ids and randomness for the same `m`), platform events skipped,
 * outputs — or one `$progress` event when an input only requested effects — with meta
 * `{v, m, in: [inputIndex, inputPosition]}` and the input's event time. Effects are collected, never
 * performed.
 */
import type { InputEvent, ProcessDef } from '../app/define.ts';
import type { EventMeta, NewEvent, StoredEvent } from '../model/event.ts';
import { HandlerCallContext } from '../runtime/handler-context.ts';
import { HandlerBugError, PROGRESS_EVENT } from '../runtime/runner.ts';

/** One input event delivered to a shard, with its merged number. */
export interface ShardInput {
  readonly inputIndex: number;
  readonly m: number;
  readonly event: StoredEvent;
}

export interface CollectedShardEffect {
  readonly gateway: string;
  readonly request: unknown;
  readonly idempotencyKey: string;
  /** Index in `outputs` of the first output of the input that requested it. */
  readonly outputIndex: number;
}

export interface ShardRun {
  readonly outputs: Array<NewEvent<unknown> & { readonly meta: EventMeta }>;
  readonly effects: CollectedShardEffect[];
  readonly state: unknown;
}

export function runShard(
  p: ProcessDef<unknown>,
  version: string,
  key: string,
  state: unknown,
  inputs: readonly ShardInput[],
  onEvents?: (n: number) => void,
): ShardRun {
  const outputs: ShardRun['outputs'] = [];
  const effects: CollectedShardEffect[] = [];
  let reported = 0;
  for (let i = 0; i < inputs.length; i++) {
    if (onEvents !== undefined && i - reported >= 16_384) {
      onEvents(i - reported);
      reported = i;
    }
    const { inputIndex, m, event } = inputs[i] as ShardInput;
    if (event.type.startsWith('$')) continue; // platform events only move watermarks
    const handler = p.handlers[inputIndex]?.[event.type];
    if (handler === undefined) continue;
    const ctx = new HandlerCallContext(p.name, version, key, event.time, m);
    let next: unknown;
    try {
      next = handler(state, event as InputEvent<string, unknown>, ctx as never);
    } catch (e) {
      throw new HandlerBugError(p.name, key, event, e);
    }
    if (next === undefined) throw new HandlerBugError(p.name, key, event, 'returned undefined instead of the new state');
    state = next;
    if (ctx.outputs.length === 0 && ctx.effects.length === 0) continue;
    const meta = { v: version, m, in: [inputIndex, event.position] };
    const first = outputs.length;
    if (ctx.outputs.length > 0) for (const o of ctx.outputs) outputs.push({ type: o.type, time: event.time, data: o.data, meta });
    else outputs.push({ type: PROGRESS_EVENT, time: event.time, data: null, meta });
    const stream = p.inputs[inputIndex]?.stream.name;
    for (const effect of ctx.effects) {
      effects.push({ gateway: effect.gateway, request: effect.request, idempotencyKey: `${p.name}/${key}/${stream}@${event.position}/${effect.index}`, outputIndex: first });
    }
  }
  onEvents?.(inputs.length - reported);
  return { outputs, effects, state };
}

/** The shard keys an input event is delivered to, as the runner computes them (deduplicated, validated). */
export function keysOf(p: ProcessDef<unknown>, inputIndex: number, event: StoredEvent): string[] {
  const keyFn = p.inputs[inputIndex]?.key;
  if (keyFn === undefined) return [event.key];
  const k = keyFn(event as never);
  const keys = typeof k === 'string' ? [k] : k;
  const out: string[] = [];
  for (const key of keys) {
    if (typeof key !== 'string' || key === '') throw new HandlerBugError(p.name, String(key), event, `its input key function returned ${JSON.stringify(key)}, not a non-empty string`);
    if (!out.includes(key)) out.push(key);
  }
  return out;
}
