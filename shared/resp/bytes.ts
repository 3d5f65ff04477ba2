/** Conversions between bytes and binary strings (one char per byte). */
import { Buffer } from "node:buffer";

/** Node's undocumented but stable native latin1 slice: 5x faster than toString("latin1"). */
export interface Latin1 {
  latin1Slice(start: number, end: number): string;
}

let viewOf: ArrayBufferLike | null = null;
let view: Latin1 | null = null;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const chr = String.fromCharCode;

/** The longest string mediumBinary builds; longer ones are sliced natively. */
export const MEDIUM_MAX = 32;

/**
 * A string of up to 11 bytes, built in one allocation (appending char by char allocates an
 * intermediate string per byte); null when longer.
 */
export function shortBinary(b: Uint8Array, s: number, end: number): string | null {
  switch (end - s) {
    case 0:
      return "";
    case 1:
      return chr(b[s]!);
    case 2:
      return chr(b[s]!, b[s + 1]!);
    case 3:
      return chr(b[s]!, b[s + 1]!, b[s + 2]!);
    case 4:
      return chr(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!);
    case 5:
      return chr(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!);
    case 6:
      return chr(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!);
    case 7:
      return chr(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!);
    case 8:
      return chr(
        b[s]!,
        b[s + 1]!,
        b[s + 2]!,
        b[s + 3]!,
        b[s + 4]!,
        b[s + 5]!,
        b[s + 6]!,
        b[s + 7]!,
      );
    case 9:
      return chr(
        b[s]!,
        b[s + 1]!,
        b[s + 2]!,
        b[s + 3]!,
        b[s + 4]!,
        b[s + 5]!,
        b[s + 6]!,
        b[s + 7]!,
        b[s + 8]!,
      );
    case 10:
      return chr(
        b[s]!,
        b[s + 1]!,
        b[s + 2]!,
        b[s + 3]!,
        b[s + 4]!,
        b[s + 5]!,
        b[s + 6]!,
        b[s + 7]!,
        b[s + 8]!,
        b[s + 9]!,
      );
    case 11:
      return chr(
        b[s]!,
        b[s + 1]!,
        b[s + 2]!,
        b[s + 3]!,
        b[s + 4]!,
        b[s + 5]!,
        b[s + 6]!,
        b[s + 7]!,
        b[s + 8]!,
        b[s + 9]!,
        b[s + 10]!,
      );
    default:
      return null;
  }
}

/**
 * A string of 12 to 32 bytes, built by one call with as many arguments, which the compiler turns
 * into a direct allocation and copy: about twice as fast as a native latin1 slice at these
 * lengths (common ones for keys), whose call into the runtime costs more than the copy. Null
 * for other lengths.
 */
