/**
 * The cost model's figures of the replay engine's own steps (CostModel's optional fields, see
 * run-overheads.ts): kept together so that a recorded calibration stores them (one JSON column of
 * the catalogue, absent in older ones) and a real run's scaling scales them with the rest.
 */
import type { CostModel } from '../types.ts';

/** Figures in nanoseconds (scaled by a real run's measured / estimated). */
const NS_FIGURES = ['nsPerShardWrite', 'nsPerWrittenEvent', 'nsPerRoutedEvent', 'nsPerColumnEvent'] as const;
/** Figures that are counts (kept as measured). */
const COUNT_FIGURES = ['outputsPerEvent'] as const;

export type EngineFigures = Partial<Pick<CostModel, (typeof NS_FIGURES)[number] | (typeof COUNT_FIGURES)[number]>>;

export function engineFigures(model: CostModel): EngineFigures {
  const out: Record<string, number> = {};
  for (const f of [...NS_FIGURES, ...COUNT_FIGURES]) {
    const v = model[f];
    if (typeof v === 'number' && Number.isFinite(v)) out[f] = v;
  }
  return out;
}

/** The engine figures of a stored JSON text; {} when absent or unreadable (an older catalogue). */
export function parseEngineFigures(text: string | null | undefined): EngineFigures {
  if (typeof text !== 'string' || text === '') return {};
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    const out: Record<string, number> = {};
    for (const f of [...NS_FIGURES, ...COUNT_FIGURES]) {
      const v = parsed[f];
      if (typeof v === 'number' && Number.isFinite(v) && v >= 0) out[f] = v;
    }
    return out;
  } catch {
    return {};
  }
}

/** The engine figures scaled by `factor` (what a real run measured over what was estimated). */
export function scaledEngineFigures(model: CostModel, factor: number): EngineFigures {
  const out: Record<string, number> = { ...engineFigures(model) };
  for (const f of NS_FIGURES) if (out[f] !== undefined) out[f] = (out[f] as number) * factor;
  return out;
}
