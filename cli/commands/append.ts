/**
 * `spive append <stream> [event] --store <loc>`: appends events from outside. While `spive run` holds
 * an embedded store, the events go through its local endpoint (so its ingress derives keys and its
 * runners see them at once); otherwise the store is opened directly.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { loadApp } from '../../src/app/load-app.ts';
import { SpiveError } from '../../src/model/errors.ts';
import { LockFile } from '../../src/store/embedded/lock-file.ts';
import { DEFAULT_STORE_LOCATION, openStore, parseStoreLocation } from '../../src/store/open-store.ts';
import { realClock } from '../../src/time/clock.ts';
import { parseEvents } from '../../src/runtime/ingress-server.ts';
import type { IngressEvent } from '../../src/runtime/platform.ts';
import { UsageError } from '../exit-codes.ts';
import type { CommandContext } from '../main.ts';
import { time } from '../options.ts';
import { makeOutput } from '../output.ts';

interface AppendOptions {
  store: string;
  key?: string;
  time?: number;
  app?: string;
  json?: boolean;
}

export function registerAppend(program: Command, context: CommandContext): void {
  program
    .command('append')
    .description('append events to a stream: one JSON event {type, data, time?, key?} as an argument, or JSON lines on stdin')
    .argument('<stream>', 'the stream to append to')
    .argument('[event]', 'one event as JSON; omit to read JSON lines (or a JSON array) from stdin')
    .option('--store <loc>', 'store location: a path, file:<dir>, memory:, postgres://… or nats://…', DEFAULT_STORE_LOCATION)
    .option('--key <key>', 'shard key for events that carry none')
    .option('--time <time>', 'event time for events that carry none (ISO-8601 or ms; default: now)', time('--time'))
    .option('--app <app>', "derive keys with the app's stream key functions (when no instance is running)")
    .option('--json', 'print one JSON object on stdout')
    .action(async (stream: string, eventText: string | undefined, options: AppendOptions) => {
      const out = makeOutput(options.json === true, context.streams);
      const text = eventText ?? readFileSync(0, 'utf8');
      let events: IngressEvent[];
      try {
        events = parseEvents(text);
      } catch (e) {
        throw new UsageError(`${eventText === undefined ? 'stdin' : '<event>'}: ${(e as Error).message}`);
      }
      events = events.map((e) => ({ ...e, ...(e.key === undefined && options.key !== undefined ? { key: options.key } : {}), ...(e.time === undefined && options.time !== undefined ? { time: options.time } : {}) }));
      const location = parseStoreLocation(options.store);
      const holder = location.kind === 'embedded' ? LockFile.holder(`${location.dir}/LOCK`) : undefined;
      let appended: Array<{ key: string; seq: number; position: number }>;
      let via: string;
      if (holder?.endpoint !== undefined) {
        via = holder.endpoint;
        const response = await fetch(`${holder.endpoint}/streams/${encodeURIComponent(stream)}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(events),
        }).catch((e: unknown) => {
          throw new UsageError(`the store is held by ${holder.command} (pid ${holder.pid}) but its endpoint ${holder.endpoint} does not answer: ${String(e)}`);
        });
        const body = (await response.json()) as { appended?: typeof appended; error?: string };
        if (!response.ok) throw new UsageError(`${body.error ?? `HTTP ${response.status}`}${body.appended?.length ? ` (${body.appended.length} events before it were appended)` : ''}`);
        appended = body.appended ?? [];
      } else {
        via = 'store';
        const loaded = options.app === undefined ? undefined : await loadApp(options.app);
        const def = loaded?.app.streams.find((s) => s.name === stream);
        if (loaded !== undefined && def === undefined) throw new UsageError(`<stream>: app ${loaded.app.name} has no stream '${stream}' (it has ${loaded.app.streams.map((s) => s.name).join(', ')})`);
        const store = await openStore(options.store, { command: 'spive append', warn: out.warn });
        appended = [];
        try {
          for (const [i, e] of events.entries()) {
            const eventTime = e.time ?? Math.round(realClock.nowMs());
            const key = e.key ?? def?.key?.({ type: e.type, time: eventTime, data: e.data } as never);
            if (key === undefined) throw new UsageError(`event ${i}: no key; give it a "key", pass --key, or --app <app> to derive it`);
            const r = await store.append(stream, key, [{ type: e.type, time: eventTime, data: e.data }]).catch((err: unknown) => {
              if (err instanceof SpiveError) throw new UsageError(`event ${i}: ${err.message}${appended.length ? ` (${appended.length} events before it were appended)` : ''}`);
              throw err;
            });
            appended.push({ key, seq: r.firstSeq, position: r.firstPosition });
          }
        } finally {
          await store.close();
        }
      }
      out.result({ stream, events: appended.length, via, appended });
      out.line(`appended ${appended.length} event${appended.length === 1 ? '' : 's'} to ${stream}${via === 'store' ? '' : ` via the running instance at ${via}`}`);
    });
}
