/**
 * No hidden time or randomness in src/ or sim/: wall-clock time, timers and ambient randomness are
 * reached only through the injected Clock, Timers and Random interfaces. The exceptions are the
 * adapters that wire those interfaces to the real world, listed here with the reason.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('..', import.meta.url).pathname;
const FORBIDDEN = /\b(Date\.now|Math\.random|setTimeout|setInterval|setImmediate|performance\.now|randomUUID|randomInt|randomBytes|getRandomValues)\s*\(|new Date\(\s*\)/;
const ALLOWED: Record<string, string> = {
  'src/time/clock.ts': 'realClock: the production Clock',
  'src/time/timers.ts': 'realTimers: the production Timers',
  'src/random/real-random.ts': 'realRandom: seeds the production Random from the OS',
  'sim/scheduler.ts': 'settle(): one setImmediate turn lets all promise continuations of a step run (no time involved)',
  'sim/real-world-guard.ts': 'names the forbidden calls in order to trap them during a simulation',
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('determinism', () => {
  it('src/ and sim/ reach time, timers and randomness only through the injected interfaces', () => {
    const offenders: string[] = [];
    for (const file of [...files(join(ROOT, 'src')), ...files(join(ROOT, 'sim'))]) {
      const rel = relative(ROOT, file);
      if (rel in ALLOWED) continue;
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          const code = line.replace(/\/\/.*$/, '');
          if (FORBIDDEN.test(code) && !/^\s*\*/.test(line)) offenders.push(`${rel}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(offenders).toEqual([]);
  });

  it('the allowed adapters still exist (the list is not stale)', () => {
    for (const rel of Object.keys(ALLOWED)) expect(readFileSync(join(ROOT, rel), 'utf8')).toMatch(FORBIDDEN);
  });
});
