/**
 * WAL framing. Every record is `[magic u32][bodyLength u32][crc32(body) u32][body]`, little-endian.
 * The checksum detects torn and corrupted records; the magic lets the torn-tail scan tell a frame
 * start from garbage.
 */
import { crc32 } from 'node:zlib';

export const FRAME_MAGIC = 0x31565053; // "SPV1" read as little-endian bytes
export const FRAME_HEADER_BYTES = 12;
export const MAX_FRAME_BODY_BYTES = 256 * 1024 * 1024;
/**
 * Every record body holds at least its kind and meta length (wal-records.ts). A shorter frame is never
 * written; it is what a torn write leaves when only the magic landed and zeros follow (length 0 and
 * CRC 0 "match"), so it must not pass as a valid frame.
 */
export const MIN_FRAME_BODY_BYTES = 5;

export function encodeFrame(body: Uint8Array): Uint8Array {
  const frame = new Uint8Array(FRAME_HEADER_BYTES + body.byteLength);
  const view = new DataView(frame.buffer);
  view.setUint32(0, FRAME_MAGIC, true);
  view.setUint32(4, body.byteLength, true);
  view.setUint32(8, crc32(body), true);
  frame.set(body, FRAME_HEADER_BYTES);
  return frame;
}

export type FrameCheck =
  | { readonly ok: true; readonly body: Uint8Array; readonly end: number }
  | { readonly ok: false; readonly reason: string; /** true when the frame runs past the end of the data */ readonly truncated: boolean };

/** Checks the frame starting at `offset` of `bytes` (a whole file or a read of one frame). */
export function checkFrame(bytes: Uint8Array, offset: number): FrameCheck {
  if (offset + FRAME_HEADER_BYTES > bytes.byteLength) {
    return { ok: false, reason: 'incomplete frame header', truncated: true };
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(offset, true) !== FRAME_MAGIC) return { ok: false, reason: 'bad frame magic', truncated: false };
  const length = view.getUint32(offset + 4, true);
  if (length > MAX_FRAME_BODY_BYTES || length < MIN_FRAME_BODY_BYTES) return { ok: false, reason: `implausible frame length ${length}`, truncated: false };
  const end = offset + FRAME_HEADER_BYTES + length;
  if (end > bytes.byteLength) return { ok: false, reason: `frame of ${length} bytes runs past end of data`, truncated: true };
  const body = bytes.subarray(offset + FRAME_HEADER_BYTES, end);
  if (crc32(body) !== view.getUint32(offset + 8, true)) return { ok: false, reason: 'checksum mismatch', truncated: false };
  return { ok: true, body, end };
}

/** True when some valid frame starts anywhere in `bytes` at or after `from`. */
export function anyValidFrameAfter(bytes: Uint8Array, from: number): boolean {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let o = from; o + FRAME_HEADER_BYTES <= bytes.byteLength; o++) {
    if (view.getUint32(o, true) === FRAME_MAGIC && checkFrame(bytes, o).ok) return true;
  }
  return false;
}
