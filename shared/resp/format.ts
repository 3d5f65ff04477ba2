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
