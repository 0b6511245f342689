/**
 * `spive run <app>`: runs an app live on a store with the real clock, an HTTP ingress and a status
 * table. Ctrl-C stops cleanly (leases released, store closed); a restart resumes exactly where the
 * durable outputs end. On a store many processes share (PostgreSQL, JetStream) several instances
 * split the shards with `--shards`; one started on shards another holds waits for the lease as a
 * standby and takes over when the holder stops or its lease expires (`--lease-ttl`).
 */
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { joinFeeds } from '../../src/app/join-feeds.ts';
import { loadApp } from '../../src/app/load-app.ts';
import { isFenced } from '../../src/model/errors.ts';
import { parseShardRange } from '../../src/model/shard.ts';
import { realRandom } from '../../src/random/real-random.ts';
import { EmbeddedStore } from '../../src/store/embedded/embedded-store.ts';
import { DEFAULT_STORE_LOCATION, openStore, parseStoreLocation } from '../../src/store/open-store.ts';
import { realClock } from '../../src/time/clock.ts';
import { realTimers } from '../../src/time/timers.ts';
import { startIngressServer } from '../../src/runtime/ingress-server.ts';
import type { LogEntry, RuntimeLog } from '../../src/runtime/log.ts';
import { Platform } from '../../src/runtime/platform.ts';
import { EXIT_FOUND_PROBLEM, UsageError } from '../exit-codes.ts';
import type { CommandContext } from '../main.ts';
import { duration, integer } from '../options.ts';
import { makeOutput } from '../output.ts';
import { formatStatus, rateTracker } from '../status-view.ts';
import { catalogueDirFor } from '../analyzed-store.ts';
import { replayRoutes } from '../replay-service.ts';

/** Idle spacing of a finite run (`--until-idle`): a join's quiet input is closed within tens of milliseconds. */
const UNTIL_IDLE_SPACING = { baseMs: 20, capMs: 500 } as const;

interface RunOptions {
  store: string;
  port: number;
  shards: string;
  leaseTtl: number;
  processes?: string;
  owner?: string;
  untilIdle?: boolean;
  statusEvery: number;
  verbose?: boolean;
  json?: boolean;
}

