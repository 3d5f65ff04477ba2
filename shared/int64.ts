/** Redis's string2ll: an exact signed 64-bit integer, no spaces, no '+', no leading zeros. */
const INT_RE = /^-?[1-9][0-9]*$|^0$/;
const MIN_I64 = -(2n ** 63n), MAX_I64 = 2n ** 63n - 1n;

/** The argument as a 64-bit integer, or null when Redis would not read it as one. */
export function parseI64(s: string): bigint | null {
  if (s.length === 0 || s.length > 20 || !INT_RE.test(s)) return null;
  const n = BigInt(s);
  return n < MIN_I64 || n > MAX_I64 ? null : n;
}
