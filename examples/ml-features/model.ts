/**
 * The feature vector the model reads, and the model: a fixed logistic regression ("will this user buy
 * this item?"). Fixed weights keep the example deterministic and self-contained; a real deployment
 * would load trained weights and give the serving process a new `version` with each model, so that
 * `spive replay-plan` can rebuild the scores of the new model from the event log.
 */
import type { Counts } from './windows.ts';

/** The user's side of the vector: what the user did lately. */
export interface UserFeatures {
  views1h: number;
  clicks1h: number;
  purchases1d: number;
  /** Clicks per view over the last day (0 without views). */
  clickRate1d: number;
}

/** The item's side: how popular the item is lately. */
export interface ItemFeatures {
  views1h: number;
  clicks1h: number;
  purchases1d: number;
  /** Purchases per view over the last day (0 without views). */
  conversion1d: number;
}

export interface FeatureVector {
  user: UserFeatures;
  item: ItemFeatures;
}

/** Tags every score, so a score can be traced to the model that made it. */
export const MODEL_VERSION = 'purchase-lr-1';

/** Scores at or above this push a recommendation. */
export const PUSH_THRESHOLD = 0.9;

const BIAS = -3;
// Counts enter as log(1 + n): a heavy user's thousandth view says little more than the hundredth.
const USER_WEIGHTS = { views1h: 0.2, clicks1h: 0.6, purchases1d: 0.4, clickRate1d: 1.5 } as const;
const ITEM_WEIGHTS = { views1h: 0.1, clicks1h: 0.3, purchases1d: 0.5, conversion1d: 2 } as const;

export function userFeatures(hour: Counts, day: Counts): UserFeatures {
  return { views1h: hour.view, clicks1h: hour.click, purchases1d: day.purchase, clickRate1d: ratio(day.click, day.view) };
}

export function itemFeatures(hour: Counts, day: Counts): ItemFeatures {
  return { views1h: hour.view, clicks1h: hour.click, purchases1d: day.purchase, conversion1d: ratio(day.purchase, day.view) };
}

function ratio(part: number, whole: number): number {
  return whole === 0 ? 0 : part / whole;
}

/** The probability of a purchase, rounded to 6 digits (the score as emitted). */
export function score(v: FeatureVector): number {
  const z =
    BIAS +
    USER_WEIGHTS.views1h * Math.log1p(v.user.views1h) +
    USER_WEIGHTS.clicks1h * Math.log1p(v.user.clicks1h) +
    USER_WEIGHTS.purchases1d * Math.log1p(v.user.purchases1d) +
    USER_WEIGHTS.clickRate1d * v.user.clickRate1d +
    ITEM_WEIGHTS.views1h * Math.log1p(v.item.views1h) +
    ITEM_WEIGHTS.clicks1h * Math.log1p(v.item.clicks1h) +
    ITEM_WEIGHTS.purchases1d * Math.log1p(v.item.purchases1d) +
    ITEM_WEIGHTS.conversion1d * v.item.conversion1d;
  return Math.round(1e6 / (1 + Math.exp(-z))) / 1e6;
}