export function registerRun(program: Command, context: CommandContext): void {
  program
    .command('run')
    .description('run an app live on a store, with an HTTP ingress and a status table (Ctrl-C stops cleanly)')
    .argument('<app>', 'the app: a module, or a folder holding app.ts')
    .option('--store <loc>', 'store location: a path or file:<dir> (embedded: one process), memory:, postgres://… or nats://… (shared: one process per shard range)', DEFAULT_STORE_LOCATION)
    .option('--port <n>', 'HTTP ingress port on 127.0.0.1 (0: any free port)', integer('--port'), 4790)
    .option('--shards <range>', 'bucket range this instance owns, like 0-2048 (of 0-4096), or all; on shards another instance holds, it waits as a standby', 'all')
    .option('--lease-ttl <duration>', 'how long a lease outlives its holder (renewed every third of it); a standby takes over within one to two of these after its holder dies', duration('--lease-ttl'), 10_000)
    .option('--processes <names>', 'run only these processes (comma-separated)')
    .option('--owner <name>', 'lease owner name (default: spive-run@host:pid)')
    .option('--until-idle', 'process everything already in the store, then stop (a finite run)')
    .option('--status-every <duration>', 'how often the status table is printed', duration('--status-every'), 2000)
    .option('--verbose', 'print every runtime happening (effects, snapshots, leases)')
    .option('--json', 'with --until-idle: print the final status as one JSON object')
    .action(async (appSpec: string, options: RunOptions) => {
      const out = makeOutput(options.json === true, context.streams);
      const range = parseShardRange(options.shards);
      if (range === undefined) throw new UsageError(`--shards: expected a bucket range like 0-2048 (0 <= from < to <= 4096) or all, got ${JSON.stringify(options.shards)}`);
      if (options.port < 0 || options.port > 65535) throw new UsageError(`--port: expected 0..65535, got ${options.port}`);
      if (options.leaseTtl < 100) throw new UsageError(`--lease-ttl: expected at least 100ms, got ${options.leaseTtl}ms`);
      const { app, version, file } = await loadApp(appSpec);
      const store = await openStore(options.store, { command: `spive run ${appSpec}`, warn: out.warn });
      const log: RuntimeLog = {
        write(entry: LogEntry) {
          if (entry.level === 'error' || entry.level === 'warn' || (options.verbose && entry.level !== 'debug') || (options.verbose && entry.kind.startsWith('effect'))) {
            context.streams.stderr.write(`${entry.level.toUpperCase().padEnd(5)} ${entry.kind}: ${entry.message}\n`);
          }
        },
      };
      let platform: Platform | undefined;
      let server: Awaited<ReturnType<typeof startIngressServer>> | undefined;
      const stopSignal = new AbortController();
      const onSignal = () => stopSignal.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const owner = options.owner ?? `spive-run@${hostname()}:${process.pid}`;
      // Printed before the leases are taken: a standby shows what it waits for (its runners log whom).
      out.line(`spive run: app ${app.name} (${file}, version ${version}) on ${store.location}, shards ${options.shards === 'all' ? 'all' : `[${range.from}, ${range.to})`} as ${owner}`);
      try {
        platform = await Platform.start(app, {
          store,
          clock: realClock,
          timers: realTimers,
          random: realRandom(),
          log,
          version,
          range,
          owner,
          leaseTtlMs: options.leaseTtl,
          // Ctrl-C while still waiting for a lease (a standby) stops the waiting runners cleanly.
          signal: stopSignal.signal,
          ...(options.processes === undefined ? {} : { processes: options.processes.split(',').map((s) => s.trim()).filter(Boolean) }),
          // A finite run writes idle events only where a join needs them to take its last events, closely spaced.
          ...(options.untilIdle ? { idle: UNTIL_IDLE_SPACING, ingressIdle: UNTIL_IDLE_SPACING, idleStreams: joinFeeds(app) } : {}),
        });
        if (!options.untilIdle && !stopSignal.signal.aborted) {
          // The holder of an embedded store also executes the replay plans handed to it (cli/replay-service.ts).
          const location = parseStoreLocation(options.store, '--store');
          const routes = store instanceof EmbeddedStore ? replayRoutes({ store, location, catalogueDir: catalogueDirFor(location, undefined) }, `spive run ${appSpec} (pid ${process.pid})`, out.warn, (r) => (platform as Platform).switchOver(r)) : [];
          server = await startIngressServer(platform, { port: options.port, routes });
          if (store instanceof EmbeddedStore) store.advertise(server.url);
          out.line(`ingress: POST ${server.url}/streams/<name>   status: GET ${server.url}/status   Ctrl-C stops`);
        }
        const rates = rateTracker();
        const tty = context.streams.stdout.isTTY === true;
        let lastPrint = 0;
        for (;;) {
          if (stopSignal.signal.aborted) break;
          if (options.untilIdle) {
            await platform.settle({ timeoutMs: 24 * 3_600_000 });
            break;
          }
          await realTimers.sleep(200, stopSignal.signal).catch(() => undefined);
          if (stopSignal.signal.aborted || platform.failure() !== undefined) break;
          const now = realClock.nowMs();
          if (now - lastPrint >= options.statusEvery) {
            const text = formatStatus(platform.status(), rates.rates(platform.status(), now), now);
            context.streams.stdout.write(tty ? `\x1b[s${text}\n\x1b[u` : `${text}\n\n`);
            lastPrint = now;
          }
        }
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await server?.close();
        await platform?.stop();
        const status = platform?.status();
        await store.close();
        if (status !== undefined) {
          const now = realClock.nowMs();
          out.line(formatStatus(status, new Map(), now));
          out.result(status);
        }
      }
      const failure = platform?.failure();
      if (failure !== undefined && !isFenced(failure.error)) {
        context.streams.stderr.write(`spive run: process ${failure.process} stopped: ${failure.error instanceof Error ? failure.error.message : String(failure.error)}\n`);
        context.exitCode = EXIT_FOUND_PROBLEM;
      } else if (failure !== undefined) {
        out.warn(`process ${failure.process} was fenced by another runner and gave up its shards`);
      } else {
        out.line('stopped cleanly');
      }
    });
}
