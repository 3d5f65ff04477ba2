/** Hash commands. */
import { NOTIFY } from "../engine/notify.ts";
import type { ClientState, Engine } from "../engine/types.ts";
import { type EncodingLimits, HashValue } from "../store/hash.ts";
import { cmd, ERR, incrLongDouble, longDoubleArg, parseI64 } from "./define.ts";
import type { CommandDef } from "./types.ts";
import { readAggregate, REPLIED } from "./access.ts";
import { parseScanArgs, scanAggregate, scanMatches } from "./scan.ts";
import { randomCountReply } from "./random.ts";
import { cstr } from "../../shared/cstr.ts";

function readHash(s: Engine, c: ClientState, key: string): HashValue | null | typeof REPLIED {
  return readAggregate<HashValue>(s, c, key, "hash");
}

function limits(s: Engine) {
  return {
    maxEntries: s.config.get<number>("hash-max-listpack-entries"),
    maxValue: s.config.get<number>("hash-max-listpack-value"),
  };
}

/** The hash at key, created when missing; REPLIED on WRONGTYPE. */
function hashForWrite(s: Engine, c: ClientState, key: string): HashValue | typeof REPLIED {
  const h = readHash(s, c, key);
  if (h === REPLIED || h !== null) return h;
  const fresh = new HashValue();
  c.db.set(key, fresh);
  return fresh;
}

function hset(reply: "count" | "ok") {
  return (s: Engine, c: ClientState, argv: string[]): void => {
    if (argv.length % 2 !== 0) {
      return c.error(`ERR wrong number of arguments for '${argv[0]!.toLowerCase()}' command`);
    }
    const h = hashForWrite(s, c, argv[1]!);
    if (h === REPLIED) return;
    // Redis converts on any over-long argument, even a value this same command overwrites.
    const lim = limits(s);
    h.checkArgs(argv, 2, lim);
    const created = h.setPairs(argv, 2);
    h.checkSize(lim);
    c.db.signalModified(argv[1]!);
    s.notify(NOTIFY.HASH, "hset", argv[1]!, c.db.id);
    s.dirty += (argv.length - 2) / 2;
    if (reply === "ok") c.out.ok();
    else c.out.int(created);
  };
}

/**
 * After one field was written: the listpack limits checked on that field and value and on the
 * entry count, as Redis's hashTypeSet does, without rescanning the whole hash.
 */
function checkWritten(h: HashValue, field: string, value: string, lim: EncodingLimits): void {
  h.checkArgs([field, value], 0, lim);
  h.checkSize(lim);
}

function hsetnx(s: Engine, c: ClientState, argv: string[]): void {
  const h = hashForWrite(s, c, argv[1]!);
  if (h === REPLIED) return;
  if (h.has(argv[2]!)) return c.out.int(0);
  h.set(argv[2]!, argv[3]!);
  checkWritten(h, argv[2]!, argv[3]!, limits(s));
  c.db.signalModified(argv[1]!);
  s.notify(NOTIFY.HASH, "hset", argv[1]!, c.db.id);
  s.dirty++;
  c.out.int(1);
}

function hget(s: Engine, c: ClientState, argv: string[]): void {
  const h = readHash(s, c, argv[1]!);
  if (h === REPLIED) return;
  const v = h?.get(argv[2]!);
  if (v === undefined) c.out.nullBulk();
  else c.out.bulk(v);
}

function hmget(s: Engine, c: ClientState, argv: string[]): void {
  const h = readHash(s, c, argv[1]!);
  if (h === REPLIED) return;
  c.out.array(argv.length - 2);
  for (let i = 2; i < argv.length; i++) {
    const v = h?.get(argv[i]!);
    if (v === undefined) c.out.nullBulk();
    else c.out.bulk(v);
  }
}

function hdel(s: Engine, c: ClientState, argv: string[]): void {
  const h = readHash(s, c, argv[1]!);
  if (h === REPLIED) return;
  if (h === null) return c.out.int(0);
  let n = 0;
  for (let i = 2; i < argv.length; i++) if (h.delete(argv[i]!)) n++;
  if (n > 0) {
    s.notify(NOTIFY.HASH, "hdel", argv[1]!, c.db.id);
    if (h.size === 0) {
      c.db.delete(argv[1]!);
      s.notify(NOTIFY.GENERIC, "del", argv[1]!, c.db.id);
    } else c.db.signalModified(argv[1]!);
    s.dirty += n;
  }
  c.out.int(n);
}

