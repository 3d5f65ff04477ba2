/** The blocking half shared by BLPOP-style and BZPOP-style commands. */
import type { ClientState, Engine } from "../engine/types.ts";
import { REPLIED } from "./access.ts";
import { parseLongDouble } from "../store/long_double.ts";
import { parseI64, parseIntArg } from "./define.ts";

export interface BlockingCall {
  keys: string[];
  timeoutArg: string;
  /** The value type that can serve the wait. */
  type: "list" | "zset";
  /**
   * Serves from the first usable key of `keys`: replies and returns true, false when there is
   * nothing to serve, REPLIED after an error. Sets c.rewrittenArgv to what replicates.
   */
  attempt: (keys: string[]) => boolean | typeof REPLIED;
  /** What MULTI gets instead of blocking: BLPOP a null array, BLMOVE a null bulk. */
  nullInExec?: "array" | "bulk";
}

/**
 * Runs the command now; if nothing can serve it, blocks on the keys. When a key becomes ready
 * the client is served from that key, and only if it holds the right type (otherwise it keeps
 * waiting), as Redis 7.0 does; the pop then replicates as its non-blocking form.
 */
export function runBlocking(s: Engine, c: ClientState, b: BlockingCall): void | Promise<void> {
  const timeoutMs = parseBlockingTimeout(b.timeoutArg, s.nowMs);
  if (typeof timeoutMs === "string") return c.error(timeoutMs);
  if (b.attempt(b.keys) !== false) return;
  if (c.inExec) return b.nullInExec === "bulk" ? c.out.nullBulk() : c.out.nullArray();
  const db = c.db;
  return s.blocking.block(c, {
    db,
    keys: b.keys,
    timeoutMs,
    retry: (key) => {
      // Serving a blocked client is an execution unit of its own, at the time it is served: a
      // key that has expired meanwhile is deleted (and its DEL propagated), the client waits on.
      s.nowMs = s.clock.nowMs();
      const saved = c.db;
      s.propagation.enter();
      try {
        const e = db.lookup(key, false);
        if (!e || typeof e.value === "string" || e.value.type !== b.type) return false;
        c.db = db;
        c.rewrittenArgv = null;
        const served = b.attempt([key]);
        if (served === true && c.rewrittenArgv) s.propagation.also(db.id, c.rewrittenArgv);
        return served !== false;
      } finally {
        s.propagation.exit();
        c.db = saved;
      }
    },
    onTimeout: () => c.out.nullArray(),
  });
}

const NOT_FLOAT = "ERR timeout is not a float or out of range";
const NEGATIVE = "ERR timeout is negative";
const I64_LIMIT = 2n ** 63n;

/**
 * A timeout in milliseconds (WAIT, CLIENT PAUSE, XREAD BLOCK), as Redis 7.0 reads it: any signed
 * 64-bit integer, not negative. `wraps` when the deadline (now + ms) is past INT64_MAX, which
 * Redis computes by wrapping into negative time. Returns the error text, or the delay.
 */
export function parseMsTimeout(
  arg: string,
  nowMs: number,
): string | { ms: number; wraps: boolean } {
  const t = parseI64(arg);
  if (t === null) return "ERR timeout is not an integer or out of range";
  if (t < 0n) return NEGATIVE;
  return { ms: Number(t), wraps: t > I64_LIMIT - 1n - BigInt(nowMs) };
}

/**
 * A blocking command's timeout in seconds, as Redis 7.0 reads it: strtold's long double (so
 * "inf" and 1e400 parse), then milliseconds rounded up and cast to a 64-bit integer. Anything
 * the cast cannot hold (infinities, 9.3e15 seconds and up) turns negative there, hence "timeout
 * is negative" for "+inf" too. Returns the error text, or ms (0 = forever).
 */
export function parseBlockingTimeout(arg: string, nowMs: number): number | string {
  // Whole seconds, the usual case, are exact without the long double route.
  const whole = parseIntArg(arg);
  if (whole !== null && whole >= 0 && whole < 1e12) return whole * 1000;
  // string2ld: no empty or oversized input, no leading space, no NaN.
  if (arg.length === 0 || arg.length >= 5120) return NOT_FLOAT;
  if (/^[+-]?inf(inity)?$/i.test(arg)) return NEGATIVE;
  const v = parseLongDouble(arg);
  if (v === null) return NOT_FLOAT;
  if (v.m === 0n) return 0;
  const bits = v.m.toString(2).length;
  // Below long double's smallest subnormal strtold underflows to zero: a range error.
  if (v.e + bits < -16444) return NOT_FLOAT;
  // ceil(v * 1000) as an integer: long double's rounding of the product does not matter at
  // the boundaries that count here (the sign, and 2^63).
  let ms: bigint;
  const scaled = v.m * 1000n;
  if (v.e >= 0) ms = scaled << BigInt(v.e);
  else {
    const den = 1n << BigInt(-v.e);
    ms = scaled / den;
    if (!v.neg && scaled % den !== 0n) ms++;
  }
  if (v.neg) ms = -ms;
  if (ms < 0n || ms >= I64_LIMIT) return NEGATIVE;
  if (ms === 0n) return 0;
  // Redis adds the current time; past INT64_MAX that wraps to a negative deadline, which its
  // timeout table (unsigned) files after every other: the client waits for good.
  if (ms > I64_LIMIT - 1n - BigInt(nowMs)) return 0;
  // Long waits are timed in capped steps by the blocking registry.
  return Number(ms);
}
