/** Generic key commands (the "generic" group): existence, deletion, expiry, iteration. */
import type { ClientState, Engine } from "../engine/types.ts";
import { globMatch } from "../../shared/glob.ts";
import { stringEncoding, typeName, type Value } from "../store/types.ts";
import { cmd, container, ERR, parseI64 } from "./define.ts";
import type { CommandDef } from "./types.ts";
import { parseScanArgs } from "./scan.ts";
import { expireOrDelete, keyMiss } from "./access.ts";
import { parseDbIndexOrReply, replyHelp } from "./define.ts";
import { idleSeconds, lfuDecayed, ttlPassed } from "../store/types.ts";
import { cstr } from "../../shared/cstr.ts";
import { NOTIFY } from "../engine/notify.ts";
import { freedLazily } from "../store/lazyfree.ts";

/** DEL and UNLINK (and DEL under lazyfree-lazy-user-del, a lazy delete as UNLINK is). */
function del(s: Engine, c: ClientState, argv: string[]): void {
  const lazy = argv[0]!.toLowerCase() === "unlink" ||
    s.config.get<boolean>("lazyfree-lazy-user-del");
  let n = 0;
  for (let i = 1; i < argv.length; i++) {
    const e = c.db.lookup(argv[i]!, false);
    if (e !== undefined && c.db.delete(argv[i]!)) {
      if (lazy && freedLazily(e.value)) s.stats.lazyfreedObjects++;
      s.notify(NOTIFY.GENERIC, "del", argv[i]!, c.db.id);
      n++;
    }
  }
  s.dirty += n;
  c.out.int(n);
}

/** EXISTS, like TYPE, TTL and OBJECT, leaves the key's access time alone. */
function exists(s: Engine, c: ClientState, argv: string[]): void {
  let n = 0;
  for (let i = 1; i < argv.length; i++) {
    if (c.db.lookup(argv[i]!, false) !== undefined) n++;
    else keyMiss(s, c, argv[i]!);
  }
  c.out.int(n);
}

function type(s: Engine, c: ClientState, argv: string[]): void {
  const e = c.db.lookup(argv[1]!, false);
  if (e === undefined) keyMiss(s, c, argv[1]!);
  c.out.simple(e ? typeName(e.value) : "none");
}

// ---- Expiry ----

type Unit = "s" | "ms";

/** EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT with NX XX GT LT. */
function expireGeneric(unit: Unit, absolute: boolean, name: string) {
  return (s: Engine, c: ClientState, argv: string[]): void => {
    const key = argv[1]!;
    // As Redis: the options are checked before the time argument is parsed.
    let nx = false, xx = false, gt = false, lt = false;
    for (let i = 3; i < argv.length; i++) {
      const o = argv[i]!.toLowerCase();
      if (o === "nx") nx = true;
      else if (o === "xx") xx = true;
      else if (o === "gt") gt = true;
      else if (o === "lt") lt = true;
      // Redis trims line breaks from both ends of a formatted error (the option ends it here).
      else return c.error(`ERR Unsupported option ${cstr(argv[i]!)}`.replace(/[\r\n]+$/, ""));
    }
    if (nx && (xx || gt || lt)) {
      return c.error("ERR NX and XX, GT or LT options at the same time are not compatible");
    }
    if (gt && lt) return c.error("ERR GT and LT options at the same time are not compatible");
    const when = parseI64(argv[2]!);
    if (when === null) return c.error(ERR.notInt);
    const invalid = `ERR invalid expire time in '${name}' command`;
    let ms = unit === "s" ? when * 1000n : when;
    if (
      unit === "s" && (when > 9223372036854775807n / 1000n || when < -9223372036854775808n / 1000n)
    ) {
      return c.error(invalid);
    }
    if (!absolute) ms += BigInt(s.nowMs);
    if (ms > 9223372036854775807n || ms < -9223372036854775808n) return c.error(invalid);
    const at = Number(ms);
    if (c.db.lookup(key) === undefined) return c.out.int(0);
    const cur = c.db.getExpire(key);
    // A key without a TTL counts as an infinite TTL for GT/LT.
    if (nx && cur !== undefined) return c.out.int(0);
    if (xx && cur === undefined) return c.out.int(0);
    if (gt && (cur === undefined || at <= cur)) return c.out.int(0);
    if (lt && cur !== undefined && at >= cur) return c.out.int(0);
    expireOrDelete(s, c, key, at, s.nowMs, argv);
    s.dirty++;
    c.out.int(1);
  };
}

