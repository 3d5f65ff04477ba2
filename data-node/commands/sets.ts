/** Set commands. */
import { NOTIFY } from "../engine/notify.ts";
import { PROPAGATED } from "../engine/call.ts";
import type { ClientState, Engine } from "../engine/types.ts";
import { SetValue } from "../store/set.ts";
import { cmd, ERR, parseIndex } from "./define.ts";
import type { CommandDef } from "./types.ts";
import { keyMiss, readAggregate, REPLIED } from "./access.ts";
import { parseScanArgs, scanAggregate, scanMatches } from "./scan.ts";
import { randomCountReply } from "./random.ts";
import { cstr } from "../../shared/cstr.ts";

function readSet(s: Engine, c: ClientState, key: string): SetValue | null | typeof REPLIED {
  return readAggregate<SetValue>(s, c, key, "set");
}

function maxIntset(s: Engine): number {
  return s.config.get<number>("set-max-intset-entries");
}

/** A count as a long (clamped to ±2^53, see parseIndex); `min` marks -2^63 (LONG_MIN). */
function parseLong(arg: string): { n: number; min: boolean } | null {
  const n = parseIndex(arg);
  return n === null ? null : { n, min: arg === "-9223372036854775808" };
}

function replySet(c: ClientState, items: Iterable<string>, n: number): void {
  c.out.set(n);
  for (const m of items) c.out.bulk(m);
}

function sadd(s: Engine, c: ClientState, argv: string[]): void {
  const key = argv[1]!;
  let v = readSet(s, c, key);
  if (v === REPLIED) return;
  if (v === null) {
    v = new SetValue();
    c.db.set(key, v);
  }
  const added = v.addMembers(argv, 2, maxIntset(s));
  if (added > 0) {
    c.db.signalModified(key);
    s.notify(NOTIFY.SET, "sadd", key, c.db.id);
    s.dirty += added;
  }
  c.out.int(added);
}

function srem(s: Engine, c: ClientState, argv: string[]): void {
  const v = readSet(s, c, argv[1]!);
  if (v === REPLIED) return;
  if (v === null) return c.out.int(0);
  let n = 0;
  for (let i = 2; i < argv.length; i++) if (v.delete(argv[i]!)) n++;
  if (n > 0) {
    afterRemove(s, c, argv[1]!, v, "srem");
    s.dirty += n;
  }
  c.out.int(n);
}

/** The command's event, then an emptied set is deleted (with its `del` event). */
function afterRemove(s: Engine, c: ClientState, key: string, v: SetValue, event: string): void {
  s.notify(NOTIFY.SET, event, key, c.db.id);
  if (v.size === 0) {
    c.db.delete(key);
    s.notify(NOTIFY.GENERIC, "del", key, c.db.id);
  } else c.db.signalModified(key);
}

function sismember(s: Engine, c: ClientState, argv: string[]): void {
  const v = readSet(s, c, argv[1]!);
  if (v === REPLIED) return;
  c.out.int(v?.has(argv[2]!) ? 1 : 0);
}

function smismember(s: Engine, c: ClientState, argv: string[]): void {
  const v = readSet(s, c, argv[1]!);
  if (v === REPLIED) return;
  c.out.array(argv.length - 2);
  for (let i = 2; i < argv.length; i++) c.out.int(v?.has(argv[i]!) ? 1 : 0);
}

function smembers(s: Engine, c: ClientState, argv: string[]): void {
  const v = readSet(s, c, argv[1]!);
  if (v === REPLIED) return;
  if (!v) return c.out.set(0);
  replySet(c, v.members(), v.size);
}

function scard(s: Engine, c: ClientState, argv: string[]): void {
  const v = readSet(s, c, argv[1]!);
  if (v === REPLIED) return;
  c.out.int(v ? v.size : 0);
}

