/**
 * The inspector's data layer over DuckDB. A source registers a view `ev` (see sources.ts); opening
 * aggregates it once into `fine`: counts per (lane, category, fine time bucket), FINE_BUCKETS buckets
 * over the whole range, held in memory (fine-buckets.ts). Every overview and zoom level down to one
 * fine bucket per column is then a loop over the buckets in view, with no query; deeper zooms read
 * only the rows inside the window (Parquet row groups outside it are skipped by their time
 * statistics). Nothing walks every event per keystroke.
 */
import type { Duck } from '../../analyzer/duckdb.ts';
import { FineBuckets } from './fine-buckets.ts';
import { filterSql } from './filter.ts';
import { QueryQueue } from './query-queue.ts';
import { CATEGORY_SQL, compareLanes, LANE_SQL } from './lanes.ts';
import type { CausalChain, Category, Filter, InspectEvent, LaneStrip, SourceInfo, Window } from './types.ts';

/** Time buckets of the precomputed aggregate: zooming in this far (over ~100 columns: ~80x) never touches the events. */
export const FINE_BUCKETS = 8192;

/**
 * Below this many rows every view is counted from the events themselves: exact to the column, and
 * still a few ms. Above it, views coarser than a fine bucket come from the aggregate, where an event
 * may land one column off at a column boundary (a fine bucket is 1/8192 of the range).
 */
export const EXACT_BELOW_ROWS = 200_000;

/** How far (in rows' worth of time) the detail pane looks for an event's outputs and effects. */
export const CHAIN_HORIZON_ROWS = 500_000;
/** The largest append batch the input search allows for (an input position inside a batch). */
const MAX_BATCH = 100_000;

const EVENT_COLUMNS = `id::DOUBLE AS id, t::DOUBLE AS t, step::DOUBLE AS step, kind, actor, m.lane AS lane, stream, key, position::DOUBLE AS position, count::DOUBLE AS count, cause::DOUBLE AS cause, detail`;

interface Interval {
  readonly fromMs: number;
  readonly toMs: number;
}

export class TimelineData {
  /** Lanes in display order (all lanes of the source, or those with matches under the filter). */
  lanes: string[] = [];
  /** Matching rows under the current filter (all rows without one). */
  matches = 0;
  private filter: Filter | undefined;
  private hasEffects = false;
  private readonly chains = new Map<number, CausalChain>();
  private fineTable = 'fine';
  /** The current fine table (with or without the filter), in memory. */
  private buckets: FineBuckets | undefined;
  private catchUp = new Map<string, Interval[]>();
  private readonly fineMs: number;

  private constructor(
    private readonly duck: Duck,
    readonly info: SourceInfo,
    /** Sources this small are counted exactly from the events on every view (cheap, and exact to the column). */
    private readonly exactBelowRows: number,
  ) {
    this.fineMs = Math.max(info.toMs - info.fromMs, 1) / (FINE_BUCKETS - 1);
    this.queue = new QueryQueue(duck);
  }

  /** Aggregates the view `ev` the source registered on `duck`. Takes ownership of `duck`. */
  static async build(duck: Duck, kind: SourceInfo['kind'], path: string, options: { exactBelowRows?: number } = {}): Promise<TimelineData> {
    const [range] = await duck.rows<{ rows: number; fromMs: number | null; toMs: number | null }>(`SELECT count(*)::DOUBLE AS rows, min(t)::DOUBLE AS fromMs, max(t)::DOUBLE AS toMs FROM ev`);
    const info: SourceInfo = { kind, path, rows: range?.rows ?? 0, fromMs: range?.fromMs ?? 0, toMs: range?.toMs ?? 0 };
    const data = new TimelineData(duck, info, options.exactBelowRows ?? EXACT_BELOW_ROWS);
    // One pass over the events, grouped on raw columns only; lanes and categories are computed on the
    // few distinct (kind, actor, stream) combinations afterwards.
    await duck.run(`CREATE TEMP TABLE raw_fine AS SELECT kind, actor, stream, ${data.bucketSql()} AS b, count(*)::DOUBLE AS n FROM ev GROUP BY ALL`);
    await duck.run(`CREATE TEMP TABLE m AS SELECT kind, actor, stream, ${LANE_SQL} AS lane, ${CATEGORY_SQL} AS category FROM (SELECT DISTINCT kind, actor, stream FROM raw_fine)`);
    await duck.run(`CREATE TEMP TABLE fine AS SELECT lane, category, b, sum(n) AS n FROM raw_fine JOIN m USING (kind, actor, stream) GROUP BY ALL`);
    await duck.run('DROP TABLE raw_fine');
    data.hasEffects = (await duck.rows(`SELECT 1 FROM m WHERE kind LIKE 'effect.%' LIMIT 1`)).length > 0;
    await data.loadLanes();
    await data.loadBuckets();
    await data.loadCatchUp();
    return data;
  }

