/**
 * LZF, the compression of RDB strings. Literal runs: a control byte 0..31 (run length - 1) and
 * the bytes. Back references: 3 bits of length (7 = one more length byte), 13 bits of offset.
 */

const HASH_BITS = 14;
const MAX_OFF = 1 << 13;
const MAX_REF = (1 << 8) + (1 << 3);

/** Compresses into at most maxOut bytes; null when the output would not fit. */
export function lzfCompress(input: Uint8Array, maxOut: number): Uint8Array | null {
  const n = input.length;
  const out = new Uint8Array(Math.max(0, maxOut));
  const htab = new Int32Array(1 << HASH_BITS).fill(-1);
  let ip = 0, op = 0, litStart = 0, litLen = 0;
  const closeLiteral = () => {
    if (litLen > 0) out[litStart] = litLen - 1;
    litLen = 0;
  };
  while (ip < n) {
    if (ip + 2 < n) {
      const v = (input[ip]! << 16) | (input[ip + 1]! << 8) | input[ip + 2]!;
      const h = Math.imul(v, 2654435761) >>> (32 - HASH_BITS);
      const ref = htab[h]!;
      htab[h] = ip;
      if (
        ref >= 0 && ip - ref <= MAX_OFF && input[ref] === input[ip] &&
        input[ref + 1] === input[ip + 1] && input[ref + 2] === input[ip + 2]
      ) {
        let len = 3;
        const maxLen = Math.min(MAX_REF, n - ip);
        while (len < maxLen && input[ref + len] === input[ip + len]) len++;
        closeLiteral();
        if (op + 3 > out.length) return null;
        const off = ip - ref - 1, l2 = len - 2;
        if (l2 < 7) out[op++] = (l2 << 5) | (off >> 8);
        else {
          out[op++] = (7 << 5) | (off >> 8);
          out[op++] = l2 - 7;
        }
        out[op++] = off & 0xff;
        ip += len;
        continue;
      }
    }
    if (op + (litLen === 0 ? 2 : 1) > out.length) return null;
    if (litLen === 0) litStart = op++;
    out[op++] = input[ip++]!;
    if (++litLen === 32) closeLiteral();
  }
  closeLiteral();
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