function ttlGeneric(unit: Unit, absolute: boolean) {
  return (s: Engine, c: ClientState, argv: string[]): void => {
    if (c.db.lookup(argv[1]!, false) === undefined) {
      keyMiss(s, c, argv[1]!);
      return c.out.int(-2);
    }
    const at = c.db.getExpire(argv[1]!);
    if (at === undefined) return c.out.int(-1);
    // Seconds are rounded, absolute or not: (ms + 500) / 1000, as Redis computes them.
    if (absolute) return c.out.int(unit === "s" ? Math.floor((at + 500) / 1000) : at);
    const left = Math.max(0, at - s.nowMs);
    c.out.int(unit === "s" ? Math.round(left / 1000) : left);
  };
}

function persist(s: Engine, c: ClientState, argv: string[]): void {
  if (c.db.lookup(argv[1]!) === undefined) return c.out.int(0);
  if (!c.db.persist(argv[1]!)) return c.out.int(0);
  s.notify(NOTIFY.GENERIC, "persist", argv[1]!, c.db.id);
  s.dirty++;
  c.out.int(1);
}

// ---- Iteration ----

function keys(s: Engine, c: ClientState, argv: string[]): void {
  const pattern = argv[1]!;
  const all = pattern === "*";
  const out: string[] = [];
  const now = s.nowMs;
  for (const k of c.db.keys()) {
    const at = c.db.expires.size ? c.db.expires.get(k) : undefined;
    if (at !== undefined && ttlPassed(at, now)) continue;
    if (all || globMatch(pattern, k)) out.push(k);
  }
  c.out.array(out.length);
  for (const k of out) c.out.bulk(k);
}

function scan(s: Engine, c: ClientState, argv: string[]): void {
  const a = parseScanArgs(c, argv, 1, true);
  if (!a) return;
  const out: string[] = [];
  const now = s.nowMs;
  const next = c.db.scanKeys(a.cursorBits, a.count, (k) => {
    const at = c.db.expires.size ? c.db.expires.get(k) : undefined;
    if (at !== undefined && ttlPassed(at, now)) {
      c.db.lookup(k, false); // expires it, as Redis's SCAN does
      return;
    }
    if (a.match !== null && !globMatch(a.match, k)) return;
    if (a.type !== null) {
      const e = c.db.peek(k);
      if (!e || typeName(e.value) !== a.type) return;
    }
    out.push(k);
  });
  c.out.array(2);
  c.out.bulk(String(next));
  c.out.array(out.length);
  for (const k of out) c.out.bulk(k);
}

function randomkey(_s: Engine, c: ClientState): void {
  const k = c.db.randomKey();
  if (k === undefined) return c.out.nullBulk();
  c.out.bulk(k);
}

// ---- Rename, copy, move ----

function renameGeneric(nx: boolean) {
  return (s: Engine, c: ClientState, argv: string[]): void => {
    const src = argv[1]!, dst = argv[2]!;
    const e = c.db.lookup(src);
    if (!e) return c.error(ERR.noSuchKey);
    if (src === dst) return nx ? c.out.int(0) : c.out.ok();
    if (nx && c.db.lookup(dst)) return c.out.int(0);
    const ttl = c.db.getExpire(src);
    c.db.delete(src);
    // As Redis, an existing destination is deleted first: the key is then created (`new`).
    c.db.delete(dst);
    c.db.set(dst, e.value);
    c.db.lookup(dst, false)!.enc = e.enc;
    if (ttl !== undefined) c.db.setExpire(dst, ttl);
    s.notify(NOTIFY.GENERIC, "rename_from", src, c.db.id);
    s.notify(NOTIFY.GENERIC, "rename_to", dst, c.db.id);
    s.dirty++;
    if (nx) c.out.int(1);
    else c.out.ok();
  };
}

function cloneValue(v: Value): Value {
  if (typeof v === "string") return v;
  const withClone = v as unknown as { clone(): Value };
  return withClone.clone();
}

function copy(s: Engine, c: ClientState, argv: string[]): void {
  const src = argv[1]!, dst = argv[2]!;
  let target = c.db, replace = false;
  for (let i = 3; i < argv.length; i++) {
    const o = argv[i]!.toLowerCase();
    if (o === "replace") replace = true;
    else if (o === "db" && i + 1 < argv.length) {
      const id = parseDbIndexOrReply(c, argv[++i]!);
      if (id === null) return;
      const db = s.dbs[id];
      if (id < 0 || !db) return c.error(ERR.dbIndex);
      target = db;
    } else return c.error(ERR.syntax);
  }
  if (src === dst && target === c.db) {
    return c.error("ERR source and destination objects are the same");
  }
  const e = c.db.lookup(src);
  if (!e) {
    keyMiss(s, c, src, true);
    return c.out.int(0);
  }
  if (target.lookup(dst)) {
    if (!replace) return c.out.int(0);
    target.delete(dst);
  }
  const ttl = c.db.getExpire(src);
  target.set(dst, cloneValue(e.value));
  target.lookup(dst, false)!.enc = e.enc;
  if (ttl !== undefined) target.setExpire(dst, ttl);
  s.notify(NOTIFY.GENERIC, "copy_to", dst, target.id);
  s.dirty++;
  c.out.int(1);
}

