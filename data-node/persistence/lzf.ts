/**
 * LZF, the compression of RDB strings. Literal runs: a control byte 0..31 (run length - 1) and
 * the bytes. Back references: 3 bits of length (7 = one more length byte), 13 bits of offset.
 */

const HLOG = 16;
const HSIZE = 1 << HLOG;
const MAX_LIT = 32;
const MAX_OFF = 1 << 13;
const MAX_REF = (1 << 8) + (1 << 3);

/**
 * The table slot of a running hash (the last bytes read, shifted in one by one): the same hash
 * and table size as redis-server's LZF, so that both choose the same back references and
 * write the same bytes.
 */
function slot(h: number): number {
  return (Math.imul(h, 0x1e35a7bd) >>> (32 - HLOG - 8)) & (HSIZE - 1);
}

/**
 * One hash table for every call (a fresh 256 KB table per RDB string would cost more than the
 * compression): a slot counts only when its stamp is the current call's, which makes the table
 * empty at the start of each call without clearing it.
 */
const htab = new Int32Array(HSIZE);
const stamps = new Uint32Array(HSIZE);
let call = 0;

/**
 * Compresses into at most maxOut bytes; null when the output would not fit. Matches are
 * searched the way redis-server does (one candidate per hash slot, the two positions before
 * the end of each match re-hashed), so equal input gives Redis's own output.
 */
export function lzfCompress(input: Uint8Array, maxOut: number): Uint8Array | null {
  const inLen = input.length;
  if (inLen === 0) return new Uint8Array(0);
  if (maxOut <= 0) return null;
  const out = new Uint8Array(maxOut);
  if (++call === 2 ** 32) {
    stamps.fill(0);
    call = 1;
  }
  let ip = 0, op = 0, lit = 0;
  op++; // Room for the first literal run's control byte.
  let hval = ((input[0]! << 8) | (input[1] ?? 0)) >>> 0;
  while (ip < inLen - 2) {
    hval = ((hval << 8) | input[ip + 2]!) >>> 0;
    const idx = slot(hval);
    const ref = stamps[idx] === call ? htab[idx]! : -1;
    htab[idx] = ip;
    stamps[idx] = call;
    const off = ip - ref - 1;
    if (
      ref > 0 && off >= 0 && off < MAX_OFF && input[ref + 2] === input[ip + 2] &&
      input[ref] === input[ip] && input[ref + 1] === input[ip + 1]
    ) {
      let len = 2;
      const maxLen = Math.min(inLen - ip - len, MAX_REF);
      if (op + 3 + 1 >= maxOut && op - (lit === 0 ? 1 : 0) + 3 + 1 >= maxOut) return null;
      out[op - lit - 1] = lit - 1; // Close the literal run...
      if (lit === 0) op--; // ...or drop it when empty.
      let done = false;
      if (maxLen > 16) {
        for (let k = 0; k < 16; k++) {
          len++;
          if (input[ref + len] !== input[ip + len]) {
            done = true;
            break;
          }
        }
      }
      if (!done) {
        do len++; while (len < maxLen && input[ref + len] === input[ip + len]);
      }
      len -= 2;
      ip++;
      if (len < 7) out[op++] = (off >> 8) + (len << 5);
      else {
        out[op++] = (off >> 8) + (7 << 5);
        out[op++] = len - 7;
      }
      out[op++] = off & 0xff;
      lit = 0;
      op++; // Room for the next literal run's control byte.
      ip += len + 1;
      if (ip >= inLen - 2) break;
      // Re-hash the last two positions of the match.
      ip -= 2;
      hval = ((input[ip]! << 8) | input[ip + 1]!) >>> 0;
      for (let k = 0; k < 2; k++) {
        hval = ((hval << 8) | input[ip + 2]!) >>> 0;
        const i = slot(hval);
        htab[i] = ip;
        stamps[i] = call;
        ip++;
      }
    } else {
      if (op >= maxOut) return null;
      lit++;
      out[op++] = input[ip++]!;
      if (lit === MAX_LIT) {
        out[op - lit - 1] = lit - 1;
        lit = 0;
        op++;
      }
    }
  }
  if (op + 3 > maxOut) return null;
  while (ip < inLen) {
    lit++;
    out[op++] = input[ip++]!;
    if (lit === MAX_LIT) {
      out[op - lit - 1] = lit - 1;
      lit = 0;
      op++;
    }
  }
  out[op - lit - 1] = lit - 1;
  if (lit === 0) op--;
  return out.subarray(0, op);
}

/** Decompresses to exactly `outLen` bytes; throws on corrupt input. */
export function lzfDecompress(input: Uint8Array, outLen: number): Uint8Array {
  const out = new Uint8Array(outLen);
  let ip = 0, op = 0;
  while (ip < input.length) {
    const ctrl = input[ip++]!;
    if (ctrl < 32) {
      const run = ctrl + 1;
      if (op + run > outLen || ip + run > input.length) throw new Error("corrupt LZF data");
      out.set(input.subarray(ip, ip + run), op);
      ip += run;
      op += run;
      continue;
    }
    let len = ctrl >> 5;
    if (len === 7) len += input[ip++]!;
    const ref = op - ((ctrl & 0x1f) << 8) - 1 - input[ip++]!;
    len += 2;
    if (ref < 0 || op + len > outLen) throw new Error("corrupt LZF data");
    for (let i = 0; i < len; i++) out[op++] = out[ref + i]!;
  }
  if (op !== outLen) throw new Error("corrupt LZF data: wrong length");
  return out;
}
