/**
 * docs/replay-planning.md's worked example, run: its shell blocks in order on a copy of
 * datasets/bank-small (in a temporary folder instead of /tmp/bs), each output excerpt matched against
 * the real output (numbers, times and hashes may differ), and what the example claims about the
 * effects checked on the JSON result.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp-dir.ts';
import { markdownSteps, missingExcerptLines, type CodeBlock } from './markdown-blocks.ts';

const DOC = 'docs/replay-planning.md';

/**
 * The cost model is measured at each plan, so which of strategies estimated within a few percent of
 * each other wins differs from machine to machine (the page says so): compare the excerpts with the
 * strategy names and the chosen row's marker left out.
 */
function anyStrategy(text: string): string {
  return text.replace(/^(\s*)\* /gm, '$1').replace(/shards-from-scratch|time-ray-from-snapshot|per-shard-mix|full-rebuild/g, '<strategy>');
}

describe(`${DOC}: the worked example`, () => {
  const temp = tempDir('spive-planning-doc-');
  afterAll(() => temp.cleanup());
  const local = (text: string) => text.replaceAll('/tmp/', `${temp.path}/`);

  it('runs as written, prints what the excerpts show, and marks as new only the effects the change made', () => {
    const markdown = readFileSync(DOC, 'utf8');
    const section = markdown.slice(markdown.indexOf('## A worked example'), markdown.indexOf('## Measured'));
    const blocks = markdownSteps(section).filter((s): s is CodeBlock => s.kind === 'code');
    expect(blocks.map((b) => b.attrs.id ?? b.lang)).toEqual(['copy', 'plan', 'text', 'replay', 'text']);
    let last = '';
    for (const block of blocks) {
      if (block.lang === 'sh') {
        // `npx spive` as a reader runs it from the clone; here the same CLI directly.
        const command = local(block.body).replace(/^npx spive /gm, `${process.execPath} bin/spive.js `);
        const run = spawnSync('bash', ['-e', '-c', command], { encoding: 'utf8' });
        expect(run.status, `${DOC}:${block.line}: ${run.stderr}`).toBe(0);
        last = run.stdout;
      } else {
        expect(missingExcerptLines(anyStrategy(local(block.body)), anyStrategy(last)), `${DOC}:${block.line}: excerpt lines not in the output:\n${last}`).toEqual([]);
      }
    }
    // The effects, as JSON (the replay above already ran, so run it on a fresh copy).
    execFileSync('bash', ['-e', '-c', local('rm -rf /tmp/bs2 && cp -r datasets/bank-small /tmp/bs2 && cp /tmp/plan.json /tmp/plan2.json')]);
    const result = JSON.parse(execFileSync(process.execPath, ['bin/spive.js', 'replay', '--plan', local('/tmp/plan2.json'), '--store', local('/tmp/bs2'), '--effects', '--json'], { encoding: 'utf8' })) as {
      effects: Array<{ process: string; changed: boolean; request: { message: string } }>;
    };
    const ledger = result.effects.filter((e) => e.process === 'ledger');
    const limit = ledger.filter((e) => /above the transfer limit/.test(e.request.message));
    expect(limit.length).toBeGreaterThan(0);
    expect(limit.every((e) => e.changed)).toBe(true);
    // Same-account rejections happen before any limit check: both versions make them.
    const same = ledger.filter((e) => /cannot transfer to the same account/.test(e.request.message));
    expect(same.length).toBeGreaterThan(0);
    expect(same.some((e) => e.changed)).toBe(false);
  }, 120_000);
});
