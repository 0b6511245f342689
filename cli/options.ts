/** Parsers for the flag value types of the command-line contract; each names its flag on error. */
import { InvalidArgumentError } from 'commander';

export function positiveInt(flag: string): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
      throw new InvalidArgumentError(`${flag} expects a positive integer, got ${JSON.stringify(value)}`);
    }
    return Number(value);
  };
}

export function integer(flag: string): (value: string) => number {
  return (value) => {
    if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
      throw new InvalidArgumentError(`${flag} expects an integer, got ${JSON.stringify(value)}`);
    }
    return Number(value);
  };
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `500ms`, `30s`, `10m`, `2h`, `7d` → milliseconds. */
export function parseDurationMs(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (m === null) return undefined;
  return Math.round(Number(m[1]) * (DURATION_UNITS_MS[m[2] as string] as number));
}

export function duration(flag: string): (value: string) => number {
  return (value) => {
    const ms = parseDurationMs(value);
    if (ms === undefined) throw new InvalidArgumentError(`${flag} expects a duration like 500ms, 30s, 10m, 2h or 7d, got ${JSON.stringify(value)}`);
    return ms;
  };
}

/** ISO-8601 or integer milliseconds since the epoch → ms. */
export function parseTimeMs(text: string): number | undefined {
  if (/^-?\d+$/.test(text)) return Number.isSafeInteger(Number(text)) ? Number(text) : undefined;
  if (!/^\d{4}-\d{2}-\d{2}/.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

export function time(flag: string): (value: string) => number {
  return (value) => {
    const ms = parseTimeMs(value);
    if (ms === undefined) throw new InvalidArgumentError(`${flag} expects an ISO-8601 time or integer ms since the epoch, got ${JSON.stringify(value)}`);
    return ms;
  };
}
