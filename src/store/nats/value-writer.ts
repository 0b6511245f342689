/**
 * Encodes the events' data values of a format-3 message (batch-format.ts) in Spive's binary value
 * encoding, so that readers rebuild them without JSON.parse (which cost more than all the rest of a
 * read of 100-event messages). A value is one tag byte and what the tag says:
 *
 *   tag  value      then
 *   0    null
 *   1    false
 *   2    true
 *   3    number     i32, little-endian (integers that fit; -0 is written as 0, as JSON does)
 *   4    number     f64, little-endian
 *   5    string     varint index into the message's string table (each distinct string once)
 *   6    array      varint length, then each element
 *   7    object     varint index into the message's shape table (its keys, in order), then each value
 *   8    any        varint byte length, then UTF-8 JSON text (data the fast path does not take)
 *
 * The string table: varint count, the varint length (UTF-16 units) of each string, then all strings as
 * one UTF-8 text (a reader decodes one text and slices it). Strings that UTF-8 cannot hold (lone
 * surrogates) send their value to the JSON text fallback. Varints are unsigned LEB128.
 *
 * What comes back is exactly what JSON.parse(JSON.stringify(data)) gives: the writer takes plain objects, arrays and primitives itself, with JSON's rules (non-finite numbers
 * are null, undefined/function/symbol members dropped from objects and null in arrays), and writes any
 * value holding something else (toJSON, class instances, nesting past MAX_DEPTH, ...) as its JSON text.
 */
export const TAG = { null: 0, false: 1, true: 2, int: 3, float: 4, string: 5, array: 6, object: 7, json: 8 } as const;

/** Deeper data is written as JSON text: readers recurse, and this keeps them far from the stack limit. */
export const MAX_DEPTH = 64;

/** What the writer made: the values, in order, and the tables they index. */
export interface EncodedValues {
  readonly values: Uint8Array;
  /** The string table, encoded (empty when there are no strings). */
  readonly strings: Uint8Array;
  readonly shapes: readonly (readonly string[])[];
}

export class ValueWriter {
  private bytes = new Uint8Array(1024);
  private view = new DataView(this.bytes.buffer);
  private at = 0;
  private readonly stringIndex = new Map<string, number>();
  private readonly shapeIndex = new Map<string, number>();
  private readonly shapes: string[][] = [];
  private lastShape = -1;

  /**
   * Appends `value` if it holds only plain objects, arrays and primitives; else writes nothing and
   * returns false (strings and shapes it met stay in the tables, unused).
   */
  tryWrite(value: unknown): boolean {
    const start = this.at;
    if (this.value(value, 0)) return true;
    this.at = start;
    return false;
  }

  /** Appends a value as its JSON text (what `tryWrite` refused, after JSON.stringify took it). */
  writeJson(text: string): void {
    const utf8 = textEncoder.encode(text);
    this.byte(TAG.json);
    this.varint(utf8.length);
    this.room(utf8.length);
    this.bytes.set(utf8, this.at);
    this.at += utf8.length;
  }

  finish(): EncodedValues {
    const values = this.bytes.slice(0, this.at);
    return { values, strings: this.stringTable(), shapes: this.shapes };
  }

  /** Reuses this writer's buffer for the string table (the values were copied out first). */
  private stringTable(): Uint8Array {
    if (this.stringIndex.size === 0) return new Uint8Array(0);
    this.at = 0;
    this.varint(this.stringIndex.size);
    for (const s of this.stringIndex.keys()) this.varint(s.length);
    const text = textEncoder.encode([...this.stringIndex.keys()].join(''));
    this.room(text.length);
    this.bytes.set(text, this.at);
    return this.bytes.slice(0, this.at + text.length);
  }

