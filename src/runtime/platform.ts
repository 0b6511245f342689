/**
 * The platform: an app running on a store. One runner per process (for a shard range), one gateway
 * runtime per gateway, the ingress for streams that receive events from outside (with idle events
 * while they are quiet), status and an `AppView` for invariants. `spive run` and the simulator both
 * build exactly this; only the Clock, Timers, Random and the store underneath differ.
 */
import { ingressStreams, type AppDef, type AppView, type GatewayImpl, type ProcessDef, type StreamDef } from '../app/define.ts';
import { InvalidInputError, isUnavailable } from '../model/errors.ts';
import type { JsonValue } from '../model/event.ts';
import { ALL_SHARDS, type ShardRange } from '../model/shard.ts';
import { seededRandom, type Random } from '../random/random.ts';
import type { AppendResult, EventStore } from '../store/event-store.ts';
import { realClock, type Clock } from '../time/clock.ts';
import { realTimers, type TimerHandle, type Timers } from '../time/timers.ts';
import { backoffDelayMs, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.ts';
import { GatewayRuntime, type GatewayStatus } from './gateway-runtime.ts';
import { silentLog, type RuntimeLog } from './log.ts';
import { IDLE_EVENT, ProcessRunner, type IdlePolicy, type RunnerStatus, type ShadowRun } from './runner.ts';
import { switchedGeneration, switchOver, SwitchOverError, type SwitchHost, type SwitchOverRequest, type SwitchOverResult } from './switch-over.ts';
import type { GenerationStore } from '../replay/generation-store.ts';
import { assert } from '../util/assert.ts';

export interface PlatformOptions {
  readonly store: EventStore;
  readonly clock?: Clock;
  readonly timers?: Timers;
  /** Root of the platform's randomness (backoff jitter); named streams are derived per runner/gateway. */
  readonly random?: Random;
  readonly log?: RuntimeLog;
  /** Lease owner name (default `spive`). */
  readonly owner?: string;
  readonly range?: ShardRange;
  /** Version of processes without an explicit tag (normally the app's source hash). */
  readonly version?: string;
  /** Replaces gateway implementations by name (tests, the simulator). */
  readonly gateways?: Readonly<Record<string, GatewayImpl<never>>>;
  /** Idle events written by runners to their outputs while inputs are quiet (false: off). */
  readonly idle?: IdlePolicy | false;
  /** Idle events written to ingress streams while no events arrive (false: off). */
  readonly ingressIdle?: IdlePolicy | false;
  /** Only these streams (ingress streams and process outputs) get idle events (default: all). */
  readonly idleStreams?: ReadonlySet<string>;
  readonly leaseTtlMs?: number;
  readonly overdueAfterMs?: number;
  readonly backoff?: BackoffPolicy;
  /** Run only these processes (default: all). */
  readonly processes?: readonly string[];
  /**
   * Stops the platform when aborted. Mostly for `start`: a runner waits for its lease as long as
   * another holder keeps it (a standby), and this is how such a wait ends cleanly.
   */
  readonly signal?: AbortSignal;
}

export interface IngressEvent {
  readonly type: string;
  readonly data: JsonValue;
  /** Event time (default: the clock's now). */
  readonly time?: number;
  /** Shard key (default: the stream's key function). */
  readonly key?: string;
}

export interface PlatformStatus {
  readonly app: string;
  readonly processes: readonly RunnerStatus[];
  readonly gateways: readonly GatewayStatus[];
  readonly ingress: ReadonlyArray<{ readonly stream: string; readonly events: number; readonly idleEvents: number }>;
}

const DEFAULT_IDLE: IdlePolicy = { baseMs: 1000, capMs: 60_000 };

export class Platform {
  private readonly runners: ProcessRunner[];
  /** Runners of the switched generation (they settle against its store). */
  private readonly generationRunners = new Set<ProcessRunner>();
  private switching = false;
  private readonly gateways = new Map<string, GatewayRuntime<unknown>>();
  private readonly ingress = new Map<string, { def: StreamDef; events: number; idleEvents: number; spacingMs: number; timer?: TimerHandle; lastMs: number }>();
  private readonly clock: Clock;
  private readonly timers: Timers;
  private readonly random: Random;
  private readonly log: RuntimeLog;
  /** The switched generation of the store, when there is one: its runners read and settle through it. */
  private generation: GenerationStore | undefined;
  private stopped = false;

  private constructor(
    readonly app: AppDef,
    private readonly options: PlatformOptions,
    generation: GenerationStore | null,
  ) {
    this.clock = options.clock ?? realClock;
    this.timers = options.timers ?? realTimers;
    this.random = options.random ?? seededRandom(0);
    this.log = options.log ?? silentLog;
    const random = this.random;
    const log = this.log;
    for (const g of app.gateways) {
      const impl = options.gateways?.[g.name] as GatewayImpl<unknown> | undefined;
      const def = impl === undefined ? g : { ...g, perform: impl.perform.bind(impl), ...(impl.classify ? { classify: impl.classify.bind(impl) } : {}) };
      this.gateways.set(g.name, new GatewayRuntime(def, { clock: this.clock, timers: this.timers, random: random.stream(`gateway/${g.name}`), log, ...(options.backoff ? { backoff: options.backoff } : {}), ...(options.overdueAfterMs !== undefined ? { overdueAfterMs: options.overdueAfterMs } : {}) }));
    }
    const wanted = options.processes;
    if (wanted !== undefined) {
      for (const name of wanted) {
        if (!app.processes.some((p) => p.name === name)) throw new InvalidInputError('processes', `one of ${app.processes.map((p) => p.name).join(', ')}`, name);
      }
    }
    this.runners = app.processes
      .filter((p) => wanted === undefined || wanted.includes(p.name))
      .map((p: ProcessDef<unknown>) => {
        const version = p.version ?? options.version ?? 'unversioned';
        if (generation === null || !generation.isSwitched(p.output.name)) return this.makeRunner(p, version, options.store);
        return this.makeRunner(p, version, generation, undefined, generation.effectsDoneUpTo(p.name));
      });
    if (generation !== null) this.adoptGeneration(generation);
    for (const s of ingressStreams(app)) this.ingress.set(s.name, { def: s, events: 0, idleEvents: 0, spacingMs: 0, lastMs: this.clock.monotonicMs() });
  }

  /** Starts every runner (each takes its lease and restores its snapshots first). */
  static async start(app: AppDef, options: PlatformOptions): Promise<Platform> {
    const generation = await retryFaults(() => switchedGeneration(options.store, app, options.version ?? 'unversioned', options.range ?? ALL_SHARDS), options);
    const platform = new Platform(app, options, generation);
    options.signal?.addEventListener('abort', () => void platform.stop(), { once: true });
    if (options.signal?.aborted) await platform.stop();
    await Promise.all(platform.runners.map((r) => r.start()));
    for (const name of platform.ingress.keys()) platform.scheduleIngressIdle(name);
    return platform;
  }

  /** Appends an event from outside to an ingress stream, deriving its key and time. */
  async append(streamName: string, event: IngressEvent): Promise<AppendResult & { key: string }> {
    const entry = this.ingress.get(streamName);
    if (entry === undefined) {
      const writer = this.app.processes.find((p) => p.output.name === streamName);
      throw new InvalidInputError(
        'stream',
        writer === undefined
          ? `one of the app's input streams (${[...this.ingress.keys()].join(', ') || 'none'})`
          : `an input stream; '${streamName}' is written by process '${writer.name}' (one writer per stream)`,
        streamName,
      );
    }
    if (typeof event.type !== 'string' || event.type === '' || event.type.startsWith('$')) {
      throw new InvalidInputError('type', "an event type (not starting with '$')", event.type);
    }
    const time = event.time ?? Math.round(this.clock.nowMs());
    let key = event.key;
    if (key === undefined) {
      if (entry.def.key === undefined) throw new InvalidInputError('key', `a key (stream '${streamName}' declares no key function)`);
      key = entry.def.key({ type: event.type, time, data: event.data } as never);
    }
    if (typeof key !== 'string' || key === '' || key.startsWith('$')) throw new InvalidInputError('key', "a non-empty key not starting with '$'", key);
    const result = await this.options.store.append(streamName, key, [{ type: event.type, time, data: event.data }]);
    entry.events++;
    entry.lastMs = this.clock.monotonicMs();
    entry.spacingMs = 0;
    return { ...result, key };
  }

  private scheduleIngressIdle(name: string): void {
    const policy = this.options.ingressIdle === undefined ? DEFAULT_IDLE : this.options.idleStreams?.has(name) === false ? false : this.options.ingressIdle;
    const entry = this.ingress.get(name);
    if (policy === false || entry === undefined || this.stopped) return;
    const spacing = entry.spacingMs === 0 ? policy.baseMs : entry.spacingMs;
    const wait = Math.max(0, entry.lastMs + spacing - this.clock.monotonicMs());
    entry.timer = this.timers.after(wait, () => {
      if (this.stopped) return;
      const quietMs = this.clock.monotonicMs() - entry.lastMs;
      if (quietMs + 0.5 < spacing) return this.scheduleIngressIdle(name); // an event came meanwhile
      this.options.store.append(name, `${IDLE_EVENT}/ingress`, [{ type: IDLE_EVENT, time: Math.round(this.clock.nowMs()), data: null }]).then(
        () => {
          entry.idleEvents++;
          entry.lastMs = this.clock.monotonicMs();
          entry.spacingMs = Math.min(policy.capMs, spacing * 2);
          this.scheduleIngressIdle(name);
        },
        () => this.scheduleIngressIdle(name), // a fault (or the store closed): try again later
      );
    });
  }

  /**
   * Moves a changed process and its downstream to their new version while serving (switch-over.ts):
   * after a replay of the change has written the new version's output.
   */
  async switchOver(request: SwitchOverRequest): Promise<SwitchOverResult> {
    if (this.switching) throw new SwitchOverError('a switch-over is already running');
    this.switching = true;
    try {
      return await switchOver(this.switchHost(), request);
    } finally {
      this.switching = false;
    }
  }

  private switchHost(): SwitchHost {
    return {
      app: this.app,
      store: this.options.store,
      clock: this.clock,
      timers: this.timers,
      range: this.options.range ?? ALL_SHARDS,
      runner: (name) => this.runner(name),
      makeRunner: (def, version, store, shadow, done) => this.makeRunner(def, version, store, shadow, done),
      replaceRunner: (old, next, generation) => {
        const i = this.runners.indexOf(old);
        assert(i >= 0, 'the replaced runner is one of the platform\'s');
        this.runners[i] = next;
        if (generation) this.generationRunners.add(next);
      },
      adoptGeneration: (store) => this.adoptGeneration(store),
    };
  }

  private adoptGeneration(store: GenerationStore): void {
    this.generation = store;
    for (const r of this.runners) if (store.isSwitched(r.def.output.name)) this.generationRunners.add(r);
  }

  /** A runner for `def` with this platform's options, on `store` (the platform's, or a generation's). */
  private makeRunner(p: ProcessDef<unknown>, version: string, store: EventStore, shadow?: ShadowRun, effectsDoneUpTo?: readonly number[]): ProcessRunner {
    const options = this.options;
    return new ProcessRunner(p, {
      store,
      clock: this.clock,
      timers: this.timers,
      random: this.random.stream(shadow === undefined ? `runner/${p.name}` : `runner/${p.name}@${version}`),
      log: this.log,
      gateways: this.gateways,
      version,
      owner: options.owner ?? 'spive',
      range: options.range ?? ALL_SHARDS,
      ...(options.leaseTtlMs !== undefined ? { leaseTtlMs: options.leaseTtlMs } : {}),
      ...(options.idleStreams !== undefined && !options.idleStreams.has(p.output.name) ? { idle: false as const } : options.idle !== undefined ? { idle: options.idle } : {}),
      ...(options.backoff !== undefined ? { backoff: options.backoff } : {}),
      ...(options.overdueAfterMs !== undefined ? { overdueAfterMs: options.overdueAfterMs } : {}),
      ...(shadow === undefined ? {} : { shadow }),
      ...(effectsDoneUpTo === undefined ? {} : { effectsDoneUpTo }),
    });
  }

  status(): PlatformStatus {
    return {
      app: this.app.name,
      processes: this.runners.map((r) => r.status()),
      gateways: [...this.gateways.values()].map((g) => g.status()),
      ingress: [...this.ingress.entries()].map(([stream, e]) => ({ stream, events: e.events, idleEvents: e.idleEvents })),
    };
  }

  runner(process: string): ProcessRunner | undefined {
    return this.runners.find((r) => r.def.name === process);
  }

  /** The first runner failure (a bug or a fence), if any. */
  failure(): { process: string; error: unknown } | undefined {
    for (const r of this.runners) if (r.failure !== undefined) return { process: r.def.name, error: r.failure };
    return undefined;
  }

  view(): AppView {
    return {
      // biome-ignore lint/suspicious/noExplicitAny: any output events
      state: <S>(process: ProcessDef<S, any>, key: string): S => {
        const runner = this.runner(process.name);
        return (runner === undefined ? process.initial(key) : runner.stateOf(key)) as S;
      },
      keys: (process: { name: string }) => this.runner(process.name)?.shardKeys() ?? [],
    };
  }

  /**
   * Resolves once every runner has taken every event committed to its inputs (or has stopped).
   * For tests and `spive run --until-idle`.
   */
  async settle(options: { timeoutMs?: number; pollMs?: number } = {}): Promise<void> {
    const deadline = this.clock.monotonicMs() + (options.timeoutMs ?? 30_000);
    for (;;) {
      const stats = await this.options.store.stats();
      const last = new Map(stats.streams.map((s) => [s.stream, s.lastPosition]));
      const generation = this.generation;
      const generationLast = generation === undefined ? last : new Map((await generation.stats()).streams.map((s) => [s.stream, s.lastPosition]));
      let settled = true;
      for (const r of this.runners) {
        const mode = r.status().mode;
        if (mode === 'stopped' || mode === 'failed' || mode === 'fenced') continue;
        const inGeneration = generation !== undefined && this.generationRunners.has(r);
        if (!(await (inGeneration ? r.settledAt(generationLast, generation) : r.settledAt(last)))) {
          settled = false;
          break;
        }
      }
      if (settled) return;
      if (this.clock.monotonicMs() > deadline) {
        throw new Error(`platform did not settle in time: ${JSON.stringify(this.runners.map((r) => ({ process: r.def.name, mode: r.status().mode, inputs: r.status().inputs })))}`);
      }
      await this.timers.sleep(options.pollMs ?? 2);
    }
  }

  /** Stops runners (releasing their leases) and ingress timers; does not close the store. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const e of this.ingress.values()) e.timer?.cancel();
    await Promise.all(this.runners.map((r) => r.stop()));
  }
}

/** Runs `f`, retrying hardware faults with backoff (as runners do), until it succeeds or the platform is aborted. */
async function retryFaults<T>(f: () => Promise<T>, options: PlatformOptions): Promise<T> {
  const timers = options.timers ?? realTimers;
  const random = (options.random ?? seededRandom(0)).stream('platform/start');
  for (let attempt = 1; ; attempt++) {
    try {
      return await f();
    } catch (e) {
      if (!isUnavailable(e) || options.signal?.aborted === true) throw e;
      await timers.sleep(backoffDelayMs(options.backoff ?? DEFAULT_BACKOFF, Math.min(attempt, 12), random), options.signal);
    }
  }
}