  /** Waits for queries in flight (a screen closing mid-fetch), then frees DuckDB. */
  async close(): Promise<void> {
    await this.queue.close();
    this.duck.close();
  }

  private readonly queue: QueryQueue;

  /** Queries issued so far, and not yet answered (a benchmark watches them). */
  get queries(): number {
    return this.queue.issued;
  }
  get pending(): number {
    return this.queue.pending;
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }

  /** Runs `fn` as one call in `slot`: its queries are dropped once a newer call in the slot starts. */
  /**
   * Slots: the lanes (first), the event under the cursor, a jump the user asked for (n, ], Enter...:
   * never dropped for a cursor move), and the detail pane's causal chain (last).
   */
  private ticket(slot: 'strips' | 'select' | 'jump' | 'chain'): Ticket {
    return { slot, generation: this.queue.begin(slot), priority: slot === 'strips' ? 0 : slot === 'chain' ? 2 : 1 };
  }

  private rows<T extends Record<string, unknown>>(sql: string, ticket?: Ticket): Promise<T[]> {
    return this.queue.run<T>(sql, ticket ?? {});
  }

  private async exec(sql: string): Promise<void> {
    await this.rows(sql);
  }

  get activeFilter(): Filter | undefined {
    return this.filter;
  }

  /** Applies (or clears) a filter: one pass over the events, then zooming works on its own aggregate. */
  async setFilter(filter: Filter | undefined): Promise<void> {
    this.filter = filter;
    if (filter === undefined) {
      this.fineTable = 'fine';
    } else {
      await this.exec(`CREATE OR REPLACE TEMP TABLE fine_filtered AS SELECT m.lane, m.category, ${this.bucketSql()} AS b, count(*)::DOUBLE AS n FROM ev JOIN m USING (kind, actor, stream) WHERE ${filterSql(filter)} GROUP BY ALL`);
      this.fineTable = 'fine_filtered';
    }
    await this.loadLanes();
    await this.loadBuckets();
  }

  private async loadBuckets(): Promise<void> {
    // Read as columns (DuckDB's vectors), not row objects: several times faster for ~100k entries.
    const columns = await this.queue.columns(`SELECT lane, category, b, n::DOUBLE AS n FROM ${this.fineTable} ORDER BY b`);
    this.buckets = FineBuckets.fromColumns(columns.lane as string[], columns.category as Category[], columns.b as number[], columns.n as number[]);
  }

