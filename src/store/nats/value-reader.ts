/**
 * Decodes values written by value-writer.ts (the encoding is described there). Objects are built by
 * their shape: once a shape has built a few objects key by key, a function compiled for its keys
 * (reading the members inline, then `return {"amount": v0, ...}`) builds them, as fast as an object
 * literal; a shape used only a few times (say, an object used as a map) is never compiled. Malformed
 * bytes make `value` throw a ValueError; the caller names the message.
 */
import type { EventLoop } from './event-runs.ts';
import { TAG } from './value-writer.ts';

/** An object shape: its keys, and how objects of it are built (upgraded in place once compiled). */
export interface Shape {
  readonly keys: readonly string[];
  build: (r: ValueReader) => unknown;
  /** Objects built key by key so far. */
  uses: number;
  /** Whether `build` is the compiled one (a shape used often enough: worth compiling more for, event-runs.ts). */
  compiled: boolean;
  /** The loop event-runs.ts compiled for events whose data has this shape (null: it could not; kept here, not in a map, as it is looked up per message). */
  eventLoop: EventLoop | null | undefined;
}

/** What is wrong with the bytes (the caller turns it into CORRUPT naming the message). */
export class ValueError extends Error {}

export class ValueReader {
  // Public for the compiled shapes, which read their members inline.
  at: number;

  /** Reads from `bytes` (`view` over the same bytes) at `from`. */
  constructor(
    readonly bytes: Uint8Array,
    readonly view: DataView,
    from: number,
    readonly strings: readonly string[],
    private readonly shapes: readonly Shape[],
  ) {
    this.at = from;
  }

  value(): unknown {
    const at = this.at;
    const tag = this.bytes[at];
    switch (tag) {
      case TAG.object: {
        // The shape index inline when it is one byte (fewer than 128 shapes in the message).
        const small = this.bytes[at + 1] as number;
        let shape: Shape | undefined;
        if (small < 0x80) {
          this.at = at + 2;
          shape = this.shapes[small];
        } else {
          this.at = at + 1;
          shape = this.shapes[this.varint()];
        }
        if (shape === undefined) throw new ValueError(`object of an unknown shape at byte ${at}`);
        return shape.build(this);
      }
      case TAG.string: {
        this.at = at + 1;
        const s = this.strings[this.varint()];
        if (s === undefined) throw new ValueError(`unknown string at byte ${at}`);
        return s;
      }
      case TAG.float:
        this.at = at + 9;
        return this.view.getFloat64(at + 1, true);
      case TAG.int:
        this.at = at + 5;
        return this.view.getInt32(at + 1, true);
      case TAG.null:
        this.at = at + 1;
        return null;
      case TAG.false:
        this.at = at + 1;
        return false;
      case TAG.true:
        this.at = at + 1;
        return true;
      case TAG.array: {
        this.at = at + 1;
        const n = this.varint();
        // Every element takes a byte at least: a longer length is damage, not a reason to allocate.
        if (n > this.bytes.length - this.at) throw new ValueError(`array of ${n} at byte ${at}, longer than the bytes left`);
        const a: unknown[] = [];
        for (let i = 0; i < n; i++) a.push(this.value());
        return a;
      }
      case TAG.json: {
        this.at = at + 1;
        const n = this.varint();
        const from = this.at;
        if (from + n > this.bytes.length) throw new ValueError(`JSON text of ${n} bytes at byte ${at}, longer than the bytes left`);
        this.at = from + n;
        try {
          return JSON.parse(utf8(this.bytes, from, from + n));
        } catch (e) {
          throw new ValueError(`JSON text at byte ${at} does not parse: ${String(e)}`);
        }
      }
      default:
        throw new ValueError(`unknown value tag ${String(tag)} at byte ${at}`);
    }
  }

  varint(): number {
    let b = this.bytes[this.at++];
    if (b !== undefined && b < 0x80) return b;
    let n = 0;
    let scale = 1;
    for (;;) {
      if (b === undefined || scale > 2 ** 28) throw new ValueError(`bad varint at byte ${this.at - 1}`);
      n += (b & 0x7f) * scale;
      if (b < 0x80) return n;
      scale *= 0x80;
      b = this.bytes[this.at++];
    }
  }
}

const NO_STRINGS: readonly string[] = [];

