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

/**
 * Redis's "human friendly" long double format (INCRBYFLOAT, HINCRBYFLOAT): no exponent, no
 * trailing zeros. JS doubles stand in for long doubles, so the shortest round-trip digits are
 * used, which matches Redis's output for the values a double can hold.
 */
export function formatHumanDouble(d: number): string {
  if (d === Infinity) return "inf";
  if (d === -Infinity) return "-inf";
  if (Object.is(d, -0)) return "0";
  const s = String(d);
  if (s.indexOf("e") < 0) return s;
  // Expand exponent form to plain digits.
  return expandExponent(s);
}

function expandExponent(s: string): string {
  const neg = s.startsWith("-");
  const [mant, expStr] = (neg ? s.slice(1) : s).split("e") as [string, string];
  const e = Number(expStr);
  const [ip, fp = ""] = mant.split(".") as [string, string?];
  const digits = ip + fp;
  const point = ip.length + e;
  let out: string;
  if (point <= 0) out = "0." + "0".repeat(-point) + digits;
  else if (point >= digits.length) out = digits + "0".repeat(point - digits.length);
  else out = digits.slice(0, point) + "." + digits.slice(point);
  return (neg ? "-" : "") + stripZeros(out);
}
