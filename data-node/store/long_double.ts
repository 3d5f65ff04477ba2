/**
 * x87 80-bit extended precision ("long double") arithmetic, as Redis uses for INCRBYFLOAT and
 * HINCRBYFLOAT: a 64-bit significand, round-half-to-even. Emulated exactly with BigInt so that
 * results and their printed digits ("%.17Lf", trailing zeros removed) match Redis's.
 */

/** value = (neg ? -1 : 1) * m * 2^e, with m < 2^64 (0 for zero). */
export interface LongDouble {
  neg: boolean;
  m: bigint;
  e: number;
}

const SIGNIFICAND_BITS = 64;
/** Beyond this binary exponent the value is past long double's range (about 1.19e4932). */
const MAX_EXP = 16384;

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

/** Rounds m * 2^e to 64 significant bits, half to even; `sticky` marks discarded nonzero bits. */
function round(neg: boolean, m: bigint, e: number, sticky = false): LongDouble {
  if (m === 0n) return { neg, m: 0n, e: 0 };
  const bits = bitLength(m);
  if (bits <= SIGNIFICAND_BITS) return { neg, m, e };
  const shift = BigInt(bits - SIGNIFICAND_BITS);
  let q = m >> shift;
  const r = m & ((1n << shift) - 1n);
  const half = 1n << (shift - 1n);
  if (r > half || (r === half && (sticky || (q & 1n) === 1n))) q++;
  let exp = e + Number(shift);
  if (bitLength(q) > SIGNIFICAND_BITS) {
    q >>= 1n;
    exp++;
  }
  return { neg, m: q, e: exp };
}

/** C99 hex float syntax as strtod/strtold accept it: sign, 0x, digits, fraction, p exponent. */
export const HEX_FLOAT_RE = /^([+-]?)0x([0-9a-f]*)(?:\.([0-9a-f]*))?(?:p([+-]?\d+))?$/i;
const FLOAT_RE = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/** Parses like strtold over the whole string; null when not a finite number. */
export function parseLongDouble(s: string): LongDouble | null {
  const hex = HEX_FLOAT_RE.exec(s);
  if (hex) {
    // Hex digits are exact binary: mantissa bits times a power of two.
    const digits = (hex[2] ?? "") + (hex[3] ?? "");
    if (digits === "") return null;
    const e = Number(hex[4] ?? "0") - 4 * (hex[3] ?? "").length;
    return checkRange(round(hex[1] === "-", BigInt("0x" + digits), e));
  }
  const m = FLOAT_RE.exec(s);
  if (!m || (m[2] === "" && (m[3] ?? "") === "")) return null;
  const neg = m[1] === "-";
  const digits = (m[2] ?? "") + (m[3] ?? "");
  const exp10 = Number(m[4] ?? "0") - (m[3] ?? "").length;
  if (Math.abs(exp10) > 6000) {
    return Math.abs(exp10) > 6000 && /^0*$/.test(digits) ? zero(neg) : null;
  }
  const d = BigInt(digits || "0");
  if (d === 0n) return zero(neg);
  if (exp10 >= 0) return checkRange(round(neg, d * 10n ** BigInt(exp10), 0));
  const den = 10n ** BigInt(-exp10);
  // Scale so the quotient has at least 66 bits, then round with a sticky remainder bit.
  const shift = Math.max(0, bitLength(den) - bitLength(d) + SIGNIFICAND_BITS + 2);
  const num = d << BigInt(shift);
  const q = num / den;
  const rem = num % den;
  return checkRange(round(neg, q, -shift, rem !== 0n));
}

function zero(neg: boolean): LongDouble {
  return { neg, m: 0n, e: 0 };
}

function checkRange(v: LongDouble): LongDouble | null {
  return v.e + bitLength(v.m) > MAX_EXP ? null : v;
}

/** a + b rounded to long double; null on overflow. */
export function addLongDouble(a: LongDouble, b: LongDouble): LongDouble | null {
  if (a.m === 0n) return b;
  if (b.m === 0n) return a;
  const e = Math.min(a.e, b.e);
  const ma = (a.neg ? -a.m : a.m) << BigInt(a.e - e);
  const mb = (b.neg ? -b.m : b.m) << BigInt(b.e - e);
  const sum = ma + mb;
  if (sum === 0n) return zero(false);
  return checkRange(round(sum < 0n, sum < 0n ? -sum : sum, e));
}

/** "%.17Lf" with trailing zeros (and a bare dot) removed, "-0" printed as "0". */
export function formatLongDouble(v: LongDouble): string {
  const SCALE = 10n ** 17n;
  let q: bigint;
  if (v.e >= 0) q = (v.m << BigInt(v.e)) * SCALE;
  else {
    const num = v.m * SCALE, den = 1n << BigInt(-v.e);
    q = num / den;
    const r2 = (num % den) * 2n;
    if (r2 > den || (r2 === den && (q & 1n) === 1n)) q++;
  }
  const digits = q.toString().padStart(18, "0");
  let out = `${digits.slice(0, -17)}.${digits.slice(-17)}`.replace(/0+$/, "").replace(/\.$/, "");
  if (v.neg && out !== "0") out = "-" + out;
  return out;
}