/** The string table in `bytes` from `from` to `to` (see value-writer.ts). */
export function readStringTable(bytes: Uint8Array, view: DataView, from: number, to: number): readonly string[] {
  if (from === to) return NO_STRINGS;
  const r = new ValueReader(bytes, view, from, NO_STRINGS, []);
  const n = r.varint();
  if (n > to - r.at) throw new ValueError(`string table of ${n} strings in ${to - from} bytes`);
  const lengths = new Array<number>(n);
  for (let i = 0; i < n; i++) lengths[i] = r.varint();
  if (r.at > to) throw new ValueError('string table lengths run past its end');
  const all = utf8(bytes, r.at, to);
  const strings = new Array<string>(n);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const end = at + (lengths[i] as number);
    strings[i] = all.slice(at, end);
    at = end;
  }
  if (at !== all.length) throw new ValueError(`string table lengths add up to ${at}, its text has ${all.length}`);
  return strings;
}

/**
 * Shapes by their keys' JSON text, shared by every message that has them (so that a shape is compiled
 * once). Cleared when full: it only saves work.
 */
const shapes = new Map<string, Shape>();
const SHAPES_MAX = 4096;

/** The shape with these keys (`signature`: their JSON text). */
export function shapeOf(keys: readonly string[], signature: string): Shape {
  let shape = shapes.get(signature);
  if (shape === undefined) {
    if (shapes.size >= SHAPES_MAX) shapes.clear();
    const created: Shape = { keys, build: () => undefined, uses: 0, compiled: false, eventLoop: undefined };
    created.build = generic(created);
    shapes.set(signature, (shape = created));
  }
  return shape;
}

/** Objects a shape builds key by key before it is compiled: compiling costs as much as many builds. */
const COMPILE_AFTER = 16;

/**
 * Builds objects key by key, as JSON.parse does (`__proto__` becomes an own key, not the prototype),
 * and replaces itself with a compiled builder once the shape has been used enough.
 */
function generic(shape: Shape): (r: ValueReader) => unknown {
  const keys = shape.keys;
  return (r) => {
    if (++shape.uses === COMPILE_AFTER) {
      const build = compiled(keys);
      if (build !== undefined) {
        shape.build = build;
        shape.compiled = true;
      }
    }
    const o: Record<string, unknown> = {};
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as string;
      const v = r.value();
      if (k === '__proto__') Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
      else o[k] = v;
    }
    return o;
  };
}

/** Shapes with more keys are built key by key: their code would be long, and they are rare. */
const COMPILED_KEYS_MAX = 256;

/**
 * An object literal with these keys, each value read in order (memberReads, objectLiteral). Undefined
 * where code generation is turned off.
 */
function compiled(keys: readonly string[]): ((r: ValueReader) => unknown) | undefined {
  if (keys.length > COMPILED_KEYS_MAX) return undefined;
  const body = `const b = r.bytes, s = r.strings, d = r.view;
    let at = r.at, t = 0;${memberReads(keys)}
    r.at = at;
    return ${objectLiteral(keys)};`;
  try {
    return new Function('r', body) as (r: ValueReader) => unknown;
  } catch {
    return undefined;
  }
}

/**
 * Code reading an object's members in order from `b` (the bytes), `s` (the strings), `d` (a view) at
 * `at` into `v0`, `v1`, ... (`t` a scratch variable, `r` the reader at `at` for anything else). The
 * common members (a string of the first 128, a number) are read inline, anything else through
 * `r.value()`. Shared by the compiled shapes and the compiled event loops (event-runs.ts).
 */
export function memberReads(keys: readonly string[]): string {
  return keys
    .map(
      (_, i) => `
    let v${i};
    t = b[at];
    if (t === ${TAG.string} && b[at + 1] < 128 && (v${i} = s[b[at + 1]]) !== undefined) at += 2;
    else if (t === ${TAG.float}) { v${i} = d.getFloat64(at + 1, true); at += 9; }
    else if (t === ${TAG.int}) { v${i} = d.getInt32(at + 1, true); at += 5; }
    else { r.at = at; v${i} = r.value(); at = r.at; }`,
    )
    .join('');
}

/**
 * `{ "key": v0, ... }`. Keys are JSON string literals, which are JS string literals; `__proto__` is
 * a computed key so that it is an own key, as JSON.parse makes it.
 */
export function objectLiteral(keys: readonly string[]): string {
  return `{ ${keys.map((k, i) => `${k === '__proto__' ? `[${JSON.stringify(k)}]` : JSON.stringify(k)}: v${i}`).join(', ')} }`;
}

/** UTF-8 text of `bytes` from `from` to `to`; a Buffer (what the NATS client hands out) decodes short texts faster itself. */
export function utf8(bytes: Uint8Array, from: number, to: number): string {
  return bytes instanceof Buffer ? bytes.toString('utf8', from, to) : textDecoder.decode(bytes.subarray(from, to));
}

const textDecoder = new TextDecoder();