// deno-fmt-ignore
export function mediumBinary(b: Uint8Array, s: number, end: number): string | null {
  switch (end - s) {
    case 12: return chr(b[s + 0]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!);
    case 13: return chr(b[s + 0]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!);
    case 14: return chr(b[s + 0]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!);
    case 15: return chr(b[s + 0]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!);
    case 16: return chr(b[s + 0]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!, b[s + 15]!);
    case 17: return chr(b[s + 0]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!, b[s + 15]!, b[s + 16]!);
    case 18: return chr(b[s + 0]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!, b[s + 15]!, b[s + 16]!, b[s + 17]!);
    case 19: return chr(b[s + 0]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!, b[s + 15]!, b[s + 16]!, b[s + 17]!, b[s + 18]!);
    case 20: return chr(b[s + 0]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!, b[s + 15]!, b[s + 16]!, b[s + 17]!, b[s + 18]!, b[s + 19]!);
    case 21: return chr(b[s + 0]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!, b[s + 15]!, b[s + 16]!, b[s + 17]!, b[s + 18]!, b[s + 19]!, b[s + 20]!);
    case 22: return chr(b[s + 0]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!, b[s + 15]!, b[s + 16]!, b[s + 17]!, b[s + 18]!, b[s + 19]!, b[s + 20]!, b[s + 21]!);
    case 23: return chr(b[s + 0]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!, b[s + 15]!, b[s + 16]!, b[s + 17]!, b[s + 18]!, b[s + 19]!, b[s + 20]!, b[s + 21]!, b[s + 22]!);
    case 24: return chr(b[s + 0]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!, b[s + 15]!, b[s + 16]!, b[s + 17]!, b[s + 18]!, b[s + 19]!, b[s + 20]!, b[s + 21]!, b[s + 22]!, b[s + 23]!);
    case 25: return chr(b[s + 0]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!, b[s + 15]!, b[s + 16]!, b[s + 17]!, b[s + 18]!, b[s + 19]!, b[s + 20]!, b[s + 21]!, b[s + 22]!, b[s + 23]!, b[s + 24]!);
    case 26: return chr(b[s + 0]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!, b[s + 15]!, b[s + 16]!, b[s + 17]!, b[s + 18]!, b[s + 19]!, b[s + 20]!, b[s + 21]!, b[s + 22]!, b[s + 23]!, b[s + 24]!, b[s + 25]!);
    case 27: return chr(b[s + 0]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!, b[s + 15]!, b[s + 16]!, b[s + 17]!, b[s + 18]!, b[s + 19]!, b[s + 20]!, b[s + 21]!, b[s + 22]!, b[s + 23]!, b[s + 24]!, b[s + 25]!, b[s + 26]!);
    case 28: return chr(b[s + 0]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!, b[s + 15]!, b[s + 16]!, b[s + 17]!, b[s + 18]!, b[s + 19]!, b[s + 20]!, b[s + 21]!, b[s + 22]!, b[s + 23]!, b[s + 24]!, b[s + 25]!, b[s + 26]!, b[s + 27]!);
    case 29: return chr(b[s + 0]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!, b[s + 15]!, b[s + 16]!, b[s + 17]!, b[s + 18]!, b[s + 19]!, b[s + 20]!, b[s + 21]!, b[s + 22]!, b[s + 23]!, b[s + 24]!, b[s + 25]!, b[s + 26]!, b[s + 27]!, b[s + 28]!);
    case 30: return chr(b[s + 0]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!, b[s + 15]!, b[s + 16]!, b[s + 17]!, b[s + 18]!, b[s + 19]!, b[s + 20]!, b[s + 21]!, b[s + 22]!, b[s + 23]!, b[s + 24]!, b[s + 25]!, b[s + 26]!, b[s + 27]!, b[s + 28]!, b[s + 29]!);
    case 31: return chr(b[s + 0]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!, b[s + 15]!, b[s + 16]!, b[s + 17]!, b[s + 18]!, b[s + 19]!, b[s + 20]!, b[s + 21]!, b[s + 22]!, b[s + 23]!, b[s + 24]!, b[s + 25]!, b[s + 26]!, b[s + 27]!, b[s + 28]!, b[s + 29]!, b[s + 30]!);
    case 32: return chr(b[s + 0]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!, b[s + 15]!, b[s + 16]!, b[s + 17]!, b[s + 18]!, b[s + 19]!, b[s + 20]!, b[s + 21]!, b[s + 22]!, b[s + 23]!, b[s + 24]!, b[s + 25]!, b[s + 26]!, b[s + 27]!, b[s + 28]!, b[s + 29]!, b[s + 30]!, b[s + 31]!);
    default: return null;
  }
}

/**
 * Recently read strings of 2 to RECENT_MAX bytes, one per slot of a direct-mapped table (a power
 * of two). Handing out the same string again for the same bytes matters because a fresh string's
 * first use as a Map key computes its hash, and the runtime does that with a lookup in its own
 * string table: about 0.2 µs, more than the rest of a GET. A key, member or script digest that
 * is read again (hot keys, a pipeline repeating one) reuses a string whose hash is known. Strings
 * are immutable, so sharing one between clients and the keyspace is safe; a miss costs one pass
 * over the bytes.
 *
 * Each slot of a string up to WORD_MAX bytes also keeps its bytes as little-endian 32-bit words,
 * the same words the hash is computed from: a hit is then confirmed by comparing a few words
 * instead of every character through the string (about 20 ns instead of 45 for a 16-byte key).
 * Longer strings (script digests, long keys) are compared character by character. The table is
 * sized so that it costs about what the strings it keeps alive cost: 2^15 slots, 1.2 MB of words.
 */
