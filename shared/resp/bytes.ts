/** Conversions between bytes and binary strings (one char per byte). */
import { Buffer } from "node:buffer";

/** Node's undocumented but stable native latin1 slice: 5x faster than toString("latin1"). */
interface Latin1 {
  latin1Slice(start: number, end: number): string;
}

let viewOf: ArrayBufferLike | null = null;
let view: Latin1 | null = null;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Bytes -> binary string. Buffer's latin1 is a true byte identity (WHATWG "latin1" is not). */
export function bytesToBinary(bytes: Uint8Array, start = 0, end = bytes.length): string {
  if (end - start < 12) {
    let s = "";
    for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]!);
    return s;
  }
  // One Buffer view per underlying ArrayBuffer: creating a view per call costs more than the copy.
  if (bytes.buffer !== viewOf) {
    viewOf = bytes.buffer;
    view = Buffer.from(bytes.buffer as ArrayBuffer) as unknown as Latin1;
  }
  return view!.latin1Slice(bytes.byteOffset + start, bytes.byteOffset + end);
}

/** Binary string -> bytes. Chars above 255 are a programmer error; they are truncated. */
export function binaryToBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** UTF-8 text -> binary string (how a JS string from a user becomes a Redis string). */
export function utf8ToBinary(text: string): string {
  return bytesToBinary(encoder.encode(text));
}

/** Binary string -> UTF-8 text (for display; invalid sequences become U+FFFD). */
export function binaryToUtf8(s: string): string {
  return decoder.decode(binaryToBytes(s));
}
