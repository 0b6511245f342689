/**
 * One simulated world: the in-memory store behind a simulated network; per process a primary and a
 * standby host, each running the production ProcessRunner with its own (skewed, drifting) clock,
 * timers and network link; the outside world behind the gateways; the workload driver; the fault
 * driver. The main loop is a short list of named phases, as in TigerBeetle's VOPR.
 */
import type { AppDef, AppView, ProcessDef } from '../src/app/define.ts';
import { joinFeeds } from '../src/app/join-feeds.ts';
import type { StoredEvent } from '../src/model/event.ts';
import type { Random } from '../src/random/random.ts';
import { GatewayRuntime } from '../src/runtime/gateway-runtime.ts';
import type { LogEntry, RuntimeLog } from '../src/runtime/log.ts';
import type { RuntimeMutation } from '../src/runtime/mutations.ts';
import { ProcessRunner } from '../src/runtime/runner.ts';
import type { AppendOptions, EventStore } from '../src/store/event-store.ts';
import { EmbeddedStore } from '../src/store/embedded/embedded-store.ts';
import { MemoryStore } from '../src/store/memory/memory-store.ts';
import { DEFAULT_SIM_DISK_OPTIONS, SimDisk } from './disk.ts';
import type { Clock } from '../src/time/clock.ts';
import { currentActor } from './real-world-guard.ts';
import { draw, exponential, type FaultKind, type FaultOptions } from './faults.ts';
import { SimNetwork, type NodeState } from './network.ts';
import { OutsideWorld } from './outside-world.ts';
import { SIM_EPOCH_MS, Scheduler } from './scheduler.ts';
import { WorkloadDriver, workloadShape, type WorkloadShape } from './workload.ts';

export interface WorldOptions {
  readonly app: AppDef;
  readonly seed: number;
  readonly random: Random;
  readonly faults: FaultOptions;
  readonly workload: Partial<WorkloadShape>;
  /** Version tag of the processes (their own tags win). */
  readonly version: string;
  readonly leaseTtlMs?: number;
  /** Called for every runtime log entry (the trace listens). */
  readonly onLog?: (host: string, entry: LogEntry) => void;
  /** Called for every committed append (the trace and the oracles listen). */
  readonly onCommit?: (commit: Commit) => void;
  /** `memory` (default) or `embedded`: the embedded store on a simulated disk that loses power. */
  readonly store?: 'memory' | 'embedded';
}

export interface Commit {
  readonly step: number;
  readonly simulatedMs: number;
  readonly stream: string;
  readonly key: string;
  readonly firstPosition: number;
  readonly events: readonly StoredEvent[];
  readonly token: number | undefined;
}

export interface FaultEvent {
  readonly kind: FaultKind;
  readonly step: number;
  readonly simulatedMs: number;
  readonly detail: string;
}

/** Idle events of runners whose output a join reads: the production default spacing. */
const SIM_IDLE = { baseMs: 1000, capMs: 60_000 } as const;

class Host {
  node!: NodeState;
  incarnation = 0;
  runner: ProcessRunner | undefined;
  restartAt: number | undefined;

  constructor(
    private readonly world: World,
    readonly process: ProcessDef<unknown>,
    readonly name: string,
    private readonly skewMs: number,
    private readonly driftPpm: number,
  ) {}

  get performer(): string {
    return `${this.name}#${this.incarnation}`;
  }

  start(): void {
    const w = this.world;
    this.incarnation++;
    this.restartAt = undefined;
    this.node = w.network.node(this.name);
    const rate = 1 + this.driftPpm / 1e6;
    const scheduler = w.scheduler;
    const skew = this.skewMs;
    const clock: Clock = { nowMs: () => SIM_EPOCH_MS + scheduler.now * rate + skew, monotonicMs: () => scheduler.now * rate };
    const timers = w.network.timersFor(this.node, rate);
    const random = w.random.stream(`host/${this.name}/${this.incarnation}`);
    const performer = this.performer;
    const log: RuntimeLog = {
      write: (entry) => {
        if (entry.kind === 'lease.acquired') w.tokens.set(performer, entry.fields?.token as number);
        w.options.onLog?.(performer, entry);
      },
    };
    const gateways = new Map<string, GatewayRuntime<unknown>>();
    for (const g of w.options.app.gateways) {
      const impl = w.outside.gateway(g.name, () => this.performer);
      gateways.set(g.name, new GatewayRuntime({ ...g, perform: impl.perform, classify: impl.classify as never }, { clock, timers, random: random.stream(`gateway/${g.name}`), log, overdueAfterMs: 30_000 }));
    }
    this.runner = new ProcessRunner(w.guarded(this.process), {
      store: w.network.storeFor(this.node),
      clock,
      timers,
      random,
      log,
      gateways,
      version: this.process.version ?? w.options.version,
      owner: this.performer,
      leaseTtlMs: w.options.leaseTtlMs ?? 5000,
      idle: w.joinFeeds.has(this.process.output.name) ? SIM_IDLE : false,
      backoff: { baseMs: 20, capMs: 2000 },
      mutations: w.mutations,
    });
    void this.runner.start();
  }

