/**
 * `spive store read [store] <stream>`: a stream's events, or those of a replayed version of it (the
 * base prefix and the new events, as a downstream reader sees them: src/replay/view.ts), filtered by
 * key, type, position and time. Works on any store through the EventStore interface; an embedded store
 * is opened read-only, so this works while `spive run` holds it.
 */
import { type Command, InvalidArgumentError } from 'commander';
import type { StoredEvent } from '../../src/model/event.ts';
import { VERSION_SEPARATOR, versionedStreamName } from '../../src/replay/naming.ts';
import { versionView } from '../../src/replay/view.ts';
import { currentGeneration, type GenerationRecord } from '../../src/replay/generation-record.ts';
import { GenerationStore } from '../../src/replay/generation-store.ts';
import type { EventStore } from '../../src/store/event-store.ts';
import { DEFAULT_STORE_LOCATION } from '../../src/store/open-store.ts';
import { UsageError } from '../exit-codes.ts';
import type { CommandContext } from '../main.ts';
import { positiveInt, time } from '../options.ts';
import { makeOutput } from '../output.ts';
import { openForReading } from '../open-for-reading.ts';

export const DEFAULT_LIMIT = 50;
/** Lines are cut to this width when stdout is not a terminal. */
const PIPE_WIDTH = 160;

export interface ReadQuery {
  readonly stream: string;
  /** A replayed version of the stream (`<stream>--<version>` holds it); undefined: the stream as stored. */
  readonly version?: string;
  readonly key?: string;
  /** Event types wanted (any of them); undefined or empty: every type. */
  readonly types?: readonly string[];
  /** Only events at or after this position (with a version: the ordinal in the version's view). */
  readonly fromPosition?: number;
  /** Only events with time >= this (ms since the epoch). */
  readonly fromTime?: number;
  /** At most this many events are returned (0: all); every match is still counted. */
  readonly limit: number;
  /** Include platform events (types starting with `$`). */
  readonly platform: boolean;
}

export interface ReadResult {
  /** Events that pass the filters. */
  readonly matched: number;
  /** The first `limit` of them, in stream order. */
  readonly events: StoredEvent[];
}

/** Streams of the store, sorted; the versions found for `stream` (the tags of its `<stream>--<tag>` streams). */
export async function streamsAndVersions(store: EventStore, stream: string): Promise<{ streams: string[]; versions: string[] }> {
  const streams = (await store.stats()).streams.map((s) => s.stream).sort();
  const prefix = `${stream}${VERSION_SEPARATOR}`;
  return { streams, versions: streams.filter((s) => s.startsWith(prefix)).map((s) => s.slice(prefix.length)) };
}

/** Whether an event passes the query's filters (the limit aside). */
export function matches(e: StoredEvent, q: Omit<ReadQuery, 'stream' | 'limit'>): boolean {
  if (!q.platform && e.type.startsWith('$')) return false;
  if (q.key !== undefined && e.key !== q.key) return false;
  if (q.types !== undefined && q.types.length > 0 && !q.types.includes(e.type)) return false;
  if (q.fromPosition !== undefined && e.position < q.fromPosition) return false;
  if (q.fromTime !== undefined && e.time < q.fromTime) return false;
  return true;
}

/**
 * Reads the events the query asks for. The stream (and the version) must exist: the caller checks
 * with streamsAndVersions. A version is materialized in memory by its view (as a replay reads it), so
 * positions are ordinals in that view; `$idle` events are not part of a version.
 */
export async function readEvents(store: EventStore, q: ReadQuery): Promise<ReadResult> {
  const events: StoredEvent[] = [];
  let matched = 0;
  const take = (e: StoredEvent) => {
    if (!matches(e, q)) return;
    matched++;
    if (q.limit === 0 || events.length < q.limit) events.push(e);
  };
  if (q.version !== undefined) {
    const view = await versionView(store, q.stream, q.version);
    for await (const { event } of q.key === undefined ? view.input.all() : view.input.keyEvents(q.key)) take(event);
    return { matched, events };
  }
  const source =
    q.key === undefined
      ? store.readStream(q.stream, { fromPosition: q.fromPosition, fromTime: q.fromTime, batchSize: 1000 })
      : store.readShard(q.stream, q.key, { fromTime: q.fromTime, batchSize: 1000 });
  for await (const batch of source) for (const e of batch) take(e);
  return { matched, events };
}

