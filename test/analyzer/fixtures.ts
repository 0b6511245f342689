/**
 * A small app and histories for planner tests, written by the real runtime (so outputs, `meta` and
 * snapshot rounds are exactly what production writes):
 *
 *   inputs ──▶ tally (per key; state padded to `stateBytes`) ──▶ tallies ──▶ regions (re-keyed by region) ──▶ totals
 */
import { defineApp, defineProcess, defineStream, keyedBy, MemoryStore, Platform, type EventStore } from 'spive';

export type InputEvents = { Counted: { key: string; amount: number; region: string } };
export type TallyEvents = { Tallied: { key: string; total: number; region: string } };
export type TotalEvents = { Total: { region: string; total: number } };

export interface HistoryAppOptions {
  readonly version: string;
  readonly snapshotEvery: number;
  /** Each shard's state carries this many bytes of padding (a big state makes snapshots costly). */
  readonly stateBytes?: number;
}

export function historyApp(options: HistoryAppOptions) {
  const inputs = defineStream<InputEvents>('inputs', { key: (e) => e.data.key });
  const tallies = defineStream<TallyEvents>('tallies');
  const totals = defineStream<TotalEvents>('totals');
  const pad = 'x'.repeat(options.stateBytes ?? 0);
  const tally = defineProcess({
    name: 'tally',
    version: options.version,
    inputs: { inputs },
    output: tallies,
    snapshots: { everyEvents: options.snapshotEvery },
    initial: () => ({ total: 0, pad }),
    on: {
      inputs: {
        Counted(state, e, ctx) {
          state.total += e.data.amount;
          ctx.emit('Tallied', { key: e.data.key, total: state.total, region: e.data.region });
          return state;
        },
      },
    },
  });
  const regions = defineProcess({
    name: 'regions',
    version: 'r1',
    inputs: { tallies: keyedBy(tallies, (e) => e.data.region) },
    output: totals,
    snapshots: { everyEvents: options.snapshotEvery },
    initial: () => ({ total: 0 }),
    on: {
      tallies: {
        Tallied(state, e, ctx) {
          state.total += 1;
          ctx.emit('Total', { region: ctx.key, total: state.total });
          return state;
        },
      },
    },
  });
  const app = defineApp({ name: 'history', streams: [inputs, tallies, totals], processes: [tally, regions] });
  return { app, tally, regions };
}

export interface HistoryShape {
  /** Events per key; keys are named `k0, k1, …`. Each key's events are spread evenly over the span. */
  readonly eventsPerKey: readonly number[];
  /** Event time span of the whole history (ms; default one day). */
  readonly spanMs?: number;
  readonly regions?: number;
}

export const HISTORY_START = 1_700_000_000_000;

/** The inputs of a history, in time order: key k's j-th event at start + (j+1)·span/n_k. */
export function historyInputs(shape: HistoryShape): Array<{ key: string; time: number; amount: number; region: string }> {
  const span = shape.spanMs ?? 86_400_000;
  const out: Array<{ key: string; time: number; amount: number; region: string; k: number }> = [];
  shape.eventsPerKey.forEach((n, k) => {
    for (let j = 0; j < n; j++) out.push({ key: `k${k}`, k, time: HISTORY_START + Math.round(((j + 1) * span) / n), amount: 1 + ((j + k) % 7), region: `r${k % (shape.regions ?? 4)}` });
  });
  out.sort((a, b) => a.time - b.time || a.k - b.k);
  return out.map(({ key, time, amount, region }) => ({ key, time, amount, region }));
}

/** Runs the app live over the history's inputs until it settles: outputs and snapshot rounds as production writes them. */
export async function writeHistory(store: EventStore, options: HistoryAppOptions, shape: HistoryShape): Promise<{ firstTime: number; lastTime: number }> {
  const { app } = historyApp(options);
  const platform = await Platform.start(app, { store, idle: false, ingressIdle: false, version: options.version });
  const inputs = historyInputs(shape);
  for (const e of inputs) await platform.append('inputs', { type: 'Counted', data: { key: e.key, amount: e.amount, region: e.region }, time: e.time });
  await platform.settle();
  await platform.stop();
  return { firstTime: inputs[0]?.time ?? HISTORY_START, lastTime: inputs[inputs.length - 1]?.time ?? HISTORY_START };
}

export function memoryStore(): MemoryStore {
  return new MemoryStore();
}