function move(s: Engine, c: ClientState, argv: string[]): void {
  if (s.clusterEnabled) return c.error("ERR MOVE is not allowed in cluster mode");
  const id = parseDbIndexOrReply(c, argv[2]!);
  if (id === null) return;
  const dst = s.dbs[id];
  if (id < 0 || !dst) return c.error(ERR.dbIndex);
  if (dst === c.db) return c.error("ERR source and destination objects are the same");
  const key = argv[1]!;
  const e = c.db.lookup(key);
  if (!e || dst.lookup(key)) return c.out.int(0);
  const ttl = c.db.getExpire(key);
  c.db.delete(key);
  dst.set(key, e.value);
  dst.lookup(key, false)!.enc = e.enc;
  if (ttl !== undefined) dst.setExpire(key, ttl);
  s.notify(NOTIFY.GENERIC, "move_from", key, c.db.id);
  s.notify(NOTIFY.GENERIC, "move_to", key, dst.id);
  s.dirty++;
  c.out.int(1);
}

function touch(s: Engine, c: ClientState, argv: string[]): void {
  let n = 0;
  for (let i = 1; i < argv.length; i++) {
    if (c.db.lookup(argv[i]!) !== undefined) n++;
    else keyMiss(s, c, argv[i]!);
  }
  c.out.int(n);
}

// ---- OBJECT ----

const LFU_POLICY = /lfu/;
const IDLE_REFUSED = "ERR An LFU maxmemory policy is selected, idle time not tracked. Please " +
  "note that when switching between policies at runtime LRU and LFU data will take some time " +
  "to adjust.";
const FREQ_REFUSED = "ERR An LFU maxmemory policy is not selected, access frequency not " +
  "tracked. Please note that when switching between policies at runtime LRU and LFU data will " +
  "take some time to adjust.";

function objectSub(what: "encoding" | "refcount" | "idletime" | "freq") {
  return (s: Engine, c: ClientState, argv: string[]): void => {
    const e = c.db.lookup(argv[2]!, false);
    if (!e) return c.out.nullBulk();
    const v = e.value;
    if (what === "encoding") {
      if (typeof v !== "string") return c.out.bulk(v.encoding());
      return c.out.bulk(e.enc ?? stringEncoding(v));
    }
    if (what === "refcount") {
      // Small integers are Redis's shared objects, except under an LRU/LFU maxmemory policy
      // (each value keeps its own access clock there). Judged by the policy now, not when the
      // value was written.
      const sharing = s.maxmemory === 0 ||
        !/^(allkeys|volatile)-(lru|lfu)$/.test(s.config.getString("maxmemory-policy"));
      const shared = sharing && typeof v === "string" && /^(0|[1-9]\d{0,3})$/.test(v);
      return c.out.int(shared ? 2147483647 : 1);
    }
    const lfu = LFU_POLICY.test(s.config.getString("maxmemory-policy"));
    if (what === "idletime") {
      if (lfu) return c.error(IDLE_REFUSED);
      return c.out.int(idleSeconds(e.clock, Math.floor(s.nowMs / 1000)));
    }
    if (!lfu) return c.error(FREQ_REFUSED);
    c.out.int(lfuDecayed(e.clock, Math.floor(s.nowMs / 1000), s.lfuParams.decayMinutes));
  };
}

const OBJECT_HELP = [
  "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "ENCODING <key>",
  "    Return the kind of internal representation used in order to store the value",
  "    associated with a <key>.",
  "FREQ <key>",
  "    Return the access frequency index of the <key>. The returned integer is",
  "    proportional to the logarithm of the recent access frequency of the key.",
  "IDLETIME <key>",
  "    Return the idle time of the <key>, that is the approximated number of",
  "    seconds elapsed since the last access to the key.",
  "REFCOUNT <key>",
  "    Return the number of references of the value associated with the specified",
  "    <key>.",
  "HELP",
  "    Prints this help.",
];

const k1: [number, number, number] = [1, 1, 1];
const all: [number, number, number] = [1, -1, 1];
const m = (summary: string, since = "1.0.0", complexity = "O(1)") => ({
  summary,
  since,
  complexity,
});
const obj = (n: "encoding" | "refcount" | "idletime" | "freq", summary: string) =>
  cmd(`object|${n}`, 3, "readonly", [2, 2, 1], "generic", objectSub(n), m(summary, "2.2.3"));

