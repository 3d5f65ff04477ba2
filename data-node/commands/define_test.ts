import { equal } from "node:assert/strict";
import fc from "fast-check";
import { parseFloatArg } from "./define.ts";

/** strtod's verdict on a decimal without exponent, as the general path reads one. */
function plainReference(s: string): number | null {
  if (!/^[+-]?(\d+\.?\d*|\.\d+)$/.test(s)) return null;
  const d = Number(s);
  if (!Number.isFinite(d) || (d === 0 && /[1-9]/.test(s))) return null;
  return d;
}

Deno.test("plain decimals parse to strtod's double, at every length up to the fast path's and past it", () => {
  const digits = fc.string({ unit: fc.constantFrom(..."0123456789"), maxLength: 30 });
  fc.assert(
    fc.property(
      fc.constantFrom("", "+", "-"),
      digits,
      fc.boolean(),
      digits,
      (sign, whole, point, frac) => {
        const s = sign + whole + (point ? "." + frac : "");
        equal(Object.is(parseFloatArg(s), plainReference(s)), true, s);
      },
    ),
    { numRuns: 5000 },
  );
  for (const s of ["13.361389", "-0.0", "+.5", "5.", "-.5", "0000012.50", "1".repeat(39) + ".5"]) {
    equal(Object.is(parseFloatArg(s), plainReference(s)), true, s);
  }
  // Underflow is an error once a string is long enough to reach it.
  equal(parseFloatArg("0." + "0".repeat(400) + "1"), null);
  equal(parseFloatArg("0." + "0".repeat(400)), 0);
});

Deno.test("other float forms keep the general rules", () => {
  equal(parseFloatArg("1e3"), 1000);
  equal(parseFloatArg("-inf"), -Infinity);
  equal(parseFloatArg("+Infinity"), Infinity);
  equal(parseFloatArg("0x10"), 16);
  equal(parseFloatArg("1e400"), null);
  for (const bad of ["", ".", "+", "-", "1.2.3", "--1", " 1", "1 ", "nan", "1,5", "+-1"]) {
    equal(parseFloatArg(bad), null, JSON.stringify(bad));
  }
});