  /** Dies on the spot; restarts after `downtimeMs`. */
  crash(downtimeMs: number): void {
    if (this.runner === undefined || this.node.dead) return;
    this.node.dead = true;
    void this.runner.crash();
    this.runner = undefined;
    this.restartAt = this.world.scheduler.now + downtimeMs;
    this.world.scheduler.at(this.restartAt, () => this.start(), `restart ${this.name}`);
  }

  /** A fenced or failed runner is replaced (a supervisor restarts it) after a pause. */
  superviseAfterFence(): void {
    const mode = this.runner?.currentMode;
    if (mode === 'fenced' && this.restartAt === undefined) this.crash(1000);
  }
}

export class World {
  readonly scheduler = new Scheduler();
  /** The store now (an embedded store is replaced by a new instance when its machine loses power). */
  store!: EventStore;
  private observedStore!: EventStore;
  /** The simulated disk under an embedded store. */
  disk: SimDisk | undefined;
  private storeDownUntil = 0;
  readonly network: SimNetwork;
  readonly outside: OutsideWorld;
  readonly hosts: Host[] = [];
  readonly faultEvents: FaultEvent[] = [];
  readonly faultCounts: Record<string, number> = {};
  readonly driver: WorkloadDriver;
  readonly shape: WorkloadShape;
  readonly random: Random;
  readonly commits: Commit[] = [];
  /** The lease token each runner instance (performer) holds or last held. */
  readonly tokens = new Map<string, number>();
  /** The first app-code bug (a handler threw), if any. */
  bug: { process: string; error: unknown } | undefined;
  private faultsOn = true;
  private readonly faultRandom: Random;
  readonly mutations: ReadonlySet<RuntimeMutation>;
  /** Streams a join depends on: the only ones with idle events here (see src/app/join-feeds.ts). */
  readonly joinFeeds: ReadonlySet<string>;

  constructor(readonly options: WorldOptions) {
    this.random = options.random;
    this.faultRandom = options.random.stream('faults');
    const mutations = new Set(options.app.simulation?.mutations ?? []);
    this.mutations = mutations;
    const counter = { count: (kind: FaultKind, detail: string) => this.countFault(kind, detail) };
    this.network = new SimNetwork(this.scheduler, () => this.observedStore, options.faults, options.random.stream('network'), counter);
    this.outside = new OutsideWorld(this.scheduler, options.faults, options.random.stream('outside'), counter);
    const app = options.app;
    if (app.workload === undefined) throw new TypeError(`app ${app.name} declares no workload: add \`workload: { make, ... }\` to defineApp to simulate it`);
    this.shape = workloadShape(app.workload, options.workload);
    const ingress = this.network.node('ingress');
    const workloadRandom = options.random.stream('workload');
    const spec = { ...app.workload, make: (input: Parameters<typeof app.workload.make>[0]) => this.asActor('the workload', () => app.workload?.make(input)) };
    this.joinFeeds = joinFeeds(app);
    this.driver = new WorkloadDriver(app, spec, this.shape, this.scheduler, this.network.storeFor(ingress), this.scheduler.clock, workloadRandom, this.joinFeeds);
    const clocks = options.random.stream('clocks');
    for (const p of app.processes) {
      for (const role of ['a', 'b']) {
        const skew = (clocks.float() * 2 - 1) * options.faults.clock.maxSkewMs;
        const drift = (clocks.float() * 2 - 1) * options.faults.clock.maxDriftPpm;
        this.hosts.push(new Host(this, p, `${p.name}-${role}`, skew, drift));
      }
    }
  }

  private countFault(kind: FaultKind, detail: string): void {
    this.faultCounts[kind] = (this.faultCounts[kind] ?? 0) + 1;
    this.faultEvents.push({ kind, step: this.scheduler.steps, simulatedMs: this.scheduler.now, detail });
  }

  /** Runs app code as `actor` (for the determinism guard's messages). */
  asActor<T>(actor: string, fn: () => T): T {
    const before = currentActor.name;
    currentActor.name = actor;
    try {
      return fn();
    } finally {
      currentActor.name = before;
    }
  }

  /** A handler that runs as `actor` (the name is built once, not per event). */
  private asHandlerActor<S, E, C>(actor: string, h: (state: S, event: E, ctx: C) => S): (state: S, event: E, ctx: C) => S {
    return (state, event, ctx) => {
      const before = currentActor.name;
      currentActor.name = actor;
      try {
        return h(state, event, ctx);
      } finally {
        currentActor.name = before;
      }
    };
  }