function spop(s: Engine, c: ClientState, argv: string[]): void {
  if (argv.length > 3) return c.error(ERR.syntax);
  let count: number | null = null;
  if (argv.length === 3) {
    const p = parseLong(argv[2]!);
    if (p === null || p.n < 0) return c.error("ERR value is out of range, must be positive");
    count = p.n;
  }
  const v = readSet(s, c, argv[1]!);
  if (v === REPLIED) return;
  if (!v) return count === null ? c.out.nullBulk() : c.out.set(0);
  const popped = pickForPop(v, count);
  const n = popped.length;
  v.deleteMany(popped);
  if (count === null) c.out.bulk(popped[0]!);
  else replySet(c, popped, popped.length);
  if (n === 0) return;
  const whole = v.size === 0;
  afterRemove(s, c, argv[1]!, v, "spop");
  s.dirty += n;
  // Replicas must remove exactly the members chosen here, not pick their own: the whole set
  // goes as DEL, otherwise one SREM per member (wrapped in MULTI/EXEC by the unit), as Redis
  // 7.0 does.
  if (!s.propagation.wanted) return;
  if (count !== null && whole) c.rewrittenArgv = ["DEL", argv[1]!];
  else if (count === null) c.rewrittenArgv = ["SREM", argv[1]!, popped[0]!];
  else {
    for (const m of popped) s.propagation.also(c.db.id, ["SREM", argv[1]!, m]);
    c.rewrittenArgv = PROPAGATED;
  }
}

/**
 * The members SPOP takes: one, or `count` distinct ones. A few from a large set are picked
 * one at a time (no listing of the whole set); otherwise the listed members are shuffled.
 */
function pickForPop(v: SetValue, count: number | null): string[] {
  const size = v.size;
  if (count === null || (count * 4 <= size && size > 1024)) {
    const want = count ?? 1;
    const out: string[] = [];
    const taken = new Set<string>();
    while (out.length < want) {
      const m = v.randomMember()!;
      if (taken.has(m)) continue;
      taken.add(m);
      out.push(m);
    }
    return out;
  }
  const all = v.members();
  const n = Math.min(count, all.length);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(Math.random() * (all.length - i));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return all.slice(0, n);
}

function srandmember(s: Engine, c: ClientState, argv: string[]): void {
  if (argv.length > 3) return c.error(ERR.syntax);
  let count: number | null = null;
  if (argv.length === 3) {
    const p = parseLong(argv[2]!);
    if (p === null) return c.error(ERR.notInt);
    if (p.min) {
      return c.error(
        "ERR value is out of range, value must between -9223372036854775807 and " +
          "9223372036854775807",
      );
    }
    count = p.n;
  }
  const v = readSet(s, c, argv[1]!);
  if (v === REPLIED) return;
  if (count === null) {
    if (!v) return c.out.nullBulk();
    return c.out.bulk(v.randomMember()!);
  }
  randomCountReply(c, v ? v.members() : [], count, null);
}

function smove(s: Engine, c: ClientState, argv: string[]): void {
  const [src, dst, member] = [argv[1]!, argv[2]!, argv[3]!];
  // Both keys are looked up first (an access for each), and a missing source answers 0 before
  // the destination's type is checked, as in Redis.
  const found = c.db.lookup(src) !== undefined;
  c.db.lookup(dst);
  if (!found) return c.out.int(0);
  const sv = readSet(s, c, src);
  if (sv === REPLIED) return;
  const dv = readSet(s, c, dst);
  if (dv === REPLIED) return;
  if (!sv || !sv.has(member)) return c.out.int(0);
  if (src === dst) return c.out.int(1);
  sv.delete(member);
  afterRemove(s, c, src, sv, "srem");
  s.dirty++;
  // A member the destination already has: only the source changed.
  if (dv?.has(member)) return c.out.int(1);
  let target = dv;
  if (!target) {
    target = new SetValue();
    c.db.set(dst, target);
  }
  target.addMembers([member], 0, maxIntset(s));
  c.db.signalModified(dst);
  s.notify(NOTIFY.SET, "sadd", dst, c.db.id);
  s.dirty++;
  c.out.int(1);
}