  /** Writes `v`; false (and some bytes to be dropped) when it holds something only JSON.stringify knows. */
  private value(v: unknown, depth: number): boolean {
    switch (typeof v) {
      case 'string': {
        let index = this.stringIndex.get(v);
        if (index === undefined) {
          if (!wellFormed(v)) return false;
          index = this.addString(v);
        }
        this.byte(TAG.string);
        this.varint(index);
        return true;
      }
      case 'number':
        if ((v | 0) === v) {
          this.room(5);
          this.bytes[this.at] = TAG.int;
          this.view.setInt32(this.at + 1, v, true);
          this.at += 5;
        } else if (Number.isFinite(v)) {
          this.room(9);
          this.bytes[this.at] = TAG.float;
          this.view.setFloat64(this.at + 1, v, true);
          this.at += 9;
        } else this.byte(TAG.null);
        return true;
      case 'boolean':
        this.byte(v ? TAG.true : TAG.false);
        return true;
      case 'object':
        if (v === null) {
          this.byte(TAG.null);
          return true;
        }
        if (depth >= MAX_DEPTH || typeof (v as { toJSON?: unknown }).toJSON === 'function') return false;
        if (Array.isArray(v)) return this.array(v, depth + 1);
        {
          const proto: unknown = Object.getPrototypeOf(v);
          return (proto === Object.prototype || proto === null) && this.object(v as Record<string, unknown>, depth + 1);
        }
      default:
        // undefined, functions and symbols (only allowed inside objects and arrays), bigint.
        return false;
    }
  }

  private array(a: readonly unknown[], depth: number): boolean {
    const n = a.length;
    this.byte(TAG.array);
    this.varint(n);
    for (let i = 0; i < n; i++) {
      const e = a[i];
      if (dropped(e)) this.byte(TAG.null);
      else if (!this.value(e, depth)) return false;
    }
    return true;
  }

  private object(o: Record<string, unknown>, depth: number): boolean {
    let keys = Object.keys(o);
    for (let i = 0; i < keys.length; i++) {
      if (dropped(o[keys[i] as string])) {
        keys = keys.filter((k) => !dropped(o[k]));
        break;
      }
    }
    const shape = this.shapeOf(keys);
    this.byte(TAG.object);
    this.varint(shape);
    for (let i = 0; i < keys.length; i++) if (!this.value(o[keys[i] as string], depth)) return false;
    return true;
  }

  /** The index of the shape with these keys; the last one is compared first (a batch's events mostly share one). */
  private shapeOf(keys: string[]): number {
    const last = this.shapes[this.lastShape];
    if (last !== undefined && sameKeys(last, keys)) return this.lastShape;
    const signature = JSON.stringify(keys);
    let shape = this.shapeIndex.get(signature);
    if (shape === undefined) {
      shape = this.shapes.length;
      this.shapes.push(keys);
      this.shapeIndex.set(signature, shape);
    }
    this.lastShape = shape;
    return shape;
  }

  private addString(s: string): number {
    const index = this.stringIndex.size;
    this.stringIndex.set(s, index);
    return index;
  }

  private byte(b: number): void {
    this.room(1);
    this.bytes[this.at++] = b;
  }

  private varint(n: number): void {
    this.room(5);
    while (n >= 0x80) {
      this.bytes[this.at++] = (n & 0x7f) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.bytes[this.at++] = n;
  }

  private room(n: number): void {
    if (this.at + n <= this.bytes.length) return;
    const bigger = new Uint8Array(Math.max(this.bytes.length * 2, this.at + n));
    bigger.set(this.bytes.subarray(0, this.at));
    this.bytes = bigger;
    this.view = new DataView(bigger.buffer);
  }
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Members JSON leaves out of objects and writes as null in arrays. */
function dropped(v: unknown): boolean {
  return v === undefined || typeof v === 'function' || typeof v === 'symbol';
}

/** Whether UTF-8 holds `s` exactly (no lone surrogates). Node >= 20 has isWellFormed; TypeScript's es2023 lib does not. */
function wellFormed(s: string): boolean {
  return (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}

const textEncoder = new TextEncoder();
