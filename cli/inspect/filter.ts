/**
 * The `/` filter: `stream:S key:K type:T actor:A kind:K` terms and free text, all of which must match.
 * Free text matches kind, actor, stream, key or detail, case-insensitively.
 */
import type { Filter } from './types.ts';

const FIELDS = ['stream', 'key', 'type', 'actor', 'kind'] as const;

/** Parses the text typed after `/`; an empty text is no filter (undefined). Unknown `x:` prefixes are text. */
export function parseFilter(text: string): Filter | undefined {
  const filter: Record<string, string> = {};
  const words: string[] = [];
  for (const word of text.trim().split(/\s+/).filter((w) => w !== '')) {
    const m = /^([a-z]+):(.+)$/.exec(word);
    if (m !== null && (FIELDS as readonly string[]).includes(m[1] as string)) filter[m[1] as string] = m[2] as string;
    else words.push(word);
  }
  if (words.length > 0) filter.text = words.join(' ');
  return Object.keys(filter).length === 0 ? undefined : (filter as Filter);
}

/** The filter as it was typed (for the status line). */
export function describeFilter(filter: Filter): string {
  const terms = FIELDS.filter((f) => filter[f] !== undefined).map((f) => `${f}:${filter[f]}`);
  if (filter.text !== undefined) terms.push(filter.text);
  return terms.join(' ');
}

function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

function likePattern(text: string): string {
  return literal(`%${text.replaceAll('\\', '\\\\').replaceAll('%', '\\%').replaceAll('_', '\\_')}%`);
}

/**
 * The filter as a SQL condition over the events view (columns kind, actor, stream, key, type, detail).
 * Streams, keys and types match exactly; an actor matches with or without its `#incarnation`.
 */
export function filterSql(filter: Filter | undefined): string {
  if (filter === undefined) return 'TRUE';
  const terms: string[] = [];
  if (filter.stream !== undefined) terms.push(`stream = ${literal(filter.stream)}`);
  if (filter.key !== undefined) terms.push(`key = ${literal(filter.key)}`);
  if (filter.type !== undefined) terms.push(`type = ${literal(filter.type)}`);
  if (filter.kind !== undefined) terms.push(`kind = ${literal(filter.kind)}`);
  if (filter.actor !== undefined) terms.push(`(actor = ${literal(filter.actor)} OR split_part(actor, '#', 1) = ${literal(filter.actor)})`);
  if (filter.text !== undefined) {
    const p = likePattern(filter.text);
    terms.push(`(kind ILIKE ${p} ESCAPE '\\' OR actor ILIKE ${p} ESCAPE '\\' OR stream ILIKE ${p} ESCAPE '\\' OR key ILIKE ${p} ESCAPE '\\' OR detail ILIKE ${p} ESCAPE '\\')`);
  }
  return terms.join(' AND ');
}
