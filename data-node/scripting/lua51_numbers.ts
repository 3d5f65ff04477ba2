/**
 * Numbers as Lua 5.1 (Redis's Lua) sees them, on fengari (Lua 5.3 with 32-bit integers).
 * Imported before fengari itself, this module changes two of fengari's number routines:
 *
 * - number -> string prints every number with "%.14g", as Lua 5.1's tostring and `..` do
 *   (`10/2 .. ''` is "5", `2^53` is "9.007199254741e+15"); fengari's own form appends ".0" to
 *   integral floats and never switches to exponents below 1e21;
 * - string -> number (the lexer's numerals, tonumber, the coercion of strings in arithmetic)
 *   yields floats only, so that a script's numbers are doubles as in Lua 5.1: arithmetic on
 *   them cannot wrap around at 32 bits (`2147483647 + 1` is 2147483648).
 *
 * The second half (string -> number) is installed by `installLua51Numbers`, after fengari has
 * loaded, because fengari's modules reach that routine through its module object; so is the
 * truncation of floats given where library functions take integers.
 */
import defs from "fengari/src/defs.js";
import luaconf from "fengari/src/luaconf.js";

/**
 * The first `prec` significant digits of |d| (> 0, finite) rounded as glibc's printf rounds:
 * to nearest, ties to even on the exact binary value. JavaScript's toExponential breaks
 * ties upwards, so an exact tie is detected from a longer expansion.
 */
function roundedDigits(d: number, prec: number): { digits: string; exp: number } {
  // A tie at `prec` digits is d written exactly with one digit more, that digit a 5: without
  // a 5 there, rounding to `prec` digits has no tie to break.
  const next = d.toExponential(prec);
  if (next.charCodeAt(next.indexOf("e") - 1) !== 53) return digitsOf(d.toExponential(prec - 1));
  const long = d.toExponential(Math.min(100, prec + 30));
  const [lm, le] = long.split("e") as [string, string];
  const all = lm.replace(".", "");
  const tie = all[prec] === "5" && /^0*$/.test(all.slice(prec + 1));
  if (tie && Number(all[prec - 1]) % 2 === 0) {
    return { digits: all.slice(0, prec), exp: Number(le) };
  }
  return digitsOf(d.toExponential(prec - 1));
}

function digitsOf(exponential: string): { digits: string; exp: number } {
  const [m, e] = exponential.split("e") as [string, string];
  return { digits: m.replace(".", ""), exp: Number(e) };
}

/**
 * printf's "%.<prec>g" of a double (C's spelling of infinities). NaN prints "-nan": x86-64
 * produces negative NaNs (0/0, inf - inf), and JavaScript keeps no sign on NaN.
 */
export function formatG(d: number, prec: number): string {
  if (Number.isNaN(d)) return "-nan";
  if (d === Infinity) return "inf";
  if (d === -Infinity) return "-inf";
  if (d === 0) return Object.is(d, -0) ? "-0" : "0";
  // An exact integer of up to `prec` digits prints as itself (counters, indexes).
  if (Number.isSafeInteger(d) && Math.abs(d) < 10 ** prec) return String(d);
  const sign = d < 0 ? "-" : "";
  const { digits, exp } = roundedDigits(Math.abs(d), prec);
  if (exp < -4 || exp >= prec) {
    const m = stripZeros(digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits);
    const abs = Math.abs(exp);
    return `${sign}${m}e${exp < 0 ? "-" : "+"}${abs < 10 ? "0" : ""}${abs}`;
  }
  let fixed: string;
  if (exp >= 0) {
    const int = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
    fixed = `${int}.${digits.slice(exp + 1)}`;
  } else fixed = `0.${"0".repeat(-exp - 1)}${digits}`;
  return sign + stripZeros(fixed);
}

function stripZeros(s: string): string {
  if (s.indexOf(".") < 0) return s;
  let end = s.length;
  while (s.charCodeAt(end - 1) === 48) end--;
  if (s.charCodeAt(end - 1) === 46) end--;
  return s.slice(0, end);
}

// fengari's modules copy these from luaconf when they load: set them first.
void defs;
luaconf.lua_number2str = (n: number) => formatG(n, 14);
luaconf.LUA_COMPAT_FLOATSTRING = true;

// deno-lint-ignore no-explicit-any
type TValue = any;

/**
 * Makes fengari's string -> number conversion produce floats only (see the top), and the
 * integer arguments of library functions (string.sub, string.rep, select...) truncate a
 * float as Lua 5.1's C cast does, where 5.3 refuses one without an exact integer value.
 * The VM's own conversions (table keys, for loops) reach their routine directly and keep
 * 5.3's rules.
 */
