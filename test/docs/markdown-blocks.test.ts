import { describe, expect, it } from 'vitest';
import { excerptLinePattern, markdownSteps, missingExcerptLines, parseInfo } from './markdown-blocks.ts';

describe('markdownSteps', () => {
  it('finds fenced blocks and test directives in order, with their lines', () => {
    const md = [
      '# Title', //                                   1
      '',
      '```ts file=app.ts',
      'export const x = 1;',
      '```',
      'Some prose with `inline code`.', //            6
      '<!-- test: ctrl-c live -->',
      '~~~sh exit=1 timeout=20',
      'npx spive simulate .',
      '~~~',
      '````text', //                                  11
      '```',
      'a fence inside a longer fence',
      '````',
      '<!-- an ordinary comment -->',
    ].join('\n');
    expect(markdownSteps(md)).toEqual([
      { kind: 'code', lang: 'ts', attrs: { file: 'app.ts' }, body: 'export const x = 1;\n', line: 3 },
      { kind: 'directive', words: ['ctrl-c', 'live'], line: 7 },
      { kind: 'code', lang: 'sh', attrs: { exit: '1', timeout: '20' }, body: 'npx spive simulate .\n', line: 8 },
      { kind: 'code', lang: 'text', attrs: {}, body: '```\na fence inside a longer fence\n', line: 11 },
    ]);
  });

  it('removes the fence indentation from the body (a block in a list item)', () => {
    expect(markdownSteps('1. Run:\n   ```sh\n   npm test\n     indented\n   ```\n')).toEqual([
      { kind: 'code', lang: 'sh', attrs: {}, body: 'npm test\n  indented\n', line: 2 },
    ]);
  });

  it('refuses a block that is never closed, naming its line', () => {
    expect(() => markdownSteps('text\n```sh\nls\n')).toThrow('line 2: code block never closed');
  });

  it('keeps an empty block empty', () => {
    expect(markdownSteps('```\n```\n')).toEqual([{ kind: 'code', lang: '', attrs: {}, body: '', line: 1 }]);
  });
});

describe('parseInfo', () => {
  it('reads a language, flags, plain and quoted values', () => {
    expect(parseInfo('sh background=live ready="Ctrl-C stops" tty')).toEqual({ lang: 'sh', attrs: { background: 'live', ready: 'Ctrl-C stops', tty: true } });
  });

  it('has no language when the first word is an attribute', () => {
    expect(parseInfo('file=a.ts')).toEqual({ lang: '', attrs: { file: 'a.ts' } });
  });

  it('refuses an attribute given twice', () => {
    expect(() => parseInfo('sh exit=1 exit=2')).toThrow('attribute exit given twice');
  });
});

describe('output excerpts', () => {
  it('let numbers, hashes and column widths differ, nothing else', () => {
    const p = excerptLinePattern('stock    src-5f5a6a815eea  live  12   3    0         1.2s  2       0');
    expect(p.test('stock  src-3261923f0f81  live  9  4  0  443ms  2  0')).toBe(true); // a time in other units
    expect(p.test('stock  src-3261923f0f81  live  9  4  0  -  2  0')).toBe(false);
    expect(p.test('stock  src-3261923f0f81  live  9  4  0  4.5s  2  0')).toBe(true);
    expect(p.test('stock  src-3261923f0f81  stopped  9  4  0  4.5s  2  0')).toBe(false);
    expect(excerptLinePattern('VIOLATION of "stock is never negative" at step 2347 (17.600 s simulated):').test('VIOLATION of "stock is never negative" at step 200 (0.300 s simulated):')).toBe(true);
    expect(excerptLinePattern('sku-1 has -1 on hand').test('sku-3 has -2 on hand')).toBe(true);
    expect(excerptLinePattern('sku-1 has -1 on hand').test('sku-3 has 2 in stock')).toBe(false);
    expect(excerptLinePattern('a (b) [c] $d *e?').test('a (b) [c] $d *e?')).toBe(true);
    expect(excerptLinePattern('found after 1.1 s; 2 shards').test('found after 90 ms; 3 shards')).toBe(true);
    expect(excerptLinePattern('found after 1.1 s; 2 shards').test('found after 90 ms; 3 shard')).toBe(false);
  });

  it('read … as anything', () => {
    expect(excerptLinePattern('no counterexample in 858 runs, 10.0 s …').test('no counterexample in 1000 runs, 9.2 s')).toBe(true);
    expect(excerptLinePattern('no counterexample in 858 runs, 10.0 s …').test('no counterexample in 1000 runs, 9.2 s (the budget ended it)')).toBe(true);
    expect(excerptLinePattern('no counterexample in 858 runs, 10.0 s …').test('a counterexample in 1000 runs, 9.2 s')).toBe(false);
  });

  it('names the excerpt lines the output does not have, skipping blank and … lines', () => {
    const output = 'first line 1\n  second line 22  \nthird\n';
    expect(missingExcerptLines('first line 7\n…\n\nsecond line 3\n', output)).toEqual([]);
    expect(missingExcerptLines('first line 7\nfourth\n', output)).toEqual(['fourth']);
  });
});