function hlen(s: Engine, c: ClientState, argv: string[]): void {
  const h = readHash(s, c, argv[1]!);
  if (h === REPLIED) return;
  c.out.int(h ? h.size : 0);
}

function hstrlen(s: Engine, c: ClientState, argv: string[]): void {
  const h = readHash(s, c, argv[1]!);
  if (h === REPLIED) return;
  c.out.int(h?.get(argv[2]!)?.length ?? 0);
}

function hexists(s: Engine, c: ClientState, argv: string[]): void {
  const h = readHash(s, c, argv[1]!);
  if (h === REPLIED) return;
  c.out.int(h?.has(argv[2]!) ? 1 : 0);
}

function hgetallGeneric(what: "keys" | "vals" | "all") {
  return (s: Engine, c: ClientState, argv: string[]): void => {
    const h = readHash(s, c, argv[1]!);
    if (h === REPLIED) return;
    const n = h ? h.size : 0;
    if (what === "all") c.out.map(n);
    else c.out.array(n);
    if (!h) return;
    h.forEach((f, v) => {
      if (what !== "vals") c.out.bulk(f);
      if (what !== "keys") c.out.bulk(v);
    });
  };
}

function hincrby(s: Engine, c: ClientState, argv: string[]): void {
  const incr = parseI64(argv[3]!);
  if (incr === null) return c.error(ERR.notInt);
  const h = hashForWrite(s, c, argv[1]!);
  if (h === REPLIED) return;
  const cur = h.get(argv[2]!);
  let base = 0n;
  if (cur !== undefined) {
    const n = parseI64(cur);
    if (n === null) return c.error("ERR hash value is not an integer");
    base = n;
  }
  const next = base + incr;
  if (next > 9223372036854775807n || next < -9223372036854775808n) {
    return c.error(ERR.overflow);
  }
  const written = String(next);
  h.set(argv[2]!, written);
  checkWritten(h, argv[2]!, written, limits(s));
  c.db.signalModified(argv[1]!);
  s.notify(NOTIFY.HASH, "hincrby", argv[1]!, c.db.id);
  s.dirty++;
  c.out.int(next);
}

function hincrbyfloat(s: Engine, c: ClientState, argv: string[]): void {
  const incr = longDoubleArg(argv[3]!);
  if (incr === null) return c.error(ERR.notFloat);
  // An infinite increment is refused before the key is looked up (or created).
  if (incr === "inf") return c.error("ERR value is NaN or Infinity");
  const h = hashForWrite(s, c, argv[1]!);
  if (h === REPLIED) return;
  const cur = h.get(argv[2]!) ?? "0";
  const str = incrLongDouble(c, cur, argv[3]!, "ERR hash value is not a float");
  if (str === null) return;
  h.set(argv[2]!, str);
  checkWritten(h, argv[2]!, str, limits(s));
  c.db.signalModified(argv[1]!);
  s.notify(NOTIFY.HASH, "hincrbyfloat", argv[1]!, c.db.id);
  s.dirty++;
  c.rewrittenArgv = ["HSET", argv[1]!, argv[2]!, str];
  c.out.bulk(str);
}

function hrandfield(s: Engine, c: ClientState, argv: string[]): void {
  // Redis's order: the count, then the syntax, then WITHVALUES's tighter range.
  let count: number | null = null;
  if (argv.length >= 3) {
    const n = parseI64(argv[2]!);
    if (n === null) return c.error(ERR.notInt);
    if (n === -9223372036854775808n) {
      return c.error(
        "ERR value is out of range, value must between -9223372036854775807 and " +
          "9223372036854775807",
      );
    }
    if (argv.length > 4 || (argv.length === 4 && cstr(argv[3]!).toLowerCase() !== "withvalues")) {
      return c.error(ERR.syntax);
    }
    if (argv.length === 4 && (n < -4611686018427387903n || n > 4611686018427387903n)) {
      return c.error("ERR value is out of range");
    }
    const LIM = 2n ** 53n;
    count = Number(n > LIM ? LIM : n < -LIM ? -LIM : n);
  }
  const h = readHash(s, c, argv[1]!);
  if (h === REPLIED) return;
  if (count === null) {
    if (!h) return c.out.nullBulk();
    const fields = h.fields();
    return c.out.bulk(fields[Math.floor(Math.random() * fields.length)]!);
  }
  const map = h?.toMap();
  randomCountReply(
    c,
    map ? [...map.keys()] : [],
    count,
    argv.length === 4 ? (f) => c.out.bulk(map!.get(f)!) : null,
  );
}

