/**
 * The runnable steps of a Markdown document, in order: fenced code blocks with their info strings
 * parsed, and test directives written as HTML comments (`<!-- test: ctrl-c live -->`, invisible when
 * the page is rendered). docs/tutorial.md is executed from these by test/docs/tutorial.test.ts.
 *
 * An info string is a language followed by attributes: `sh exit=1 timeout=20 id=fuzz`,
 * `ts file=app.ts`, `sh background=live ready="Ctrl-C stops"`. A bare word is a flag (value `true`);
 * a value may be double-quoted to hold spaces.
 */

export interface CodeBlock {
  readonly kind: 'code';
  /** The first word of the info string (`sh`, `ts`, `text`, …); '' when there is none. */
  readonly lang: string;
  readonly attrs: Readonly<Record<string, string | true>>;
  /** The lines between the fences, joined with '\n' (a trailing newline when not empty). */
  readonly body: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
}

export interface Directive {
  readonly kind: 'directive';
  /** The words after `test:`, e.g. ['ctrl-c', 'live']. */
  readonly words: readonly string[];
  readonly line: number;
}

export type Step = CodeBlock | Directive;

/** Parses an info string's attributes (everything after the language). */
export function parseInfo(info: string): { lang: string; attrs: Record<string, string | true> } {
  const tokens = [...info.trim().matchAll(/([^\s=]+)(?:=(?:"([^"]*)"|(\S*)))?/g)];
  const attrs: Record<string, string | true> = {};
  let lang = '';
  tokens.forEach((t, i) => {
    const name = t[1] as string;
    const hasValue = t[0].includes('=');
    if (i === 0 && !hasValue) {
      lang = name;
      return;
    }
    if (Object.hasOwn(attrs, name)) throw new Error(`info string "${info}": attribute ${name} given twice`);
    attrs[name] = hasValue ? (t[2] ?? t[3] ?? '') : true;
  });
  return { lang, attrs };
}

/** Every fenced block and `<!-- test: … -->` directive of `markdown`, in document order. */
export function markdownSteps(markdown: string): Step[] {
  const lines = markdown.split('\n');
  const steps: Step[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const fence = /^( {0,3})(`{3,}|~{3,})(.*)$/.exec(line);
    if (fence !== null) {
      const [, indent, marker, info] = fence as unknown as [string, string, string, string];
      if (marker.startsWith('`') && info.includes('`')) throw new Error(`line ${i + 1}: a backtick fence's info string may not hold a backtick`);
      const closing = new RegExp(`^ {0,3}${marker[0] === '`' ? '`' : '~'}{${marker.length},}\\s*$`);
      const body: string[] = [];
      let j = i + 1;
      for (; j < lines.length && !closing.test(lines[j] as string); j++) body.push(stripIndent(lines[j] as string, indent.length));
      if (j === lines.length) throw new Error(`line ${i + 1}: code block never closed`);
      steps.push({ kind: 'code', ...parseInfo(info), body: body.length === 0 ? '' : `${body.join('\n')}\n`, line: i + 1 });
      i = j;
      continue;
    }
    const directive = /^<!--\s*test:\s*(.*?)\s*-->\s*$/.exec(line);
    if (directive !== null) steps.push({ kind: 'directive', words: (directive[1] as string).split(/\s+/).filter((w) => w !== ''), line: i + 1 });
  }
  return steps;
}

/** Removes up to `n` leading spaces (a fence indented by n spaces indents its content by n too). */
function stripIndent(line: string, n: number): string {
  let k = 0;
  while (k < n && line[k] === ' ') k++;
  return line.slice(k);
}

/** A number, with the unit of a time or size when one follows (`443ms`, `1.2 s`, `630 B`). */
const NUMBER = String.raw`\d[\d,]*(?:\.\d+)?(?: ?(?:ms|µs|ns|s|KiB|MiB|GiB|B)(?![A-Za-z]))?`;

/**
 * A line of an output excerpt as a pattern for a line of real output: numbers (counts, times with
 * their units, positions) and long hex hashes may differ, and so may runs of spaces (table columns);
 * `…` stands for anything; the rest must be there word for word.
 */
export function excerptLinePattern(line: string): RegExp {
  const parts = line.trim().split(new RegExp(`(\\s+|…|[0-9a-f]{12,}|${NUMBER})`));
  const source = parts
    .map((p, i) => {
      if (i % 2 === 0) return p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      if (/^\s+$/.test(p)) return '\\s+';
      if (p === '…') return '.*';
      if (/^[0-9a-f]{12,}$/.test(p) && /[a-f]/.test(p)) return '[0-9a-f]+';
      return NUMBER;
    })
    .join('');
  return new RegExp(`^${source}$`);
}

/** The excerpt lines (ignoring blank lines and lines that are only `…`) that match no line of `output`. */
export function missingExcerptLines(excerpt: string, output: string): string[] {
  const actual = output.split('\n').map((l) => l.trim());
  return excerpt
    .split('\n')
    .filter((l) => l.trim() !== '' && l.trim() !== '…')
    .filter((l) => {
      const pattern = excerptLinePattern(l);
      return !actual.some((a) => pattern.test(a));
    });
}