export const KEY_COMMANDS: CommandDef[] = [
  cmd("del", -2, "write", all, "generic", del, m("Deletes one or more keys.", "1.0.0", "O(N)")),
  cmd(
    "unlink",
    -2,
    "write fast",
    all,
    "generic",
    del,
    m("Asynchronously deletes one or more keys.", "4.0.0", "O(N)"),
  ),
  cmd(
    "exists",
    -2,
    "readonly fast",
    all,
    "generic",
    exists,
    m("Determines whether one or more keys exist."),
  ),
  cmd(
    "type",
    2,
    "readonly fast",
    k1,
    "generic",
    type,
    m("Determines the type of value stored at a key."),
  ),
  cmd(
    "expire",
    -3,
    "write fast",
    k1,
    "generic",
    expireGeneric("s", false, "expire"),
    m("Sets the expiration time of a key in seconds."),
  ),
  cmd(
    "pexpire",
    -3,
    "write fast",
    k1,
    "generic",
    expireGeneric("ms", false, "pexpire"),
    m("Sets the expiration time of a key in milliseconds.", "2.6.0"),
  ),
  cmd(
    "expireat",
    -3,
    "write fast",
    k1,
    "generic",
    expireGeneric("s", true, "expireat"),
    m("Sets the expiration time of a key to a Unix timestamp.", "1.2.0"),
  ),
  cmd(
    "pexpireat",
    -3,
    "write fast",
    k1,
    "generic",
    expireGeneric("ms", true, "pexpireat"),
    m("Sets the expiration time of a key to a Unix milliseconds timestamp.", "2.6.0"),
  ),
  cmd(
    "ttl",
    2,
    "readonly fast",
    k1,
    "generic",
    ttlGeneric("s", false),
    m("Returns the expiration time in seconds of a key."),
  ),
  cmd(
    "pttl",
    2,
    "readonly fast",
    k1,
    "generic",
    ttlGeneric("ms", false),
    m("Returns the expiration time in milliseconds of a key.", "2.6.0"),
  ),
  cmd(
    "expiretime",
    2,
    "readonly fast",
    k1,
    "generic",
    ttlGeneric("s", true),
    m("Returns the expiration time of a key as a Unix timestamp.", "7.0.0"),
  ),
  cmd(
    "pexpiretime",
    2,
    "readonly fast",
    k1,
    "generic",
    ttlGeneric("ms", true),
    m("Returns the expiration time of a key as a Unix milliseconds timestamp.", "7.0.0"),
  ),
  cmd(
    "persist",
    2,
    "write fast",
    k1,
    "generic",
    persist,
    m("Removes the expiration time of a key.", "2.2.0"),
  ),
  cmd(
    "keys",
    2,
    "readonly",
    null,
    "generic",
    keys,
    { ...m("Returns all key names that match a pattern.", "1.0.0", "O(N)"), acl: ["dangerous"] },
  ),
  cmd(
    "scan",
    -2,
    "readonly",
    null,
    "generic",
    scan,
    m(
      "Iterates over the key names in the database.",
      "2.8.0",
      "O(1) for every call. O(N) for a complete iteration.",
    ),
  ),
  cmd(
    "randomkey",
    1,
    "readonly",
    null,
    "generic",
    randomkey,
    m("Returns a random key name from the database."),
  ),
  cmd(
    "rename",
    3,
    "write",
    [1, 2, 1],
    "generic",
    renameGeneric(false),
    m("Renames a key and overwrites the destination."),
  ),
  cmd(
    "renamenx",
    3,
    "write fast",
    [1, 2, 1],
    "generic",
    renameGeneric(true),
    m("Renames a key only when the target key name doesn't exist."),
  ),
  cmd(
    "copy",
    -3,
    "write denyoom",
    [1, 2, 1],
    "generic",
    copy,
    m("Copies the value of a key to a new key.", "6.2.0", "O(N)"),
  ),
  cmd("move", 3, "write fast", k1, "generic", move, m("Moves a key to another database.")),
  cmd(
    "touch",
    -2,
    "readonly fast",
    all,
    "generic",
    touch,
    m(
      "Returns the number of existing keys out of those specified after updating the time they were last accessed.",
      "3.2.1",
      "O(N)",
    ),
  ),
  container("object", "generic", [
    obj("encoding", "Returns the internal encoding of a Redis object."),
    obj("refcount", "Returns the reference count of a value of a key."),
    obj("idletime", "Returns the time since the last access to a Redis object."),
    obj("freq", "Returns the logarithmic access frequency counter of a Redis object."),
    cmd(
      "object|help",
      2,
      "loading stale",
      null,
      "generic",
      (_s, c) => replyHelp(c, OBJECT_HELP),
      m("Returns helpful text about the different subcommands.", "6.2.0"),
    ),
  ], m("A container for object introspection commands.", "2.2.3")),
];
