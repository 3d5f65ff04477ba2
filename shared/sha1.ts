/**
 * SHA-1 (FIPS 180-4) for short inputs on paths that hash often: DEBUG DIGEST hashes several
 * short strings per key (a million keys: millions of hashes), EVAL hashes its script's body on
 * every call. node:crypto's createHash costs several microseconds per call here (a hasher
 * object and calls into the runtime), far more than hashing a few bytes.
 *
 * Inputs are byte arrays or binary strings (one char per byte, as values are kept). Not for
 * security: it is the name and checksum function Redis uses there.
 */

const W = new Int32Array(80);
const H = new Int32Array(5);
/** The last block or two of an input: its tail, the 0x80 marker and the bit length. */
const TAIL = new Uint8Array(128);
/** A binary string's bytes, for strings longer than TAIL can take whole. */
let scratch = new Uint8Array(1024);

function compress(p: Uint8Array, off: number): void {
  for (let i = 0; i < 16; i++, off += 4) {
    W[i] = (p[off]! << 24) | (p[off + 1]! << 16) | (p[off + 2]! << 8) | p[off + 3]!;
  }
  for (let i = 16; i < 80; i++) {
    const x = W[i - 3]! ^ W[i - 8]! ^ W[i - 14]! ^ W[i - 16]!;
    W[i] = (x << 1) | (x >>> 31);
  }
  let a = H[0]!, b = H[1]!, c = H[2]!, d = H[3]!, e = H[4]!;
  for (let i = 0; i < 80; i++) {
    let f: number;
    if (i < 20) f = ((b & c) | (~b & d)) + 0x5a827999;
    else if (i < 40) f = (b ^ c ^ d) + 0x6ed9eba1;
    else if (i < 60) f = ((b & c) | (b & d) | (c & d)) + 0x8f1bbcdc;
    else f = (b ^ c ^ d) + 0xca62c1d6;
    const t = (((a << 5) | (a >>> 27)) + f + e + W[i]!) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = t;
  }
  H[0] = (H[0]! + a) | 0;
  H[1] = (H[1]! + b) | 0;
  H[2] = (H[2]! + c) | 0;
  H[3] = (H[3]! + d) | 0;
  H[4] = (H[4]! + e) | 0;
}

/** Hashes data[0, len) into out[at, at + 20). */
function digestInto(data: Uint8Array, len: number, out: Uint8Array, at: number): void {
  H[0] = 0x67452301;
  H[1] = 0xefcdab89 | 0;
  H[2] = 0x98badcfe | 0;
  H[3] = 0x10325476;
  H[4] = 0xc3d2e1f0 | 0;
  let off = 0;
  for (; off + 64 <= len; off += 64) compress(data, off);
  const rest = len - off;
  TAIL.fill(0);
  TAIL.set(data.subarray(off, len));
  TAIL[rest] = 0x80;
  const end = rest < 56 ? 64 : 128;
  // The length in bits, big-endian, in the last 8 bytes.
  const hi = Math.floor(len / 0x20000000), lo = (len << 3) >>> 0;
  TAIL[end - 8] = hi >>> 24;
  TAIL[end - 7] = hi >>> 16;
  TAIL[end - 6] = hi >>> 8;
  TAIL[end - 5] = hi;
  TAIL[end - 4] = lo >>> 24;
  TAIL[end - 3] = lo >>> 16;
  TAIL[end - 2] = lo >>> 8;
  TAIL[end - 1] = lo;
  compress(TAIL, 0);
  if (end === 128) compress(TAIL, 64);
  for (let i = 0; i < 5; i++) {
    const h = H[i]!;
    out[at++] = h >>> 24;
    out[at++] = h >>> 16;
    out[at++] = h >>> 8;
    out[at++] = h;
  }
}

/** The SHA-1 of `data` (bytes, or a binary string) into `out` (20 bytes; a new array if none). */
export function sha1(
  data: Uint8Array | string,
  out: Uint8Array = new Uint8Array(20),
  at = 0,
): Uint8Array {
  if (typeof data !== "string") {
    digestInto(data, data.length, out, at);
    return out;
  }
  const n = data.length;
  if (n > scratch.length) scratch = new Uint8Array(Math.max(n, scratch.length * 2));
  for (let i = 0; i < n; i++) scratch[i] = data.charCodeAt(i);
  digestInto(scratch, n, out, at);
  // A big input's scratch is not kept.
  if (scratch.length > 1 << 20) scratch = new Uint8Array(1024);
  return out;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const hexOut = new Uint8Array(20);

/** The SHA-1 of `data` as 40 lowercase hex digits. */
export function sha1Hex(data: Uint8Array | string): string {
  sha1(data, hexOut);
  let s = "";
  for (let i = 0; i < 20; i++) s += HEX[hexOut[i]!]!;
  return s;
}