type Op = "inter" | "union" | "diff";

/** Reads every operand; null stands for a missing key. REPLIED on a WRONGTYPE. */
function operands(
  s: Engine,
  c: ClientState,
  keys: string[],
  store = false,
): (ReadonlySet<string> | null)[] | typeof REPLIED {
  const out: (ReadonlySet<string> | null)[] = [];
  for (const k of keys) {
    const v = readSet(s, c, k);
    if (v === REPLIED) return REPLIED;
    // The sources of a STORE form are reads, as in Redis.
    if (v === null && store) keyMiss(s, c, k, true);
    out.push(v ? v.asSet() : null);
  }
  return out;
}

function compute(op: Op, sets: (ReadonlySet<string> | null)[], limit = 0): Set<string> {
  if (op === "union") {
    const r = new Set<string>();
    for (const x of sets) if (x) { for (const m of x) r.add(m); }
    return r;
  }
  if (op === "diff") {
    const [first, ...rest] = sets;
    const r = new Set<string>();
    if (!first) return r;
    for (const m of first) if (!rest.some((x) => x?.has(m))) r.add(m);
    return r;
  }
  if (sets.some((x) => x === null)) return new Set();
  const sorted = (sets as ReadonlySet<string>[]).slice().sort((a, b) => a.size - b.size);
  const r = new Set<string>();
  for (const m of sorted[0]!) {
    if (sorted.every((x) => x.has(m))) {
      r.add(m);
      if (limit > 0 && r.size >= limit) break;
    }
  }
  return r;
}

function setop(op: Op) {
  return (s: Engine, c: ClientState, argv: string[]): void => {
    const sets = operands(s, c, argv.slice(1));
    if (sets === REPLIED) return;
    const r = compute(op, sets);
    const v = new SetValue(r);
    v.checkEncoding(maxIntset(s));
    replySet(c, v.members(), r.size);
  };
}

function setopStore(op: Op) {
  return (s: Engine, c: ClientState, argv: string[]): void => {
    const sets = operands(s, c, argv.slice(2), true);
    if (sets === REPLIED) return;
    const r = compute(op, sets);
    const dst = argv[1]!;
    if (r.size === 0) {
      if (c.db.delete(dst)) {
        s.notify(NOTIFY.GENERIC, "del", dst, c.db.id);
        s.dirty++;
      }
    } else {
      const v = new SetValue(r);
      v.checkEncoding(maxIntset(s));
      c.db.set(dst, v);
      s.notify(NOTIFY.SET, `s${op}store`, dst, c.db.id);
      s.dirty++;
    }
    c.out.int(r.size);
  };
}

function sintercard(s: Engine, c: ClientState, argv: string[]): void {
  const nk = parseLong(argv[1]!);
  if (nk === null || nk.n <= 0) return c.error("ERR numkeys should be greater than 0");
  const numkeys = nk.n;
  if (numkeys > argv.length - 2) {
    return c.error("ERR Number of keys can't be greater than number of args");
  }
  let limit = 0;
  // Options are read in order; a repeated LIMIT overrides, anything else is a syntax error.
  for (let i = 2 + numkeys; i < argv.length; i++) {
    if (cstr(argv[i]!).toLowerCase() === "limit" && i + 1 < argv.length) {
      const n = parseLong(argv[++i]!);
      if (n === null || n.n < 0) return c.error("ERR LIMIT can't be negative");
      limit = n.n;
    } else return c.error(ERR.syntax);
  }
  const sets = operands(s, c, argv.slice(2, 2 + numkeys));
  if (sets === REPLIED) return;
  c.out.int(compute("inter", sets, limit).size);
}

