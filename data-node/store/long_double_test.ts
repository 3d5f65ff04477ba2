import { equal } from "node:assert/strict";
import { addLongDouble, formatLongDouble, parseLongDouble } from "./long_double.ts";

function incr(a: string, b: string): string {
  return formatLongDouble(addLongDouble(parseLongDouble(a)!, parseLongDouble(b)!)!);
}

Deno.test("long double sums print as Redis's INCRBYFLOAT does", () => {
  equal(incr("10.50", "0.1"), "10.6");
  equal(incr("10.6", "-5"), "5.6");
  equal(incr("5.6", "5.0e3"), "5005.60000000000000009");
  equal(incr("5.0e3", "2.0e2"), "5200");
  equal(incr("0", "1e-5"), "0.00001");
  equal(incr("3", "1.5"), "4.5");
  equal(incr("1", "-1"), "0");
  equal(incr("-0.5", "0"), "-0.5");
  equal(parseLongDouble("abc"), null);
  equal(parseLongDouble(" 1"), null);
  equal(parseLongDouble("1e99999"), null);
});