/** One event as a line of the human output's columns. */
function columns(e: StoredEvent): [string, string, string, string, string] {
  return [String(e.position), `${e.key}#${e.seq}`, new Date(e.time).toISOString(), e.type, JSON.stringify(e.data) ?? 'undefined'];
}

/** The events as a table: a header, one line per event, the data cut to fit `width` columns. */
export function formatEvents(events: readonly StoredEvent[], width: number): string[] {
  const header: [string, string, string, string, string] = ['position', 'key#seq', 'time', 'type', 'data'];
  const rows = events.map(columns);
  const w = [0, 1, 2, 3].map((i) => Math.max(header[i]?.length ?? 0, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (r: readonly string[]) => {
    const head = `${(r[0] as string).padStart(w[0] as number)}  ${(r[1] as string).padEnd(w[1] as number)}  ${(r[2] as string).padEnd(w[2] as number)}  ${(r[3] as string).padEnd(w[3] as number)}  `;
    const room = Math.max(24, width - head.length);
    const data = r[4] as string;
    return `${head}${data.length <= room ? data : `${data.slice(0, room - 1)}…`}`.trimEnd();
  };
  return [line(header), ...rows.map(line)];
}

/** --limit: an integer >= 0 (0: all). */
function limitValue(value: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw new InvalidArgumentError(`--limit expects an integer >= 0 (0: all), got ${JSON.stringify(value)}`);
  return Number(value);
}

/** --type: one or more types, comma-separated. */
function typesValue(value: string, previous: string[] | undefined): string[] {
  const types = value.split(',').map((t) => t.trim());
  if (types.some((t) => t === '')) throw new InvalidArgumentError(`--type expects event types, comma-separated, got ${JSON.stringify(value)}`);
  return [...(previous ?? []), ...types];
}

interface ReadOptions {
  store?: string;
  key?: string;
  type?: string[];
  fromPosition?: number;
  fromTime?: number;
  limit: number;
  version?: string | true;
  base?: boolean;
  platform?: boolean;
  json?: boolean;
}


function list(names: readonly string[]): string {
  return names.map((n) => JSON.stringify(n)).join(', ');
}

export function registerStoreRead(store: Command, context: CommandContext): void {
  const read = store
    .command('read')
    .description("print a stream's events, or a replayed version of it (--version), filtered by key, type, position and time")
    .usage('[options] [store] <stream>')
    .argument('[store]', `store location: a path, file:<dir>, postgres://… or nats://… (default: --store, else ${DEFAULT_STORE_LOCATION})`)
    .argument('[stream]', 'the stream to read (required)')
    .option('--store <loc>', 'the store, as an option')
    .option('--key <key>', 'only this key (shard)')
    .option('--type <types>', 'only these event types (comma-separated, or the flag repeated)', typesValue)
    .option('--from-position <n>', 'only events at or after this position (with --version: the position in the version)', positiveInt('--from-position'))
    .option('--from-time <time>', 'only events at or after this event time (ISO-8601 or ms since the epoch)', time('--from-time'))
    .option('--limit <n>', 'show at most this many events, the first ones (0: all)', limitValue, DEFAULT_LIMIT)
    .option('--version [V]', 'read replayed version V of the stream, as a downstream reader sees it: the shared base prefix and the new events of each rebuilt shard (`spive replay` writes it to <stream>--V); alone: the only version there is')
    .option('--base', 'after a switch-over (`spive replay --switch`), read the old version as it stays in the stream (default: the current generation)')
    .option('--platform', 'include platform events ($idle, $progress, $fork, …; hidden by default)')
    .option('--json', 'print one JSON object on stdout: {location, stream, version, generation, matched, shown, limit, events[{stream, key, seq, position, time, type, data, meta}]}')
    .addHelpText(
      'after',
      `
Examples:
  spive store read .spive stock
  spive store read .spive stock --key mug --type Reserved,OutOfStock
  spive store read .spive stock --version            # its replayed version (when there is one)
  spive store read postgres://db.internal/events stock --version v2 --from-time 2026-03-01 --limit 0 --json

One line per event: position, key#seq, time, type and the data as JSON, cut to fit the terminal
(160 columns when stdout is not one; --json has all of it). With --version, positions and seqs are
the version's (seqs go on from the shared prefix; positions count the version's events in the order
its process wrote them), and the replay's $fork records and the base's $idle events are not in it.
After a switch-over (spive replay --switch) a switched stream reads as its current generation: its
versioned events have positions from ${'2^40'} on; --base reads the old version as it stays.`,
    )
    .action(async (first: string | undefined, second: string | undefined, options: ReadOptions) => {
      const out = makeOutput(options.json === true, context.streams);
      if (first === undefined) return read.error("error: missing required argument 'stream'");
      if (second !== undefined && options.store !== undefined) throw new UsageError('<store> and --store: give the store once');
      const location = second === undefined ? (options.store ?? DEFAULT_STORE_LOCATION) : first;
      const stream = second ?? first;
      const storeField = second === undefined ? '--store' : '<store>';
      const s = await openForReading(location, out.warn, storeField);
      try {
        const { streams, versions } = await streamsAndVersions(s, stream);
        if (!streams.includes(stream)) {
          throw new UsageError(`<stream>: ${s.location} has no stream ${JSON.stringify(stream)}; ${streams.length === 0 ? 'it holds no streams' : `its streams: ${list(streams)}`}`);
        }
        let version: string | undefined;
        if (options.version === true) {
          if (versions.length !== 1) {
            throw new UsageError(`--version: ${versions.length === 0 ? `no replayed version of ${stream} in ${s.location}` : `${stream} has ${versions.length} replayed versions (${list(versions)}); name one: --version V`}`);
          }
          version = versions[0] as string;
        } else if (options.version !== undefined) {
          version = options.version;
          if (!streams.includes(versionedStreamName(stream, version))) {
            throw new UsageError(`--version: no version ${JSON.stringify(version)} of ${stream} in ${s.location} (no stream ${versionedStreamName(stream, version)}); ${versions.length === 0 ? `no replay has written a version of ${stream}` : `versions found: ${list(versions)}`}`);
          }
        }
        const query: ReadQuery = {
          stream,
          version,
          key: options.key,
          types: options.type,
          fromPosition: options.fromPosition,
          fromTime: options.fromTime,
          limit: options.limit,
          platform: options.platform === true,
        };
        // After a switch-over the stream reads as its current generation, unless the old version is asked for.
        const record = await currentGeneration(s);
        const switched = record !== undefined && record.streams[stream] !== undefined;
        if (options.base === true && !switched) throw new UsageError(`--base: ${stream} was never switched over to a new version in ${s.location}; it is read as stored without --base`);
        if (options.base === true && version !== undefined) throw new UsageError('--base and --version: give one (the old version, or a replayed one)');
        const generation = switched && version === undefined && options.base !== true ? record.generation : null;
        const source = generation === null ? s : GenerationStore.of(s, record as GenerationRecord);
        const { matched, events } = await readEvents(source, query);
        out.result({ location: s.location, stream, version: version ?? null, generation, matched, shown: events.length, limit: options.limit, events });
        const what = version !== undefined ? `${stream} at version ${version}` : generation !== null ? `${stream} (generation ${generation}; --base: the old version)` : switched ? `${stream} (the old version)` : stream;
        if (matched === 0) {
          const noKey = options.key !== undefined && version === undefined && (await s.head(stream, options.key)).lastSeq === 0;
          out.line(`${what}: no events match${noKey ? ` (it has no key ${JSON.stringify(options.key)})` : ''}`);
          return;
        }
        const width = context.streams.stdout.isTTY === true ? ((context.streams.stdout as { columns?: number }).columns ?? 120) : PIPE_WIDTH;
        for (const l of formatEvents(events, width)) out.line(l);
        out.line(
          events.length < matched
            ? `${what}: showed the first ${events.length} of ${matched} matching events (--limit ${options.limit}; --limit 0 shows all)`
            : `${what}: ${matched} ${matched === 1 ? 'event' : 'events'}`,
        );
      } finally {
        await s.close();
      }
    });
}