function sscan(s: Engine, c: ClientState, argv: string[]): void {
  const a = parseScanArgs(c, argv, 2, false);
  if (!a) return;
  const v = readSet(s, c, argv[1]!);
  if (v === REPLIED) return;
  const out: string[] = [];
  let next = 0;
  if (v?.encoding() === "intset") {
    // An intset is returned whole, in order, with cursor 0, as Redis does.
    for (const m of v.members()) if (scanMatches(a, m)) out.push(m);
  } else if (v) {
    next = scanAggregate(a, v.scanKeys(), v.cursors, false, (m) => out.push(m));
  }
  c.out.array(2);
  c.out.bulk(String(next));
  c.out.array(out.length);
  for (const x of out) c.out.bulk(x);
}

const k1: [number, number, number] = [1, 1, 1];
const all: [number, number, number] = [1, -1, 1];
const store: [number, number, number] = [1, -1, 1];
const m = (summary: string, since = "1.0.0", complexity = "O(1)") => ({
  summary,
  since,
  complexity,
});

export const SET_COMMANDS: CommandDef[] = [
  cmd(
    "sadd",
    -3,
    "write denyoom fast",
    k1,
    "set",
    sadd,
    m("Adds one or more members to a set. Creates the key if it doesn't exist."),
  ),
  cmd(
    "srem",
    -3,
    "write fast",
    k1,
    "set",
    srem,
    m("Removes one or more members from a set. Deletes the set if the last member was removed."),
  ),
  cmd(
    "sismember",
    3,
    "readonly fast",
    k1,
    "set",
    sismember,
    m("Determines whether a member belongs to a set."),
  ),
  cmd(
    "smismember",
    -3,
    "readonly fast",
    k1,
    "set",
    smismember,
    m("Determines whether multiple members belong to a set.", "6.2.0"),
  ),
  cmd(
    "smembers",
    2,
    "readonly",
    k1,
    "set",
    smembers,
    m("Returns all members of a set.", "1.0.0", "O(N)"),
  ),
  cmd("scard", 2, "readonly fast", k1, "set", scard, m("Returns the number of members in a set.")),
  cmd(
    "spop",
    -2,
    "write fast",
    k1,
    "set",
    spop,
    m("Returns one or more random members from a set after removing them. Deletes the set if the last member was popped."),
  ),
  cmd(
    "srandmember",
    -2,
    "readonly",
    k1,
    "set",
    srandmember,
    m("Get one or multiple random members from a set"),
  ),
  cmd(
    "smove",
    4,
    "write fast",
    [1, 2, 1],
    "set",
    smove,
    m("Moves a member from one set to another."),
  ),
  cmd(
    "sinter",
    -2,
    "readonly",
    all,
    "set",
    setop("inter"),
    m("Returns the intersect of multiple sets.", "1.0.0", "O(N*M)"),
  ),
  cmd(
    "sunion",
    -2,
    "readonly",
    all,
    "set",
    setop("union"),
    m("Returns the union of multiple sets.", "1.0.0", "O(N)"),
  ),
  cmd(
    "sdiff",
    -2,
    "readonly",
    all,
    "set",
    setop("diff"),
    m("Returns the difference of multiple sets.", "1.0.0", "O(N)"),
  ),
  cmd(
    "sinterstore",
    -3,
    "write denyoom",
    store,
    "set",
    setopStore("inter"),
    m("Stores the intersect of multiple sets in a key.", "1.0.0", "O(N*M)"),
  ),
  cmd(
    "sunionstore",
    -3,
    "write denyoom",
    store,
    "set",
    setopStore("union"),
    m("Stores the union of multiple sets in a key.", "1.0.0", "O(N)"),
  ),
  cmd(
    "sdiffstore",
    -3,
    "write denyoom",
    store,
    "set",
    setopStore("diff"),
    m("Stores the difference of multiple sets in a key.", "1.0.0", "O(N)"),
  ),
  cmd("sintercard", -3, "readonly", null, "set", sintercard, {
    ...m("Returns the number of members of the intersect of multiple sets.", "7.0.0", "O(N*M)"),
    numkeys: [0, 1, 2],
  }),
  cmd(
    "sscan",
    -3,
    "readonly",
    k1,
    "set",
    sscan,
    m("Iterates over members of a set.", "2.8.0", "O(N)"),
  ),
];
