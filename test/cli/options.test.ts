import { describe, expect, it } from 'vitest';
import { parseDurationMs, parseTimeMs, positiveInt } from '../../cli/options.ts';

describe('flag value parsers', () => {
  it('reads durations in the units of the CLI contract', () => {
    expect([parseDurationMs('500ms'), parseDurationMs('30s'), parseDurationMs('10m'), parseDurationMs('2h'), parseDurationMs('7d')]).toEqual([
      500, 30_000, 600_000, 7_200_000, 604_800_000,
    ]);
    expect(parseDurationMs('1.5s')).toBe(1500);
    for (const bad of ['', '10', '5 minutes', '-1s', 's']) expect(parseDurationMs(bad), bad).toBeUndefined();
  });

  it('reads times as ISO-8601 or integer ms since the epoch', () => {
    expect(parseTimeMs('1767225600000')).toBe(1767225600000);
    expect(parseTimeMs('2026-01-01T00:00:00Z')).toBe(Date.UTC(2026, 0, 1));
    for (const bad of ['yesterday', '2026-13-45', '1.5']) expect(parseTimeMs(bad), bad).toBeUndefined();
  });

  it('names the flag when a number is malformed', () => {
    expect(() => positiveInt('--runs')('0')).toThrow('--runs expects a positive integer, got "0"');
    expect(positiveInt('--runs')('12')).toBe(12);
  });
});