function hscan(s: Engine, c: ClientState, argv: string[]): void {
  const a = parseScanArgs(c, argv, 2, false);
  if (!a) return;
  const h = readHash(s, c, argv[1]!);
  if (h === REPLIED) return;
  const out: string[] = [];
  let next = 0;
  const table = h?.table();
  if (table) {
    next = scanAggregate(a, table, h!.cursors, false, (f) => {
      out.push(f, table.get(f)!);
    });
  } else {
    // A listpack is returned whole, with cursor 0, as Redis does.
    h?.forEach((f, v) => {
      if (scanMatches(a, f)) out.push(f, v);
    });
  }
  c.out.array(2);
  c.out.bulk(String(next));
  c.out.array(out.length);
  for (const x of out) c.out.bulk(x);
}

const k1: [number, number, number] = [1, 1, 1];
const m = (summary: string, since = "2.0.0", complexity = "O(1)") => ({
  summary,
  since,
  complexity,
});

export const HASH_COMMANDS: CommandDef[] = [
  cmd(
    "hset",
    -4,
    "write denyoom fast",
    k1,
    "hash",
    hset("count"),
    m("Creates or modifies the value of a field in a hash."),
  ),
  cmd(
    "hmset",
    -4,
    "write denyoom fast",
    k1,
    "hash",
    hset("ok"),
    m("Sets the values of multiple fields."),
  ),
  cmd(
    "hsetnx",
    4,
    "write denyoom fast",
    k1,
    "hash",
    hsetnx,
    m("Sets the value of a field in a hash only when the field doesn't exist."),
  ),
  cmd("hget", 3, "readonly fast", k1, "hash", hget, m("Returns the value of a field in a hash.")),
  cmd(
    "hmget",
    -3,
    "readonly fast",
    k1,
    "hash",
    hmget,
    m("Returns the values of all fields in a hash.", "2.0.0", "O(N)"),
  ),
  cmd(
    "hdel",
    -3,
    "write fast",
    k1,
    "hash",
    hdel,
    m(
      "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.",
      "2.0.0",
      "O(N)",
    ),
  ),
  cmd("hlen", 2, "readonly fast", k1, "hash", hlen, m("Returns the number of fields in a hash.")),
  cmd(
    "hstrlen",
    3,
    "readonly fast",
    k1,
    "hash",
    hstrlen,
    m("Returns the length of the value of a field.", "3.2.0"),
  ),
  cmd(
    "hexists",
    3,
    "readonly fast",
    k1,
    "hash",
    hexists,
    m("Determines whether a field exists in a hash."),
  ),
  cmd(
    "hkeys",
    2,
    "readonly",
    k1,
    "hash",
    hgetallGeneric("keys"),
    m("Returns all fields in a hash.", "2.0.0", "O(N)"),
  ),
  cmd(
    "hvals",
    2,
    "readonly",
    k1,
    "hash",
    hgetallGeneric("vals"),
    m("Returns all values in a hash.", "2.0.0", "O(N)"),
  ),
  cmd(
    "hgetall",
    2,
    "readonly",
    k1,
    "hash",
    hgetallGeneric("all"),
    m("Returns all fields and values in a hash.", "2.0.0", "O(N)"),
  ),
  cmd(
    "hincrby",
    4,
    "write denyoom fast",
    k1,
    "hash",
    hincrby,
    m("Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist."),
  ),
  cmd(
    "hincrbyfloat",
    4,
    "write denyoom fast",
    k1,
    "hash",
    hincrbyfloat,
    m(
      "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.",
      "2.6.0",
    ),
  ),
  cmd(
    "hrandfield",
    -2,
    "readonly",
    k1,
    "hash",
    hrandfield,
    m("Returns one or more random fields from a hash.", "6.2.0", "O(N)"),
  ),
  cmd(
    "hscan",
    -3,
    "readonly",
    k1,
    "hash",
    hscan,
    m("Iterates over fields and values of a hash.", "2.8.0", "O(N)"),
  ),
];