  /** Per lane, counts per column and category over `window` split into `columns` cells. */
  async strips(window: Window, columns: number): Promise<LaneStrip[]> {
    const colMs = (window.toMs - window.fromMs) / columns;
    const byLane = new Map(this.lanes.map((lane) => [lane, { total: 0, cells: Array.from({ length: columns }, () => ({}) as Partial<Record<Category, number>>) }]));
    const add = (lane: string, category: Category, col: number, n: number) => {
      if (col < 0 || col >= columns) return;
      const strip = byLane.get(lane);
      if (strip === undefined) return;
      const cell = strip.cells[col] as Partial<Record<Category, number>>;
      cell[category] = (cell[category] ?? 0) + n;
      strip.total += n;
    };
    if (colMs >= this.fineMs && this.info.rows > this.exactBelowRows && this.buckets !== undefined) {
      this.buckets.forEachInView(this.info.fromMs, this.fineMs, window.fromMs, colMs, columns, add);
    } else {
      const rows = await this.rows<{ lane: string; category: Category; col: number; n: number }>(
        `SELECT m.lane, m.category, q.col, sum(q.n)::DOUBLE AS n FROM (
           SELECT kind, actor, stream, floor((t - ${d(window.fromMs)}) / ${d(colMs)})::INTEGER AS col, count(*) AS n
           FROM ev WHERE t >= ${d(window.fromMs)} AND t < ${d(window.toMs)} AND ${filterSql(this.filter)} GROUP BY ALL
         ) q JOIN m USING (kind, actor, stream) GROUP BY ALL`,
        this.ticket('strips'),
      );
      for (const r of rows) add(r.lane, r.category, r.col, r.n);
    }
    return this.lanes.map((lane) => {
      const s = byLane.get(lane) as { total: number; cells: Partial<Record<Category, number>>[] };
      const phases = this.catchUp.get(lane) ?? [];
      const catchUp = s.cells.map((_, c) => {
        const mid = window.fromMs + (c + 0.5) * colMs;
        return phases.some((p) => mid >= p.fromMs && mid < p.toMs);
      });
      return { lane, total: s.total, cells: s.cells, catchUp };
    });
  }

  /**
   * The first event of `lane` in [fromMs, toMs) (under the filter). `slot`: 'select' for the cursor's
   * selection (a newer cursor drops it), 'jump' for the start of a key's jump (a newer jump drops it).
   */
  async firstIn(lane: string, window: Window, slot: 'select' | 'jump' = 'select'): Promise<InspectEvent | undefined> {
    return this.nearest(this.ticket(slot), `m.lane = ${lit(lane)} AND t < ${d(window.toMs)} AND ${filterSql(this.filter)}`, window.fromMs, 1, window.toMs - window.fromMs);
  }

  /** The next (dir 1) or previous (dir -1) event after `from`, in `lane` if given, under the filter. */
  async step(from: InspectEvent, dir: 1 | -1, lane?: string): Promise<InspectEvent | undefined> {
    const after = dir === 1 ? `(t > ${d(from.timeMs)} OR id > ${from.id})` : `(t < ${d(from.timeMs)} OR id < ${from.id})`;
    return this.nearest(this.ticket('jump'), `${after}${lane === undefined ? '' : ` AND m.lane = ${lit(lane)}`} AND ${filterSql(this.filter)}`, from.timeMs, dir);
  }

  /** The first match at or after `timeMs` (under the filter). */
  async firstAfter(timeMs: number): Promise<InspectEvent | undefined> {
    return this.nearest(this.ticket('jump'), filterSql(this.filter), timeMs, 1);
  }

  async firstViolation(): Promise<InspectEvent | undefined> {
    const [row] = await this.rows<EventRow>(`SELECT ${EVENT_COLUMNS} FROM ev JOIN m USING (kind, actor, stream) WHERE kind = 'violation' ORDER BY step, id LIMIT 1`);
    return row === undefined ? undefined : toEvent(row);
  }

