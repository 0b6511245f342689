/**
 * Writing an app: streams, processes, gateways, and (for simulation) a workload and invariants.
 * Everything here is a plain typed description; src/runtime/ runs it. Payload types flow from the
 * stream declarations into handler signatures, so the compiler catches a wrong field.
 *
 * Shards. A process's state is kept per *shard key*. For each input event the key is the input's
 * `key` function (default: the key the event was stored under); a key function may return several
 * keys to deliver one event to several shards (a fan-out, e.g. a transfer to both accounts). A
 * process's outputs go to its output stream *under the same shard key*, so a shard's outputs are
 * written by one writer in input order: this is what makes exactly-once reflection simple.
 */
import type { JsonValue, StoredEvent } from '../model/event.ts';
import type { Random } from '../random/random.ts';
import { isRuntimeMutation, RUNTIME_MUTATIONS, type RuntimeMutation } from '../runtime/mutations.ts';

/** Event type name → payload type. */
export type EventMap = Record<string, unknown>;

/** One of a stream's events, discriminated by `type`. */
export type EventOf<E extends EventMap> = {
  [T in keyof E & string]: { readonly type: T; readonly time: number; readonly data: E[T] };
}[keyof E & string];

export interface StreamDef<E extends EventMap = EventMap> {
  readonly kind: 'stream';
  readonly name: string;
  /** How the key of an event appended from outside (ingress, `spive append`) is derived. */
  key?(event: EventOf<E>): string;
  /** Phantom: carries the event map for type inference only. */
  readonly events?: E;
}

/** Declares a stream. `key` is needed for streams that receive events from outside. */
export function defineStream<E extends EventMap>(name: string, options: { key?: (event: EventOf<E>) => string } = {}): StreamDef<E> {
  return options.key === undefined ? { kind: 'stream', name } : { kind: 'stream', name, key: options.key };
}

/** An input event as a handler sees it. It may be a reused view, valid only during the call. */
export type InputEvent<T extends string, D> = Readonly<Pick<StoredEvent, 'stream' | 'key' | 'seq' | 'position' | 'time'>> & {
  readonly type: T;
  readonly data: D;
};

export interface InputDef<E extends EventMap = EventMap> {
  readonly kind: 'input';
  readonly stream: StreamDef<E>;
  /** The shard key(s) an event belongs to in this process (default: the key it was stored under). */
  readonly key?: (event: InputEvent<keyof E & string, E[keyof E & string]> & EventOf<E>) => string | readonly string[];
}

/** Reads `source` re-keyed by `key`: how a process joins or re-partitions streams. */
export function keyedBy<E extends EventMap>(
  source: StreamDef<E>,
  key: (event: EventOf<E> & Readonly<Pick<StoredEvent, 'stream' | 'key' | 'seq' | 'position'>>) => string | readonly string[],
): InputDef<E> {
  return { kind: 'input', stream: source, key: key as InputDef<E>['key'] };
}

/** A stream read as stored, or re-keyed. (`any`: key functions make StreamDef invariant in its events.) */
// biome-ignore lint/suspicious/noExplicitAny: variance escape for heterogeneous inputs
export type InputSpec = StreamDef<any> | InputDef<any>;
/** Any stream, whatever its events. */
// biome-ignore lint/suspicious/noExplicitAny: variance escape
export type AnyStreamDef = StreamDef<any>;
type EventsOfInput<I> = I extends StreamDef<infer E> ? E : I extends InputDef<infer E> ? E : never;

/** What a handler may do besides returning the new state. Nothing here reaches the outside world. */
export interface HandlerContext<Out extends EventMap> {
  /** The shard this call runs for. */
  readonly key: string;
  /** Event time of the input event (outputs inherit it). */
  readonly time: number;
  /** Name and version of the running process. */
  readonly process: string;
  readonly version: string;
  /** Appends an output event to this shard of the output stream (after the handler returns). */
  emit<T extends keyof Out & string>(type: T, data: Out[T]): void;
  /** Requests an effect through a gateway (performed live, suppressed during catch-up). */
  effect<Req>(gateway: GatewayDef<Req>, request: Req): void;
  /** Randomness derived from (process, shard, input position): the same on every replay. */
  readonly random: Random;
  /** A deterministic unique id for this input event (and a counter within it). */
  id(): string;
}

export type Handler<S, T extends string, D, Out extends EventMap> = (state: S, event: InputEvent<T, D>, ctx: HandlerContext<Out>) => S;

export type HandlersFor<S, E extends EventMap, Out extends EventMap> = {
  readonly [T in keyof E & string]?: Handler<S, T, E[T], Out>;
};

export interface SnapshotPolicy {
  /** Take a snapshot round after this many input events (default 1000; 0 = never by count). */
  readonly everyEvents?: number;
  /** …or after this much wall time of the runner's clock (default: never by time). */
  readonly everyMs?: number;
}