  /** The process with its handlers wrapped so the guard can name them. */
  guarded(p: ProcessDef<unknown>): ProcessDef<unknown> {
    const handlers = p.handlers.map((byType, i) =>
      Object.fromEntries(
        Object.entries(byType).map(([type, h]) => [
          type,
          h === undefined ? h : this.asHandlerActor(`process ${p.name} (handler for ${p.inputs[i]?.name}/${type})`, h),
        ]),
      ),
    );
    return { ...p, handlers };
  }

  /** Opens the store: in memory, or the embedded store on a simulated disk. */
  async init(): Promise<void> {
    if ((this.options.store ?? 'memory') === 'memory') {
      // The memory store reports its commits itself: no wrapper, no read-back of every append.
      const store = new MemoryStore({
        clock: this.scheduler.clock,
        unsafeSkipFencing: this.mutations.has('skip-fencing'),
        onAppend: (events, options) => this.recordCommit(events, options?.token),
      });
      this.store = store;
      this.observedStore = store;
      return;
    }
    this.disk = new SimDisk(this.random.stream('disk'), { ...DEFAULT_SIM_DISK_OPTIONS, maxYields: 0 });
    this.setStore(await this.openEmbedded(this.disk));
  }

  private openEmbedded(disk: SimDisk): Promise<EmbeddedStore> {
    return EmbeddedStore.open('/sim/store', { fs: disk, lock: false, parquet: false, autoSeal: false, clock: this.scheduler.clock, warn: () => undefined });
  }

  private setStore(store: EventStore): void {
    this.store = store;
    this.observedStore = this.observed(store);
  }

  /** The store's machine loses power: unsynced writes are lost (or torn); it restarts after `downtimeMs`. */
  private crashStore(downtimeMs: number): void {
    const disk = this.disk;
    if (disk === undefined || this.scheduler.now < this.storeDownUntil) return;
    const cut = disk.powerCut(this.faultRandom.stream(`power-cut/${this.scheduler.steps}`));
    this.storeDownUntil = this.scheduler.now + downtimeMs;
    this.network.outageUntil = Math.max(this.network.outageUntil, this.storeDownUntil);
    const old = this.store;
    void old.close().catch(() => undefined); // ends its subscriptions: runners restart against the new store
    this.scheduler.at(this.storeDownUntil, () => {
      this.disk = cut;
      void this.openEmbedded(cut).then(
        (store) => this.setStore(store),
        (e: unknown) => (this.storeFailure ??= e),
      );
    }, 'store.restart');
  }

  /** The embedded store failed to reopen after a power cut (lost or corrupt data): a violation. */
  storeFailure: unknown;

  /** A committed append, for the oracles and the trace. */
  private recordCommit(events: readonly StoredEvent[], token: number | undefined): void {
    const first = events[0] as StoredEvent;
    const commit: Commit = { step: this.scheduler.steps, simulatedMs: this.scheduler.now, stream: first.stream, key: first.key, firstPosition: first.position, events, token };
    this.commits.push(commit);
    this.options.onCommit?.(commit);
  }

