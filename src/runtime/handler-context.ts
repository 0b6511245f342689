/**
 * What a handler call sees besides its state and event: outputs and effect requests are collected
 * here and leave only after the handler has returned. The runner, the offline fold of datasets and
 * the replay engine all call handlers through this one class, so a handler behaves identically
 * everywhere (same ids, same randomness for the same input number `m`).
 */
import type { HandlerContext } from '../app/define.ts';
import { deriveSeed, seededRandom, type Random } from '../random/random.ts';

export interface CollectedEffect {
  readonly gateway: string;
  readonly request: unknown;
  readonly index: number;
}

export class HandlerCallContext implements HandlerContext<Record<string, unknown>> {
  readonly outputs: Array<{ type: string; data: unknown }> = [];
  readonly effects: CollectedEffect[] = [];
  private ids = 0;
  private rng: Random | undefined;
  // Declared with number/string initial values, not as parameter properties: those compile to fields
  // that start `undefined`, and V8 then boxes every `time` assigned by `reset` (one heap number per
  // event in the replay fold, ~20% of its loop).
  key = '';
  time = 0;
  /** The merged input number of the event being handled. */
  private m = 0;

  constructor(
    readonly process: string,
    readonly version: string,
    key: string,
    time: number,
    m: number,
  ) {
    this.key = key;
    this.time = time;
    this.m = m;
  }

  /**
   * Readies this context for another call, as a fresh one would be: the columnar replay fold calls
   * millions of handlers and allocates no context per event. Collected outputs and effects are cleared.
   */
  reset(key: string, time: number, m: number): this {
    this.key = key;
    this.time = time;
    this.m = m;
    this.ids = 0;
    this.rng = undefined;
    if (this.outputs.length > 0) this.outputs.length = 0;
    if (this.effects.length > 0) this.effects.length = 0;
    return this;
  }

  emit(type: string, data: unknown): void {
    if (typeof type !== 'string' || type === '' || type.startsWith('$')) {
      throw new TypeError(`emit: event type must be a non-empty string not starting with '$', got ${JSON.stringify(type)}`);
    }
    this.outputs.push({ type, data });
  }

  effect<Req>(gateway: { name: string }, request: Req): void {
    this.effects.push({ gateway: gateway.name, request, index: this.effects.length });
  }

  get random(): Random {
    this.rng ??= seededRandom(deriveSeed(this.m, `${this.process}/${this.key}`));
    return this.rng;
  }

  id(): string {
    return `${this.process}:${this.key}:${this.m}:${this.ids++}`;
  }
}