export interface ProcessOptions<S, In extends Record<string, InputSpec>, Out extends EventMap> {
  readonly name: string;
  /** Explicit version tag; default: a hash of the app's source files. */
  readonly version?: string;
  readonly inputs: In;
  readonly output: StreamDef<Out>;
  /** The state of a shard that has seen no event yet. Must be JSON-serializable (snapshots). */
  readonly initial: (key: string) => S;
  /**
   * Handlers per input (by the name given in `inputs`) and event type. A handler returns the new
   * state; it may also mutate the state it got and return that same object (the fast path).
   */
  readonly on: { readonly [K in keyof In]?: HandlersFor<NoInfer<S>, EventsOfInput<In[K]>, Out> };
  readonly snapshots?: SnapshotPolicy;
  /**
   * Optional: every top-level payload field the handlers read (of any input). When they are all
   * numbers, a replay folds the store's typed columns instead of decoding events (docs/apps.md,
   * "Fast replay"). Checked in tests and `spive replay --verify`: reading another field is an error.
   */
  readonly reads?: readonly string[];
}

export interface ProcessDef<S = unknown, Out extends EventMap = EventMap> {
  readonly kind: 'process';
  readonly name: string;
  readonly version?: string;
  readonly inputs: ReadonlyArray<{ readonly name: string; readonly stream: AnyStreamDef; readonly key?: InputDef['key'] }>;
  readonly output: StreamDef<Out>;
  readonly initial: (key: string) => S;
  /** handlers[inputIndex][eventType] */
  readonly handlers: ReadonlyArray<Readonly<Record<string, Handler<S, string, unknown, Out> | undefined>>>;
  readonly snapshots: Required<SnapshotPolicy>;
  /** The payload fields the handlers read, when declared (`reads`). */
  readonly reads?: readonly string[];
}

export function defineProcess<S, In extends Record<string, InputSpec>, Out extends EventMap>(options: ProcessOptions<S, In, Out>): ProcessDef<S, Out> {
  const inputs = Object.entries(options.inputs).map(([name, spec]) =>
    spec.kind === 'stream' ? { name, stream: spec as AnyStreamDef } : { name, stream: spec.stream as AnyStreamDef, key: spec.key as InputDef['key'] },
  );
  const on = options.on as Record<string, Record<string, Handler<S, string, unknown, Out> | undefined> | undefined>;
  for (const name of Object.keys(on)) {
    if (!(name in options.inputs)) throw new TypeError(`process ${options.name}: handlers for '${name}', which is not one of its inputs (${Object.keys(options.inputs).join(', ')})`);
  }
  const def: ProcessDef<S, Out> = {
    kind: 'process',
    name: options.name,
    inputs,
    output: options.output,
    initial: options.initial,
    handlers: inputs.map((input) => on[input.name] ?? {}),
    snapshots: { everyEvents: options.snapshots?.everyEvents ?? 1000, everyMs: options.snapshots?.everyMs ?? 0 },
  };
  if (options.reads !== undefined) {
    for (const f of options.reads) if (typeof f !== 'string' || f === '') throw new TypeError(`process ${options.name}: reads must list payload field names, got ${JSON.stringify(f)}`);
  }
  return {
    ...def,
    ...(options.version === undefined ? {} : { version: options.version }),
    ...(options.reads === undefined ? {} : { reads: [...options.reads] }),
  };
}

// ------------------------------------------------------------------ gateways

/** What a gateway implementation learns about a call besides the request. */
export interface EffectCall {
  /** Stable across retries and replays: derived from process, shard, input position and effect index. */
  readonly idempotencyKey: string;
  readonly attempt: number;
  readonly process: string;
  readonly key: string;
}

/**
 * Classifies a failed call: a `fault` (timeout, refused connection, 5xx) is retried forever; a `bug`
 * (the request itself is wrong) stops the process loudly with the event that caused it.
 */
export type FailureKind = 'fault' | 'bug';

export interface GatewayImpl<Req> {
  perform(request: Req, call: EffectCall): Promise<unknown>;
  classify?(error: unknown): FailureKind;
}

export interface GatewayDef<Req = unknown> extends GatewayImpl<Req> {
  readonly kind: 'gateway';
  readonly name: string;
  /** Phantom: the request type, for inference. */
  readonly request?: Req;
}

export function defineGateway<Req>(name: string, impl: GatewayImpl<Req>): GatewayDef<Req> {
  const def: GatewayDef<Req> = { kind: 'gateway', name, perform: impl.perform.bind(impl) };
  return impl.classify === undefined ? def : { ...def, classify: impl.classify.bind(impl) };
}

// ------------------------------------------------------------------ simulation declarations

/** Input events a workload generates, over simulated time (used by `spive simulate`). */
export interface WorkloadSpec {
  /** Input events per simulated second (default 100). */
  readonly ratePerSecond?: number;
  /** Distinct keys (default 100) and Zipf skew of their popularity (0 = uniform; default 0.99). */
  readonly keys?: number;
  readonly skew?: number;
  /** Total input events (default 1000). */
  readonly events?: number;
  /** Names key number n (0 = the most popular); default `key-<n>`. */
  readonly keyName?: (n: number) => string;
  /**
   * Makes the i-th input event for `key` at `time`; return undefined to skip. `random` is the
   * workload's own stream (shared by all calls, in order), so `make` may draw freely; it must not
   * keep state of its own between calls.
   */
  readonly make: (input: { readonly i: number; readonly key: string; readonly time: number; readonly random: Random }) => WorkloadEvent | undefined;
}