export const RECENT_MAX = 64;
const RECENT_SLOTS = 1 << 15;
/** Strings up to this many bytes keep their words. */
const WORD_MAX = 32;
/** Words per slot: WORD_MAX bytes, the last word holding the bytes past a multiple of four. */
const SLOT_WORDS = WORD_MAX / 4 + 1;
const recent: string[] = new Array<string>(RECENT_SLOTS).fill("");
/** Each slot's hash of its string's bytes: a miss is found without touching the string. */
const recentHash = new Int32Array(RECENT_SLOTS);
/** Each slot's byte length (0: empty). */
const recentLen = new Int32Array(RECENT_SLOTS);
/** Each slot's bytes as words (SLOT_WORDS per slot; the pages are touched as slots fill). */
const recentWords = new Int32Array(RECENT_SLOTS * SLOT_WORDS);
/** The words of the bytes last looked up (up to RECENT_MAX of them), for the comparison. */
const lookupWords = new Int32Array(RECENT_MAX / 4 + 1);
let lookupWordCount = 0;
let recentSlot = 0;
let recentH = 0;
let recentN = 0;

/**
 * The string last read for these bytes (2 to RECENT_MAX of them), or null; on null, the slot
 * for them is remembered and recentStore() fills it.
 */
export function recentLookup(b: Uint8Array, s: number, end: number): string | null {
  const h = recentHashOf(b, s, end);
  const n = end - s;
  const slot = h & (RECENT_SLOTS - 1);
  if (recentHash[slot] === h && recentLen[slot] === n) {
    if (n <= WORD_MAX) {
      const o = slot * SLOT_WORDS, k = lookupWordCount;
      let j = 0;
      while (j < k && recentWords[o + j] === lookupWords[j]) j++;
      if (j === k) return recent[slot]!;
    } else {
      const c = recent[slot]!;
      let i = 0;
      while (i < n && c.charCodeAt(i) === b[s + i]) i++;
      if (i === n) return c;
    }
  }
  recentSlot = slot;
  recentH = h;
  recentN = n;
  return null;
}

/** The table's hash of some bytes; their words are left in lookupWords. */
export function recentHashOf(b: Uint8Array, s: number, end: number): number {
  const words = lookupWords;
  // Four bytes per multiply: the loads run in parallel, the multiplies are the chain.
  let h = end - s, i = s, k = 0;
  for (; i + 4 <= end; i += 4) {
    const w = b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
    words[k++] = w;
    h = Math.imul(h ^ w, 0x01000193);
    h ^= h >>> 16;
  }
  let tail = 0, shift = 0;
  for (; i < end; i++, shift += 8) {
    h = Math.imul(h ^ b[i]!, 0x01000193);
    tail |= b[i]! << shift;
  }
  words[k++] = tail;
  lookupWordCount = k;
  return h ^ (h >>> 15);
}

/** Keeps `str`, the string of the bytes recentLookup() just missed, for the next read. */
export function recentStore(str: string): string {
  const slot = recentSlot;
  recent[slot] = str;
  recentHash[slot] = recentH;
  recentLen[slot] = recentN;
  if (recentN <= WORD_MAX) {
    recentWords.set(lookupWords.subarray(0, lookupWordCount), slot * SLOT_WORDS);
  }
  return str;
}

/** A binary string of 2 to MEDIUM_MAX bytes, reused when the same bytes were read recently. */
export function recentBinary(b: Uint8Array, s: number, end: number): string {
  return recentLookup(b, s, end) ??
    recentStore(end - s < 12 ? shortBinary(b, s, end)! : mediumBinary(b, s, end)!);
}

/** A latin1 view of an ArrayBuffer: slices it into binary strings natively. */
export function latin1View(buffer: ArrayBufferLike): Latin1 {
  return Buffer.from(buffer as ArrayBuffer) as unknown as Latin1;
}

/** Bytes -> binary string. Buffer's latin1 is a true byte identity (WHATWG "latin1" is not). */
export function bytesToBinary(bytes: Uint8Array, start = 0, end = bytes.length): string {
  if (end - start < 12) return shortBinary(bytes, start, end)!;
  if (end - start <= MEDIUM_MAX) return mediumBinary(bytes, start, end)!;
  // One Buffer view per underlying ArrayBuffer: creating a view per call costs more than the copy.
  if (bytes.buffer !== viewOf) {
    viewOf = bytes.buffer;
    view = latin1View(bytes.buffer);
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