// deno-lint-ignore no-explicit-any
export function installLua51Numbers(lobject: any, lvm: any): void {
  if (lobject.luaO_str2num.lua51) return;
  const exact = lvm.tointeger;
  lvm.tointeger = (o: TValue): number | false => {
    const i = exact(o);
    if (i !== false) return i;
    const n = lvm.tonumber(o);
    if (n === false) return false;
    const t = Math.trunc(n);
    return t >= -2147483648 && t <= 2147483647 ? t : false;
  };
  const original = lobject.luaO_str2num;
  const str2num = (s: Uint8Array, o: TValue): number => {
    const n = original(s, o);
    if (n !== 0 && o.ttisinteger()) o.setfltvalue(o.value);
    if (n === 0) return infOrNan(s, o);
    return n;
  };
  str2num.lua51 = true;
  lobject.luaO_str2num = str2num;
}

/** strtod's spellings of infinities and NaNs, with the spaces Lua 5.1 allows around a number. */
const INF_NAN = /^[ \t\n\v\f\r]*([+-]?)(inf|infinity|nan(\([0-9A-Za-z_]*\))?)[ \t\n\v\f\r]*$/i;

/**
 * Lua 5.1 converts strings with C's strtod, which reads "inf", "infinity" and "nan" (any case,
 * signed); Lua 5.3 refuses them. The string ends at its first zero byte, as C sees it.
 * Returns the size consumed as luaO_str2num does (0: not a number).
 */
function infOrNan(s: Uint8Array, o: TValue): number {
  let end = s.indexOf(0);
  if (end < 0) end = s.length;
  if (end > 64) return 0;
  const m = INF_NAN.exec(String.fromCharCode(...s.subarray(0, end)));
  if (m === null) return 0;
  const isNan = m[2]!.toLowerCase().startsWith("nan");
  o.setfltvalue(isNan ? NaN : m[1] === "-" ? -Infinity : Infinity);
  return end + 1;
}

/** Ties-to-even rounding of |x| to `prec` digits after the point (printf's %f), as digits. */
function fixedDigits(x: number, prec: number): string {
  if (x >= 1e21) {
    // Integral already: the exact digits, then the zeros of the fraction.
    const int = BigInt(x).toString();
    return prec > 0 ? `${int}.${"0".repeat(prec)}` : int;
  }
  const long = x.toFixed(Math.min(100, prec + 30));
  const dot = long.indexOf(".");
  const at = dot + 1 + prec;
  const tie = long[at] === "5" && /^0*$/.test(long.slice(at + 1));
  if (tie) {
    const last = prec > 0 ? long[at - 1]! : long[dot - 1]!;
    if (Number(last) % 2 === 0) return prec > 0 ? long.slice(0, at) : long.slice(0, dot);
  }
  return x.toFixed(prec);
}

/**
 * C's printf of one floating conversion (e, E, f, F, g, G) with its flags (-+ #0), width
 * and precision (-1: none), as Lua 5.1's string.format prints numbers; NaN prints "-nan"
 * (what 0/0 gives on x86-64, the common source of NaN in scripts).
 */
export function cFormatFloat(
  flags: string,
  width: number,
  precision: number,
  conv: string,
  x: number,
): string {
  const upper = conv === "E" || conv === "G" || conv === "F";
  const lower = conv.toLowerCase();
  const alt = flags.includes("#");
  let sign = x < 0 || Object.is(x, -0)
    ? "-"
    : flags.includes("+")
    ? "+"
    : flags.includes(" ")
    ? " "
    : "";
  let body: string;
  const a = Math.abs(x);
  if (Number.isNaN(x)) {
    sign = "-";
    body = "nan";
  } else if (a === Infinity) body = "inf";
  else {
    let prec = precision < 0 ? 6 : precision;
    const exp = (digits: string, e: number, p: number): string => {
      const m = p > 0 || alt ? `${digits[0]}.${digits.slice(1, p + 1)}` : digits[0]!;
      const ae = Math.abs(e);
      return `${m}e${e < 0 ? "-" : "+"}${ae < 10 ? "0" : ""}${ae}`;
    };
    if (lower === "f") body = fixedDigits(a, prec) + (alt && prec === 0 ? "." : "");
    else if (lower === "e") {
      if (a === 0) body = exp("0".repeat(prec + 1), 0, prec);
      else {
        const r = roundedDigits(a, prec + 1);
        body = exp(r.digits, r.exp, prec);
      }
    } else {
      if (prec === 0) prec = 1;
      const e = a === 0 ? 0 : roundedDigits(a, prec).exp;
      if (e < -4 || e >= prec) {
        const r = roundedDigits(a, prec);
        body = exp(a === 0 ? "0".repeat(prec) : r.digits, e, prec - 1);
      } else body = fixedDigits(a, prec - 1 - e);
      if (!alt && body.includes(".")) {
        const [m, rest] = body.split("e") as [string, string | undefined];
        const stripped = m.replace(/0+$/, "").replace(/\.$/, "");
        body = rest === undefined ? stripped : `${stripped}e${rest}`;
      }
    }
  }
  if (upper) body = body.toUpperCase();
  let out = sign + body;
  if (out.length < width) {
    const pad = width - out.length;
    if (flags.includes("-")) out += " ".repeat(pad);
    else if (flags.includes("0") && Number.isFinite(x)) out = sign + "0".repeat(pad) + body;
    else out = " ".repeat(pad) + out;
  }
  return out;
}