export interface WorkloadEvent {
  readonly stream: AnyStreamDef;
  readonly type: string;
  /** The payload (JSON-serializable). */
  readonly data: unknown;
  /** Shard key; default: the stream's key function. */
  readonly key?: string;
}

/** A read-only view of a running app, for invariants. */
export interface AppView {
  /** A process's state of one shard (its initial state if the shard saw nothing). */
  // biome-ignore lint/suspicious/noExplicitAny: any output events
  state<S>(process: ProcessDef<S, any>, key: string): S;
  /** Every shard key a process has state for, sorted. */
  // biome-ignore lint/suspicious/noExplicitAny: any state and output events
  keys(process: ProcessDef<any, any>): readonly string[];
}

export interface InvariantDef {
  readonly name: string;
  /** `safety`: must hold at every step; `liveness`: must hold once faults stop and the app quiesces. */
  readonly kind: 'safety' | 'liveness';
  /** Returns a message when violated, undefined when it holds. */
  readonly check: (view: AppView) => string | undefined;
}

export function defineInvariant(name: string, kind: InvariantDef['kind'], check: InvariantDef['check']): InvariantDef {
  return { name, kind, check };
}

// ------------------------------------------------------------------ apps

export interface AppOptions {
  readonly name: string;
  readonly streams: readonly AnyStreamDef[];
  /** Processes of any state and output types. */
  readonly processes: readonly ProcessDef<any, any>[];
  readonly gateways?: readonly GatewayDef<any>[];
  readonly workload?: WorkloadSpec;
  readonly invariants?: readonly InvariantDef[];
  /**
   * Simulation only: the platform mutations (src/runtime/mutations.ts) this app runs under. For the
   * planted-bug examples under examples/buggy/ that prove the simulator catches a broken platform.
   */
  readonly simulation?: { readonly mutations?: readonly RuntimeMutation[] };
}

export interface AppDef extends Required<Omit<AppOptions, 'workload' | 'simulation'>> {
  readonly kind: 'app';
  readonly workload?: WorkloadSpec;
  readonly simulation?: { readonly mutations?: readonly RuntimeMutation[] };
}

/** Declares an app and checks that it hangs together (names unique, inputs/outputs declared, one writer per stream). */
export function defineApp(options: AppOptions): AppDef {
  const streams = new Map<string, AnyStreamDef>();
  for (const s of options.streams) {
    if (streams.has(s.name)) throw new TypeError(`app ${options.name}: stream '${s.name}' is declared twice`);
    streams.set(s.name, s);
  }
  const writers = new Map<string, string>();
  const names = new Set<string>();
  for (const p of options.processes) {
    if (names.has(p.name)) throw new TypeError(`app ${options.name}: process '${p.name}' is declared twice`);
    names.add(p.name);
    if (streams.get(p.output.name) !== p.output) throw new TypeError(`app ${options.name}: process '${p.name}' writes '${p.output.name}', which is not in the app's streams`);
    const other = writers.get(p.output.name);
    if (other !== undefined) throw new TypeError(`app ${options.name}: stream '${p.output.name}' is written by both '${other}' and '${p.name}' (one writer per stream)`);
    writers.set(p.output.name, p.name);
    for (const input of p.inputs) {
      if (streams.get(input.stream.name) !== input.stream) {
        throw new TypeError(`app ${options.name}: process '${p.name}' reads '${input.stream.name}', which is not in the app's streams`);
      }
    }
  }
  const gateways = options.gateways ?? [];
  const gatewayNames = new Set<string>();
  for (const g of gateways) {
    if (gatewayNames.has(g.name)) throw new TypeError(`app ${options.name}: gateway '${g.name}' is declared twice`);
    gatewayNames.add(g.name);
  }
  for (const m of options.simulation?.mutations ?? []) {
    if (!isRuntimeMutation(m)) throw new TypeError(`app ${options.name}: unknown runtime mutation '${m}' (known: ${Object.keys(RUNTIME_MUTATIONS).join(', ')})`);
  }
  const def = { kind: 'app' as const, name: options.name, streams: options.streams, processes: options.processes, gateways, invariants: options.invariants ?? [] };
  return { ...def, ...(options.workload === undefined ? {} : { workload: options.workload }), ...(options.simulation === undefined ? {} : { simulation: options.simulation }) };
}

/** Streams no process writes: they receive events from outside. */
export function ingressStreams(app: AppDef): AnyStreamDef[] {
  const written = new Set(app.processes.map((p) => p.output.name));
  return app.streams.filter((s) => !written.has(s.name));
}
