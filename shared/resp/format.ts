/** Number formatting exactly as Redis prints numbers on the wire. */

/**
 * C's `%.17g`: Redis 7.0 formats doubles (RESP3 `,`, ZSCORE in RESP2, ...) this way.
 * 17 significant digits, trailing zeros dropped, exponent form when exp < -4 or >= 17.
 */
export function formatG17(d: number): string {
  if (Number.isNaN(d)) return "nan";
  if (d === Infinity) return "inf";
  if (d === -Infinity) return "-inf";
  if (d === 0) return Object.is(d, -0) ? "-0" : "0";
  // toExponential(16) gives 17 significant digits and the exact decimal exponent.
  const [mant, expStr] = d.toExponential(16).split("e") as [string, string];
  const e = Number(expStr);
  if (e < -4 || e >= 17) {
    const m = stripZeros(mant);
    const sign = e < 0 ? "-" : "+";
    const abs = Math.abs(e);
    return `${m}e${sign}${abs < 10 ? "0" : ""}${abs}`;
  }
  return stripZeros(d.toFixed(Math.max(0, 16 - e)));
}

function stripZeros(s: string): string {
  if (s.indexOf(".") < 0) return s;
  let end = s.length;
  while (s.charCodeAt(end - 1) === 48) end--;
  if (s.charCodeAt(end - 1) === 46) end--;
  return s.slice(0, end);
}

/** The exact binary value of a finite double: |d| = m * 2^e. */
function exactParts(d: number): { m: bigint; e: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(d));
  const bits = view.getBigUint64(0);
  const exp = Number((bits >> 52n) & 0x7ffn);
  const frac = bits & ((1n << 52n) - 1n);
  return exp === 0 ? { m: frac, e: -1074 } : { m: frac | (1n << 52n), e: exp - 1075 };
}

/**
 * C's `%.<digits>f` for a finite double: the exact binary value rounded half to even at the
 * last digit, as glibc's printf does (JavaScript's toFixed rounds such ties away from zero).
 */
export function formatFixed(d: number, digits: number): string {
  if (!Number.isFinite(d)) return Number.isNaN(d) ? "nan" : d > 0 ? "inf" : "-inf";
  const { m, e } = exactParts(d);
  const scale = 10n ** BigInt(digits);
  let q: bigint;
  if (e >= 0) q = (m << BigInt(e)) * scale;
  else {
    const num = m * scale, den = 1n << BigInt(-e);
    q = num / den;
    const r2 = (num % den) * 2n;
    if (r2 > den || (r2 === den && (q & 1n) === 1n)) q++;
  }
  const s = q.toString().padStart(digits + 1, "0");
  const body = digits > 0 ? `${s.slice(0, -digits)}.${s.slice(-digits)}` : s;
  return d < 0 || Object.is(d, -0) ? `-${body}` : body;
}

/**
 * Redis's "human" long double form of a double (GEOPOS coordinates): `%.17Lf` with trailing
 * zeros and a bare dot removed, "-0" printed as "0".
 */
export function formatHumanDouble(d: number): string {
  const out = stripZeros(formatFixed(d, 17));
  return out === "-0" ? "0" : out;
}
