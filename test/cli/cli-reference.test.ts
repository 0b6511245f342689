/** docs/cli.md is what the command definitions say now (regenerate with `npm run docs:cli`), and it covers every command and flag. */
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { CLI_REFERENCE_PATH, cliReference } from '../../cli/cli-reference.ts';
import { buildProgram } from '../../cli/main.ts';

function commands(): Command[] {
  const sink = new Writable({ write: (_c, _e, done) => done() });
  const out: Command[] = [];
  const walk = (c: Command) => {
    for (const sub of c.commands) {
      out.push(sub);
      walk(sub);
    }
  };
  walk(buildProgram({ streams: { stdout: sink, stderr: sink }, exitCode: 0 }));
  return out;
}

describe('docs/cli.md', () => {
  const generated = cliReference();

  it('is up to date with the command definitions (run npm run docs:cli if not)', () => {
    expect(readFileSync(CLI_REFERENCE_PATH, 'utf8')).toBe(generated);
  });

  it('has a section for every command and lists every flag of it', () => {
    const all = commands();
    expect(all.length).toBeGreaterThan(10);
    for (const c of all) {
      const path: string[] = [];
      for (let x: Command | null = c; x !== null && x.parent !== null; x = x.parent) path.unshift(x.name());
      const heading = `## spive ${path.join(' ')}\n`;
      expect(generated, heading).toContain(heading);
      const section = generated.slice(generated.indexOf(heading)).split('\n## ')[0] as string;
      for (const o of c.options) expect(section, `${heading} ${o.flags}`).toContain(o.long ?? o.flags);
    }
  });
});
