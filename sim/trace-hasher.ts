/**
 * The trace's fingerprint: SHA-256 over its rows in a compact binary form, written into one reused
 * buffer. Per scheduler step that is a tag byte, the step number, its time as a float64 and the label
 * as a number (each distinct label's text is hashed once, when first seen): no number is ever printed
 * and no row string is built, which is what hashing rows as text cost. Any two different row sequences
 * encode differently: every field is fixed-width or length-prefixed.
 */
import { createHash, type Hash } from 'node:crypto';

const BUFFER_BYTES = 64 * 1024;
const TAG_STEP = 1;
const TAG_ROW = 2;
const TAG_LABEL = 3;

export class TraceHasher {
  private readonly hash: Hash = createHash('sha256');
  private readonly buffer = Buffer.allocUnsafe(BUFFER_BYTES);
  private readonly view = new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.byteLength);
  private at = 0;
  private readonly labels = new Map<string, number>();

  /** A scheduler step (`label` interned: its text goes into the hash once, with its number). */
  step(step: number, simulatedMs: number, label: string): void {
    let id = this.labels.get(label);
    if (id === undefined) {
      id = this.labels.size;
      this.labels.set(label, id);
      this.room(5);
      this.buffer[this.at] = TAG_LABEL;
      this.view.setUint32(this.at + 1, id, true);
      this.at += 5;
      this.text(label);
    }
    this.room(21);
    const at = this.at;
    this.buffer[at] = TAG_STEP;
    this.view.setFloat64(at + 1, step, true);
    this.view.setFloat64(at + 9, simulatedMs, true);
    this.view.setUint32(at + 17, id, true);
    this.at = at + 21;
  }

  /** Any other row: its numbers as float64, its strings length-prefixed. */
  row(step: number, simulatedMs: number, kind: string, actor: string, stream: string, key: string, position: number, detail: string, cause: number): void {
    this.room(33);
    const at = this.at;
    this.buffer[at] = TAG_ROW;
    this.view.setFloat64(at + 1, step, true);
    this.view.setFloat64(at + 9, simulatedMs, true);
    this.view.setFloat64(at + 17, position, true);
    this.view.setFloat64(at + 25, cause, true);
    this.at = at + 33;
    this.text(kind);
    this.text(actor);
    this.text(stream);
    this.text(key);
    this.text(detail);
  }

  /** The fingerprint; call once, at the end. */
  digest(): string {
    this.flush();
    return this.hash.digest('hex');
  }

  /** A string as its UTF-8 byte length (uint32) and bytes. */
  private text(s: string): void {
    const n = s.length;
    const most = 4 + n * 3; // UTF-8 takes at most 3 bytes per UTF-16 unit
    if (most > BUFFER_BYTES) {
      const bytes = Buffer.from(s, 'utf8');
      this.room(4);
      this.view.setUint32(this.at, bytes.length, true);
      this.at += 4;
      this.flush();
      this.hash.update(bytes);
      return;
    }
    this.room(most);
    const buffer = this.buffer;
    const start = this.at + 4;
    let at = start;
    // Trace strings are short and mostly ASCII: copied here, as a Buffer.write per string costs more.
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      buffer[at++] = c;
    }
    if (i < n) at += buffer.write(s.slice(i), at, 'utf8'); // the rest, from the first non-ASCII unit
    this.view.setUint32(this.at, at - start, true);
    this.at = at;
  }

  /** Makes room for `bytes` more (flushing what is buffered into the hash). */
  private room(bytes: number): void {
    if (this.at + bytes > BUFFER_BYTES) this.flush();
  }

  private flush(): void {
    if (this.at === 0) return;
    this.hash.update(this.buffer.subarray(0, this.at));
    this.at = 0;
  }
}