  /** What produced `e` (its input), what it produced, and the effects its input requested. */
  async chain(e: InspectEvent): Promise<CausalChain> {
    const cached = this.chains.get(e.id);
    if (cached !== undefined) return cached;
    const ticket = this.ticket('chain');
    // An input comes before what it caused and outputs and effects after it; positions grow with time,
    // so bounding both time and position lets DuckDB skip the row groups outside by their statistics.
    // Outputs and effects are looked for within CHAIN_HORIZON_ROWS rows' worth of time. One query with
    // a part per question: each round trip costs more than the parts.
    const horizonMs = this.info.rows > CHAIN_HORIZON_ROWS ? ((this.info.toMs - this.info.fromMs) * CHAIN_HORIZON_ROWS) / this.info.rows : Number.POSITIVE_INFINITY;
    const until = (fromMs: number) => (Number.isFinite(horizonMs) ? ` AND t <= ${d(fromMs + horizonMs)}` : '');
    const parts: string[] = [];
    const part = (role: string, where: string, order: string, limit: number) =>
      parts.push(`SELECT * FROM (SELECT ${lit(role)} AS role, ${EVENT_COLUMNS} FROM (SELECT * FROM ev WHERE ${where} ORDER BY ${order} LIMIT ${limit}) JOIN m USING (kind, actor, stream))`);
    // The batch holding the input is the nearest append at or before its position.
    if (e.cause > 0) part('input', `t <= ${d(e.timeMs)} AND kind IN ('append', 'event') AND position BETWEEN ${e.cause - MAX_BATCH} AND ${e.cause}`, 'position DESC', 1);
    if ((e.kind === 'append' || e.kind === 'event') && e.position > 0) part('output', `t >= ${d(e.timeMs)}${until(e.timeMs)} AND cause BETWEEN ${e.position} AND ${e.position + e.count - 1}`, 't, id', 20);
    // Effects requested by this event's input (for an output): a runner performs them just before or
    // after appending the outputs, so they are looked for within the horizon on both sides.
    const around = Number.isFinite(horizonMs) ? `t >= ${d(e.timeMs - horizonMs)} AND t <= ${d(e.timeMs + horizonMs)} AND ` : '';
    if (this.hasEffects && e.cause > 0 && !e.kind.startsWith('effect.')) part('effect', `${around}kind LIKE 'effect.%' AND cause = ${e.cause}`, 't, id', 20);
    const rows = parts.length === 0 ? [] : await this.rows<EventRow & { role: string }>(parts.join(' UNION ALL '), ticket);
    const inputRow = rows.find((r) => r.role === 'input');
    const input = inputRow !== undefined && inputRow.position + (inputRow.count ?? 1) > e.cause ? toEvent(inputRow) : undefined;
    const outputs = rows.filter((r) => r.role === 'output').map(toEvent).sort(byTime);
    const effects = [...outputs.filter((o) => o.kind.startsWith('effect.')), ...rows.filter((r) => r.role === 'effect').map(toEvent).sort(byTime)];
    const chain = { input, outputs: outputs.filter((o) => !o.kind.startsWith('effect.')), effects };
    // Going back and forth along a chain revisits the same events: keep the last few hundred.
    if (this.chains.size >= 500) this.chains.delete(this.chains.keys().next().value as number);
    this.chains.set(e.id, chain);
    return chain;
  }

  /** Counts of the loud categories and of each kind of fault (for the summary). */
  async totals(): Promise<{ byCategory: Partial<Record<Category, number>>; byLane: Map<string, Partial<Record<Category, number>>> }> {
    const rows = await this.rows<{ lane: string; category: Category; n: number }>(`SELECT lane, category, sum(n)::DOUBLE AS n FROM ${this.fineTable} GROUP BY ALL`);
    const byCategory: Partial<Record<Category, number>> = {};
    const byLane = new Map<string, Partial<Record<Category, number>>>();
    for (const r of rows) {
      byCategory[r.category] = (byCategory[r.category] ?? 0) + r.n;
      const lane = byLane.get(r.lane) ?? {};
      lane[r.category] = (lane[r.category] ?? 0) + r.n;
      byLane.set(r.lane, lane);
    }
    return { byCategory, byLane };
  }

  /** The violations recorded in the source (few; the first `limit`). */
  async violations(limit = 20): Promise<InspectEvent[]> {
    return (await this.rows<EventRow>(`SELECT ${EVENT_COLUMNS} FROM ev JOIN m USING (kind, actor, stream) WHERE kind = 'violation' ORDER BY step, id LIMIT ${limit}`)).map(toEvent);
  }

