/**
 * Format-3 events decoded by a loop compiled for their data's object shape (batch-format.ts calls it).
 *
 * Why: with 100 events per message, building the events is most of a read. Decoded value by value,
 * each event costs a call into the generic value reader, its tag switch, a call into the shape's
 * builder and the reader's state saved and reloaded around each; here one loop reads the members
 * inline (value-reader.ts's memberReads), checks the time and type, and builds the data and the event
 * as two object literals, for as long as the events' data has this shape. A shape gets its loop
 * once it has been compiled itself (used often enough: value-reader.ts).
 *
 * The loop stops at the first event it does not take (data of another shape, or an event the caller
 * must refuse: unknown type, a time that is no integer, meta that is no object); the caller decodes
 * that one value by value, which also names what is wrong with it.
 *
 * Why `new Function` (re-measured for issue #9, paired CPU time in one process, the bench's 100-event
 * messages): a plain TypeScript loop doing the same per event (reader.value() through the compiled
 * shape builder, then the event literal) decoded 1.58x slower and made a whole readStream 1.16-1.22x
 * slower; with no code generation at all (shapes built key by key) decoding was 6x slower. The code is
 * built from the shape's keys only, each written as a JSON string literal (`__proto__` computed), and
 * where code generation is refused the reader falls back to the value-by-value path (tested:
 * test/store/nats/no-codegen.test.ts).
 */
import type { StoredEvent } from '../../model/event.ts';
import { TAG } from './value-writer.ts';
import { memberReads, objectLiteral, type Shape, type ValueReader } from './value-reader.ts';

/**
 * One message's decoding state, read and updated by the compiled loops. One object serves every
 * message (batch-format.ts): no allocation per message.
 */
export interface EventRun {
  stream: string;
  key: string;
  types: readonly string[];
  /** A view over the payload, and where its times and type indexes start. */
  view: DataView;
  timesAt: number;
  typesAt: number;
  firstSeq: number;
  firstPosition: number;
  count: number;
  /** Events before this time are skipped. */
  fromTime: number;
  /** Each event's meta (null: none), or undefined when no event has meta. */
  metas: readonly unknown[] | undefined;
  out: StoredEvent[];
  /** This shape's index in the message: the byte after the object tag. */
  shapeByte: number;
  /** The next event to decode (the loop leaves it at the first one it did not take). */
  i: number;
  /** Where the next event goes in `out` (which may be longer, or grow). */
  n: number;
}

/** Decodes events from `run.i` on, while their data is an object of the loop's shape (the reader is at it). */
export type EventLoop = (r: ValueReader, run: EventRun) => void;

/**
 * The compiled loop for events whose data has this shape; undefined until the shape itself is compiled
 * (or where code generation is turned off). Kept on the shape, which every message that has it shares.
 */
export function eventLoopOf(shape: Shape | undefined): EventLoop | undefined {
  if (shape === undefined || !shape.compiled) return undefined;
  if (shape.eventLoop === undefined) shape.eventLoop = compileLoop(shape.keys) ?? null;
  return shape.eventLoop ?? undefined;
}

/**
 * The event literals are in the order the value-by-value path writes them (stream, key, seq, position,
 * type, time, data, meta), so that every event of a read has one hidden class.
 */
function compileLoop(keys: readonly string[]): EventLoop | undefined {
  const event = 'stream, key, seq: seq0 + i, position: pos0 + i, type, time, data';
  const body = `const b = r.bytes, s = r.strings, d = r.view;
    const stream = m.stream, key = m.key, types = m.types, timesAt = m.timesAt, typesAt = m.typesAt;
    const seq0 = m.firstSeq, pos0 = m.firstPosition, count = m.count, fromTime = m.fromTime, metas = m.metas, out = m.out, sb = m.shapeByte;
    let at = r.at, i = m.i, n = m.n, t = 0;
    for (; i < count; i++) {
      if (b[at] !== ${TAG.object} || b[at + 1] !== sb) break;
      const start = at;
      at += 2;${memberReads(keys)}
      const time = d.getFloat64(timesAt + 8 * i, true);
      if (time < fromTime) continue;
      const type = types[d.getUint32(typesAt + 4 * i, true)];
      if (type === undefined || !Number.isSafeInteger(time)) { at = start; break; }
      const data = ${objectLiteral(keys)};
      if (metas === undefined) out[n++] = { ${event} };
      else {
        const meta = metas[i];
        if (meta === null) out[n++] = { ${event} };
        else if (typeof meta === 'object' && !Array.isArray(meta)) out[n++] = { ${event}, meta };
        else { at = start; break; }
      }
    }
    r.at = at;
    m.i = i;
    m.n = n;`;
  try {
    return new Function('r', 'm', body) as EventLoop;
  } catch {
    return undefined;
  }
}