  /** A store that does not report its commits (the embedded one), wrapped so that every append is read back and recorded. */
  private observed(store: EventStore): EventStore {
    const world = this;
    return new Proxy(store, {
      get(target, property, receiver) {
        if (property === 'append') {
          return async (stream: string, key: string, events: never[], options?: AppendOptions) => {
            const r = await (target as EventStore).append(stream, key, events, options);
            const stored: StoredEvent[] = [];
            for await (const batch of (target as EventStore).readShard(stream, key, { fromSeq: r.firstSeq })) stored.push(...batch);
            world.recordCommit(stored, options?.token);
            return r;
          };
        }
        const value = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }

  // ------------------------------------------------------------------ phases

  start(): number {
    for (const h of this.hosts) h.start();
    const lastArrival = this.driver.start();
    const f = this.options.faults;
    this.scheduleFaults(lastArrival * f.startFraction, lastArrival * f.untilFraction);
    return lastArrival;
  }

  /** Faults fire until `untilMs`, then stop: the rest of the run is for healing. */
  private scheduleFaults(fromMs: number, untilMs: number): void {
    if (fromMs > 0) {
      // Before the window: no fault at all, not even per-call ones.
      this.network.faultsOn = false;
      this.outside.faultsOn = false;
      this.scheduler.at(fromMs, () => {
        if (!this.faultsOn) return;
        this.network.faultsOn = true;
        this.outside.faultsOn = true;
      }, 'faults.start');
    }
    const f = this.options.faults;
    // Each kind of fault draws from its own stream: dropping one (as shrinking does) leaves the rest as they were.
    const every = (meanMs: number, label: string, fire: (r: Random) => void) => {
      const r = this.faultRandom.stream(label);
      const next = () => {
        const at = Math.max(this.scheduler.now, fromMs) + exponential(r, meanMs);
        if (at < untilMs) this.scheduler.at(at, () => (this.faultsOn ? (fire(r), next()) : undefined), label);
      };
      next();
    };
    if (f.storeOutage) {
      const o = f.storeOutage;
      every(o.meanIntervalMs, 'fault.outage', (r) => {
        const d = draw(r, o.durationMs);
        this.network.outageUntil = Math.max(this.network.outageUntil, this.scheduler.now + d);
        this.countFault('storeOutage', `${Math.round(d)} ms`);
      });
    }
    if (f.partition) {
      const o = f.partition;
      every(o.meanIntervalMs, 'fault.partition', (r) => {
        const h = r.pick(this.hosts);
        const d = draw(r, o.durationMs);
        h.node.partitionedUntil = Math.max(h.node.partitionedUntil, this.scheduler.now + d);
        this.countFault('partition', `${h.name} for ${Math.round(d)} ms`);
      });
    }
    if (f.crash) {
      const o = f.crash;
      every(o.meanIntervalMs, 'fault.crash', (r) => {
        const h = r.pick(this.hosts);
        if (h.runner === undefined) return;
        const d = draw(r, o.downtimeMs);
        this.countFault('crash', `${h.performer}, down ${Math.round(d)} ms`);
        h.crash(d);
      });
    }
    if (f.storeCrash && this.disk !== undefined) {
      const o = f.storeCrash;
      every(o.meanIntervalMs, 'fault.store-crash', (r) => {
        const d = draw(r, o.downtimeMs);
        this.countFault('storeCrash', `power cut, down ${Math.round(d)} ms`);
        this.crashStore(d);
      });
    }
    if (f.pause) {
      const o = f.pause;
      every(o.meanIntervalMs, 'fault.pause', (r) => {
        const h = r.pick(this.hosts);
        const d = draw(r, o.durationMs);
        h.node.pausedUntil = Math.max(h.node.pausedUntil, this.scheduler.now + d);
        this.countFault('pause', `${h.performer} for ${Math.round(d)} ms`);
      });
    }
    this.scheduler.at(untilMs, () => this.stopFaults(), 'faults.stop');
  }

  stopFaults(): void {
    this.faultsOn = false;
    this.network.faultsOn = false;
    this.outside.faultsOn = false;
  }

  /** Replaces fenced runners, notes app bugs. Called between steps. */
  supervise(): void {
    for (const h of this.hosts) {
      h.superviseAfterFence();
      if (h.runner?.currentMode === 'failed' && this.bug === undefined) this.bug = { process: h.process.name, error: h.runner?.failure };
    }
  }

  /** The runner of a process that currently holds its lease, if any. */
  activeRunner(process: string): ProcessRunner | undefined {
    let best: ProcessRunner | undefined;
    for (const h of this.hosts) {
      if (h.process.name !== process || h.runner === undefined || h.node.dead) continue;
      const mode = h.runner.currentMode;
      if ((mode === 'live' || mode === 'catch-up') && (best === undefined || (h.runner.currentLeaseToken ?? 0) > (best.currentLeaseToken ?? 0))) best = h.runner;
    }
    return best;
  }

  /** True when inputs are all in, every process has a live runner that has taken and handled everything. */
  async quiescent(): Promise<boolean> {
    if (!this.driver.done) return false;
    if (this.scheduler.now < this.storeDownUntil) return false;
    // The cheap checks first: the store's stats are read only once every runner is live and idle
    // (this runs between steps, so nothing changes while it awaits).
    const runners: ProcessRunner[] = [];
    for (const p of this.options.app.processes) {
      const r = this.activeRunner(p.name);
      if (r === undefined || !r.isIdle()) return false;
      if (r.currentMode !== 'live' || r.currentOverdueSinceMs !== null) return false;
      runners.push(r);
    }
    const stats = await this.store.stats();
    const last = new Map(stats.streams.map((s) => [s.stream, s.lastPosition]));
    for (const r of runners) if (!(await r.settledAt(last, this.store))) return false;
    return true;
  }

  /** True when every live runner is between events (a consistent point for safety invariants). */
  allIdle(): boolean {
    return this.options.app.processes.every((p) => this.activeRunner(p.name)?.isIdle() ?? false);
  }

  /** The app as the live runners see it now. */
  liveView(): AppView {
    return {
      state: (process, key) => {
        const r = this.activeRunner(process.name);
        return (r === undefined ? process.initial(key) : r.stateOf(key)) as never;
      },
      keys: (process) => this.activeRunner(process.name)?.shardKeys() ?? [],
    };
  }

  runnerStatuses() {
    return this.hosts.map((h) => ({ host: h.performer, status: h.runner?.status() }));
  }
}