  /**
   * The first row matching `where` from `timeMs` on (dir 1) or back from it (dir -1). Searched in
   * windows growing 16x from a few fine buckets, so a nearby answer reads only the row groups around it.
   */
  private async nearest(ticket: Ticket, where: string, timeMs: number, dir: 1 | -1, capMs = Number.POSITIVE_INFINITY): Promise<InspectEvent | undefined> {
    const order = dir === 1 ? 'ASC' : 'DESC';
    const span = this.info.toMs - this.info.fromMs;
    // Bounded to about 2M rows' worth of time, so a match that does not exist costs one bounded scan.
    const maxWidth = Math.min(capMs, this.info.rows > 0 ? (span * 2_000_000) / this.info.rows : span);
    for (let width = Math.min(this.fineMs * 4, maxWidth); ; width = Math.min(width * 16, maxWidth)) {
      const range = dir === 1 ? `t >= ${d(timeMs)} AND t <= ${d(timeMs + width)}` : `t <= ${d(timeMs)} AND t >= ${d(timeMs - width)}`;
      const [row] = await this.rows<EventRow>(`SELECT ${EVENT_COLUMNS} FROM ev JOIN m USING (kind, actor, stream) WHERE ${range} AND ${where} ORDER BY t ${order}, id ${order} LIMIT 1`, ticket);
      if (row !== undefined) return toEvent(row);
      if (width >= span || width >= maxWidth) return undefined;
    }
  }

  /**
   * Fine bucket b is centred on fromMs + b * fineMs (a rounding cast is much cheaper per row than
   * floor + clamp, and keeps every row in 0..FINE_BUCKETS-1).
   */
  private bucketSql(): string {
    return `((t - ${d(this.info.fromMs)}) * ${d(1 / this.fineMs)})::INTEGER`;
  }

  private async loadLanes(): Promise<void> {
    const rows = await this.rows<{ lane: string; n: number }>(`SELECT lane, sum(n)::DOUBLE AS n FROM ${this.fineTable} GROUP BY lane`);
    this.lanes = rows.map((r) => r.lane).sort(compareLanes);
    this.matches = rows.reduce((s, r) => s + r.n, 0);
  }

  /** Catch-up phases per runner lane, from its `started` and `live` markers (to fine-bucket precision). */
  private async loadCatchUp(): Promise<void> {
    const rows = await this.rows<{ lane: string; category: Category; b: number }>(`SELECT lane, category, b FROM fine WHERE category IN ('start', 'live') ORDER BY lane, b, category DESC`);
    const open = new Map<string, number>();
    for (const r of rows) {
      const at = this.info.fromMs + r.b * this.fineMs;
      if (r.category === 'start') {
        if (!open.has(r.lane)) open.set(r.lane, at);
      } else if (open.has(r.lane)) {
        this.pushCatchUp(r.lane, open.get(r.lane) as number, at + this.fineMs);
        open.delete(r.lane);
      }
    }
    // A runner that never went live stays in catch-up to the end.
    for (const [lane, from] of open) this.pushCatchUp(lane, from, this.info.toMs + this.fineMs);
  }

  private pushCatchUp(lane: string, fromMs: number, toMs: number): void {
    const list = this.catchUp.get(lane) ?? [];
    list.push({ fromMs, toMs });
    this.catchUp.set(lane, list);
  }
}

/** A public call's place in the query queue: its slot, generation and priority. */
interface Ticket {
  readonly slot: string;
  readonly generation: number;
  readonly priority: number;
}

type EventRow = {
  id: number;
  t: number;
  step: number;
  kind: string;
  actor: string;
  lane: string;
  stream: string;
  key: string;
  position: number;
  count: number | null;
  cause: number;
  detail: string;
};

function toEvent(r: EventRow): InspectEvent {
  return { id: r.id, timeMs: r.t, step: r.step, kind: r.kind, actor: r.actor, lane: r.lane, stream: r.stream, key: r.key, position: r.position, count: r.count ?? 1, cause: r.cause, detail: r.detail };
}

/** A number as a SQL DOUBLE literal (a bare `0.1` would be a DECIMAL, which overflows in products). */
function d(x: number): string {
  return `${x}::DOUBLE`;
}

function byTime(a: InspectEvent, b: InspectEvent): number {
  return a.timeMs - b.timeMs || a.id - b.id;
}

function lit(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
