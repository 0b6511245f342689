/**
 * Spive names (stream names, keys, process names, versions) as NATS subject tokens and KV key tokens.
 *
 * Keys may hold any character, but a subject token may not contain `.`, `*`, `>` or whitespace, and a
 * KV key only `[-/_=.A-Za-z0-9]`. The encoding keeps `[A-Za-z0-9-]` as is and writes every other
 * UTF-8 byte as `_XX` (upper-case hex): reversible, valid in both places, and the common keys
 * (`acct-17`, `order-2024-001`) stay readable in `nats stream view` — which base64url would not give,
 * and hex would double every key.
 *
 * A server's control line is at most 4 KiB (subject plus reply inbox), and a 1024-character key of
 * non-ASCII characters encodes to up to 9 KiB. Tokens longer than MAX_TOKEN_CHARS are replaced by `=`
 * and the SHA-256 of the key (hex): still one token per key (injective up to SHA-256 collisions), no
 * longer reversible — which is why every event message also carries its key in the payload, and
 * readers never decode keys from subjects.
 */
import { createHash } from 'node:crypto';

/** Above this many characters a token is hashed (leaves room for prefix, stream and reply subject). */
export const MAX_TOKEN_CHARS = 512;

const PLAIN = /^[A-Za-z0-9-]$/;
const HEX = '0123456789ABCDEF';
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** The token of a name: readable escape form, or `=<sha256 hex>` when that is too long. */
export function encodeToken(name: string): string {
  const escaped = escapeName(name);
  if (escaped.length <= MAX_TOKEN_CHARS) return escaped;
  return `=${createHash('sha256').update(name, 'utf8').digest('hex')}`;
}

/** The name of an escape-form token; undefined for a hashed token (its name is not recoverable). */
export function decodeToken(token: string): string | undefined {
  if (token.startsWith('=')) return undefined;
  if (token.startsWith('_U')) {
    let units = '';
    for (let i = 0; i < token.length; i += 6) units += String.fromCharCode(Number.parseInt(token.slice(i + 2, i + 6), 16));
    return units;
  }
  const bytes: number[] = [];
  for (let i = 0; i < token.length; i++) {
    const c = token[i] as string;
    if (c === '_') {
      bytes.push(Number.parseInt(token.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(c.charCodeAt(0));
  }
  return decoder.decode(new Uint8Array(bytes));
}

function escapeName(name: string): string {
  let plain = true;
  for (let i = 0; i < name.length && plain; i++) plain = PLAIN.test(name[i] as string);
  if (plain) return name;
  let out = '';
  // Lone surrogates cannot round-trip through UTF-8; TextEncoder writes them as U+FFFD, so two keys
  // differing only there would share a token. Escape such keys' UTF-16 units instead (marked by `_U`).
  if (LONE_SURROGATE.test(name)) {
    for (let i = 0; i < name.length; i++) out += `_U${name.charCodeAt(i).toString(16).toUpperCase().padStart(4, '0')}`;
    return out;
  }
  for (const byte of encoder.encode(name)) {
    const c = String.fromCharCode(byte);
    out += byte < 0x80 && PLAIN.test(c) ? c : `_${HEX[byte >> 4]}${HEX[byte & 15]}`;
  }
  return out;
}
