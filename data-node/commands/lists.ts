/** List commands, including the blocking ones (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP). */
import type { ClientState, Engine } from "../engine/types.ts";
import { ListValue } from "../store/list.ts";
import { cmd, ERR, parseI64, parseIndex } from "./define.ts";
import { runBlocking } from "./block.ts";
import type { CommandDef } from "./types.ts";
import { readAggregate, REPLIED } from "./access.ts";
import { cstr } from "../../shared/cstr.ts";
import { NOTIFY } from "../engine/notify.ts";

type Side = "left" | "right";

function readList(s: Engine, c: ClientState, key: string): ListValue | null | typeof REPLIED {
  return readAggregate<ListValue>(s, c, key, "list");
}

/** list-max-listpack-size: how many elements a list holds as one listpack (store/list.ts). */
function listFill(s: Engine): number {
  return s.config.get<number>("list-max-listpack-size");
}

/**
 * After removing elements: the command's event, then an empty list is deleted (with its `del`
 * event), as Redis never keeps empty aggregates.
 */
function afterRemove(s: Engine, c: ClientState, key: string, l: ListValue, event: string): void {
  s.notify(NOTIFY.LIST, event, key, c.db.id);
  if (l.length === 0) {
    c.db.delete(key);
    s.notify(NOTIFY.GENERIC, "del", key, c.db.id);
  } else c.db.signalModified(key);
}

const popEvent = (side: Side) => side === "left" ? "lpop" : "rpop";
const pushEvent = (side: Side) => side === "left" ? "lpush" : "rpush";

function push(side: Side, onlyExisting: boolean) {
  return (s: Engine, c: ClientState, argv: string[]): void => {
    const key = argv[1]!;
    let l = readList(s, c, key);
    if (l === REPLIED) return;
    if (l === null) {
      if (onlyExisting) return c.out.int(0);
      l = new ListValue();
      c.db.set(key, l);
    }
    const fill = listFill(s);
    for (let i = 2; i < argv.length; i++) {
      if (side === "left") l.pushHead(argv[i]!, fill);
      else l.pushTail(argv[i]!, fill);
    }
    c.db.signalModified(key);
    s.notify(NOTIFY.LIST, pushEvent(side), key, c.db.id);
    s.dirty += argv.length - 2;
    c.out.int(l.length);
  };
}

/** getPositiveLongFromObjectOrReply / getRangeLongFromObjectOrReply(1, LONG_MAX) with a message. */
function parsePositive(arg: string, min: 0 | 1): number | null {
  const n = parseIndex(arg);
  return n === null || n < min ? null : n;
}

function popOne(l: ListValue, side: Side): string {
  return (side === "left" ? l.popHead() : l.popTail())!;
}

function pop(side: Side) {
  return (s: Engine, c: ClientState, argv: string[]): void => {
    const key = argv[1]!;
    let count = -1;
    if (argv.length > 3) {
      return c.error(
        `ERR wrong number of arguments for '${side === "left" ? "lpop" : "rpop"}' command`,
      );
    }
    if (argv.length === 3) {
      const n = parsePositive(argv[2]!, 0);
      if (n === null) return c.error("ERR value is out of range, must be positive");
      count = n;
    }
    const l = readList(s, c, key);
    if (l === REPLIED) return;
    if (l === null) return count < 0 ? c.out.nullBulk() : c.out.nullArray();
    if (count < 0) {
      c.out.bulk(popOne(l, side));
    } else {
      const n = Math.min(count, l.length);
      c.out.array(n);
      for (let i = 0; i < n; i++) c.out.bulk(popOne(l, side));
      if (n === 0) return;
    }
    afterRemove(s, c, key, l, popEvent(side));
    s.dirty++;
  };
}

/** Clamps Redis-style start/stop (negative from the end) to [0, len-1]; null when empty. */
function clampRange(start: number, stop: number, len: number): [number, number] | null {
  if (start < 0) start = len + start;
  if (stop < 0) stop = len + stop;
  if (start < 0) start = 0;
  if (start > stop || start >= len) return null;
  if (stop >= len) stop = len - 1;
  return [start, stop];
}

function lrange(s: Engine, c: ClientState, argv: string[]): void {
  const start = parseIndex(argv[2]!), stop = parseIndex(argv[3]!);
  if (start === null || stop === null) return c.error(ERR.notInt);
  const l = readList(s, c, argv[1]!);
  if (l === REPLIED) return;
  const r = l ? clampRange(start, stop, l.length) : null;
  if (!l || !r) return c.out.array(0);
  c.out.array(r[1] - r[0] + 1);
  for (const v of l.range(r[0], r[1])) c.out.bulk(v);
}

function llen(s: Engine, c: ClientState, argv: string[]): void {
  const l = readList(s, c, argv[1]!);
  if (l === REPLIED) return;
  c.out.int(l ? l.length : 0);
}

function lindex(s: Engine, c: ClientState, argv: string[]): void {
  // Redis looks the key up (and checks its type) before parsing the index.
  const l = readList(s, c, argv[1]!);
  if (l === REPLIED) return;
  if (l === null) return c.out.nullBulk();
  const idx = parseIndex(argv[2]!);
  if (idx === null) return c.error(ERR.notInt);
  const v = l.at(idx < 0 ? l.length + idx : idx);
  if (v === undefined) c.out.nullBulk();
  else c.out.bulk(v);
}

function lset(s: Engine, c: ClientState, argv: string[]): void {
  // As in Redis: "no such key" and WRONGTYPE come before the index is parsed.
  const l = readList(s, c, argv[1]!);
  if (l === REPLIED) return;
  if (l === null) return c.error(ERR.noSuchKey);
  const idx = parseIndex(argv[2]!);
  if (idx === null) return c.error(ERR.notInt);
  const i = idx < 0 ? l.length + idx : idx;
  if (i < 0 || i >= l.length) return c.error("ERR index out of range");
  l.setAt(i, argv[3]!, listFill(s));
  c.db.signalModified(argv[1]!);
  s.notify(NOTIFY.LIST, "lset", argv[1]!, c.db.id);
  s.dirty++;
  c.out.ok();
}

function linsert(s: Engine, c: ClientState, argv: string[]): void {
  const where = cstr(argv[2]!).toLowerCase();
  if (where !== "before" && where !== "after") return c.error(ERR.syntax);
  const l = readList(s, c, argv[1]!);
  if (l === REPLIED) return;
  if (l === null) return c.out.int(0);
  const items = l.toArray();
  const at = items.indexOf(argv[3]!);
  if (at < 0) return c.out.int(-1);
  items.splice(where === "before" ? at : at + 1, 0, argv[4]!);
  l.replaceAll(items, listFill(s));
  c.db.signalModified(argv[1]!);
  s.notify(NOTIFY.LIST, "linsert", argv[1]!, c.db.id);
  s.dirty++;
  c.out.int(l.length);
}

function lrem(s: Engine, c: ClientState, argv: string[]): void {
  const count = parseIndex(argv[2]!);
  if (count === null) return c.error(ERR.notInt);
  const l = readList(s, c, argv[1]!);
  if (l === REPLIED) return;
  if (l === null) return c.out.int(0);
  const items = l.toArray();
  const target = argv[3]!;
  const limit = count === 0 ? Infinity : Math.abs(count);
  let removed = 0;
  const keep = new Array<boolean>(items.length).fill(true);
  const order = count < 0 ? [...items.keys()].reverse() : items.keys();
  for (const i of order) {
    if (removed >= limit) break;
    if (items[i] === target) {
      keep[i] = false;
      removed++;
    }
  }
  if (removed > 0) {
    l.replaceAll(items.filter((_, i) => keep[i]), listFill(s));
    afterRemove(s, c, argv[1]!, l, "lrem");
    s.dirty += removed;
  }
  c.out.int(removed);
}

function ltrim(s: Engine, c: ClientState, argv: string[]): void {
  const start = parseIndex(argv[2]!), stop = parseIndex(argv[3]!);
  if (start === null || stop === null) return c.error(ERR.notInt);
  const l = readList(s, c, argv[1]!);
  if (l === REPLIED) return;
  if (l === null) return c.out.ok();
  const r = clampRange(start, stop, l.length);
  const before = l.length;
  if (!r || r[1] - r[0] + 1 < before) {
    l.replaceAll(r ? [...l.range(r[0], r[1])] : [], listFill(s));
  }
  afterRemove(s, c, argv[1]!, l, "ltrim");
  // Only removed elements count as changes (a trim that keeps everything is not replicated).
  s.dirty += before - l.length;
  c.out.ok();
}

function lpos(s: Engine, c: ClientState, argv: string[]): void {
  let rank = 1, count = -1, maxlen = 0;
  // RANK -2^63: Redis negates it in place, which overflows back to itself; every match then
  // passes the rank test and the COUNT limit never triggers: all matches, from the tail.
  let rankMin = false;
  for (let i = 3; i < argv.length; i++) {
    const opt = cstr(argv[i]!).toLowerCase();
    const hasValue = i + 1 < argv.length;
    if (opt === "rank" && hasValue) {
      const n = parseI64(argv[++i]!);
      if (n === null) return c.error(ERR.notInt);
      if (n === 0n) {
        return c.error(
          "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... " +
            "or use negative to start from the end of the list",
        );
      }
      rankMin = n === -9223372036854775808n;
      rank = rankMin ? -1 : Number(n);
    } else if (opt === "count" && hasValue) {
      const n = parsePositive(argv[++i]!, 0);
      if (n === null) return c.error("ERR COUNT can't be negative");
      count = n;
    } else if (opt === "maxlen" && hasValue) {
      const n = parsePositive(argv[++i]!, 0);
      if (n === null) return c.error("ERR MAXLEN can't be negative");
      maxlen = n;
    } else return c.error(ERR.syntax);
  }
  const l = readList(s, c, argv[1]!);
  if (l === REPLIED) return;
  const found: number[] = [];
  if (l) {
    const want = count === 0 || (rankMin && count > 0) ? Infinity : count < 0 ? 1 : count;
    const target = argv[2]!, len = l.length, items = l.indexed();
    let skip = Math.abs(rank) - 1;
    for (let step = 0; step < len && (maxlen === 0 || step < maxlen); step++) {
      const i = rank > 0 ? step : len - 1 - step;
      if (items.at(i) !== target) continue;
      if (skip > 0) {
        skip--;
        continue;
      }
      found.push(i);
      if (found.length >= want) break;
    }
  }
  if (count < 0) return found.length ? c.out.int(found[0]!) : c.out.nullBulk();
  c.out.array(found.length);
  for (const i of found) c.out.int(i);
}

function parseSide(arg: string): Side | null {
  const l = cstr(arg).toLowerCase();
  return l === "left" ? "left" : l === "right" ? "right" : null;
}

/**
 * LMOVE core: pops from src, pushes to dst. Checks dst's type before popping so that a
 * WRONGTYPE leaves both lists untouched. Returns the element, null if src is empty, or REPLIED.
 */
function moveOne(
  s: Engine,
  c: ClientState,
  src: string,
  dst: string,
  from: Side,
  to: Side,
): string | null | typeof REPLIED {
  const l = readList(s, c, src);
  if (l === REPLIED || l === null) return l;
  const d = readList(s, c, dst);
  if (d === REPLIED) return REPLIED;
  const v = popOne(l, from);
  let target = d;
  if (src === dst) target = l;
  else if (target === null) {
    target = new ListValue();
    c.db.set(dst, target);
  }
  if (to === "left") target.pushHead(v, listFill(s));
  else target.pushTail(v, listFill(s));
  c.db.signalModified(dst);
  s.notify(NOTIFY.LIST, pushEvent(to), dst, c.db.id);
  afterRemove(s, c, src, l, popEvent(from));
  s.dirty++;
  return v;
}

function lmove(s: Engine, c: ClientState, argv: string[]): void {
  const from = parseSide(argv[3]!), to = parseSide(argv[4]!);
  if (!from || !to) return c.error(ERR.syntax);
  const v = moveOne(s, c, argv[1]!, argv[2]!, from, to);
  if (v === REPLIED) return;
  if (v === null) c.out.nullBulk();
  else c.out.bulk(v);
}

function rpoplpush(s: Engine, c: ClientState, argv: string[]): void {
  const v = moveOne(s, c, argv[1]!, argv[2]!, "right", "left");
  if (v === REPLIED) return;
  if (v === null) c.out.nullBulk();
  else c.out.bulk(v);
}

interface MpopArgs {
  keys: string[];
  side: Side;
  count: number;
}

/** `numkeys key... LEFT|RIGHT [COUNT n]` starting at argv[at]. */
function parseMpop(c: ClientState, argv: string[], at: number): MpopArgs | null {
  const numkeys = parsePositive(argv[at]!, 1);
  if (numkeys === null) return c.error("ERR numkeys should be greater than 0"), null;
  // Past the arguments (or, for absurd counts, Redis's wrapped-around index landing on the
  // numkeys or command name argument): never LEFT/RIGHT, so a syntax error.
  if (numkeys > argv.length - at - 2) return c.error(ERR.syntax), null;
  const keys = argv.slice(at + 1, at + 1 + numkeys);
  const side = parseSide(argv[at + 1 + numkeys]!);
  if (!side) return c.error(ERR.syntax), null;
  let count = -1;
  for (let i = at + 2 + numkeys; i < argv.length; i++) {
    if (count === -1 && cstr(argv[i]!).toLowerCase() === "count" && i + 1 < argv.length) {
      const n = parsePositive(argv[++i]!, 1);
      if (n === null) return c.error("ERR count should be greater than 0"), null;
      count = n;
    } else return c.error(ERR.syntax), null;
  }
  return { keys, side, count: count === -1 ? 1 : count };
}

/** Pops up to count from the first non-empty list; replies [key, [elements]]. */
function mpopFrom(s: Engine, c: ClientState, a: MpopArgs): boolean | typeof REPLIED {
  for (const key of a.keys) {
    const l = readList(s, c, key);
    if (l === REPLIED) return REPLIED;
    if (l === null) continue;
    const n = Math.min(a.count, l.length);
    c.out.array(2);
    c.out.bulk(key);
    c.out.array(n);
    for (let i = 0; i < n; i++) c.out.bulk(popOne(l, a.side));
    afterRemove(s, c, key, l, popEvent(a.side));
    s.dirty++;
    c.rewrittenArgv = [a.side === "left" ? "LPOP" : "RPOP", key, String(n)];
    return true;
  }
  return false;
}

function lmpop(s: Engine, c: ClientState, argv: string[]): void {
  const a = parseMpop(c, argv, 1);
  if (!a) return;
  const r = mpopFrom(s, c, a);
  if (r === false) c.out.nullArray();
}

// ---- Blocking variants ----

function bpop(side: Side) {
  return (s: Engine, c: ClientState, argv: string[]): void | Promise<void> =>
    runBlocking(s, c, {
      keys: argv.slice(1, -1),
      timeoutArg: argv[argv.length - 1]!,
      type: "list",
      attempt: (keys) => {
        for (const key of keys) {
          const l = readList(s, c, key);
          if (l === REPLIED) return REPLIED;
          if (l === null) continue;
          c.out.array(2);
          c.out.bulk(key);
          c.out.bulk(popOne(l, side));
          afterRemove(s, c, key, l, popEvent(side));
          s.dirty++;
          c.rewrittenArgv = [side === "left" ? "LPOP" : "RPOP", key];
          return true;
        }
        return false;
      },
    });
}

function blmoveGeneric(
  s: Engine,
  c: ClientState,
  src: string,
  dst: string,
  from: Side,
  to: Side,
  timeout: string,
  rpoplpush: boolean,
): void | Promise<void> {
  return runBlocking(s, c, {
    keys: [src],
    timeoutArg: timeout,
    type: "list",
    nullInExec: "bulk",
    attempt: () => {
      const v = moveOne(s, c, src, dst, from, to);
      if (v === REPLIED) return REPLIED;
      if (v === null) return false;
      c.out.bulk(v);
      // Replicated as the non-blocking form, with Redis's own spelling of the sides.
      c.rewrittenArgv = rpoplpush ? ["RPOPLPUSH", src, dst] : ["LMOVE", src, dst, from, to];
      return true;
    },
  });
}

function blmove(s: Engine, c: ClientState, argv: string[]): void | Promise<void> {
  const from = parseSide(argv[3]!), to = parseSide(argv[4]!);
  if (!from || !to) return c.error(ERR.syntax);
  return blmoveGeneric(s, c, argv[1]!, argv[2]!, from, to, argv[5]!, false);
}

function brpoplpush(s: Engine, c: ClientState, argv: string[]): void | Promise<void> {
  return blmoveGeneric(s, c, argv[1]!, argv[2]!, "right", "left", argv[3]!, true);
}

function blmpop(s: Engine, c: ClientState, argv: string[]): void | Promise<void> {
  const a = parseMpop(c, argv, 2);
  if (!a) return;
  return runBlocking(s, c, {
    keys: a.keys,
    timeoutArg: argv[1]!,
    type: "list",
    attempt: (keys) => mpopFrom(s, c, { ...a, keys }),
  });
}

const k1: [number, number, number] = [1, 1, 1];
const m = (summary: string, since = "1.0.0", complexity = "O(1)") => ({
  summary,
  since,
  complexity,
});
export const LIST_COMMANDS: CommandDef[] = [
  cmd(
    "lpush",
    -3,
    "write denyoom fast",
    k1,
    "list",
    push("left", false),
    m("Prepends one or more elements to a list. Creates the key if it doesn't exist."),
  ),
  cmd(
    "rpush",
    -3,
    "write denyoom fast",
    k1,
    "list",
    push("right", false),
    m("Appends one or more elements to a list. Creates the key if it doesn't exist."),
  ),
  cmd(
    "lpushx",
    -3,
    "write denyoom fast",
    k1,
    "list",
    push("left", true),
    m("Prepends one or more elements to a list only when the list exists.", "2.2.0"),
  ),
  cmd(
    "rpushx",
    -3,
    "write denyoom fast",
    k1,
    "list",
    push("right", true),
    m("Appends an element to a list only when the list exists.", "2.2.0"),
  ),
  cmd(
    "lpop",
    -2,
    "write fast",
    k1,
    "list",
    pop("left"),
    m("Returns the first elements in a list after removing it. Deletes the list if the last element was popped."),
  ),
  cmd(
    "rpop",
    -2,
    "write fast",
    k1,
    "list",
    pop("right"),
    m("Returns and removes the last elements of a list. Deletes the list if the last element was popped."),
  ),
  cmd(
    "lrange",
    4,
    "readonly",
    k1,
    "list",
    lrange,
    m("Returns a range of elements from a list.", "1.0.0", "O(S+N)"),
  ),
  cmd("llen", 2, "readonly fast", k1, "list", llen, m("Returns the length of a list.")),
  cmd(
    "lindex",
    3,
    "readonly",
    k1,
    "list",
    lindex,
    m("Returns an element from a list by its index.", "1.0.0", "O(N)"),
  ),
  cmd(
    "lset",
    4,
    "write denyoom",
    k1,
    "list",
    lset,
    m("Sets the value of an element in a list by its index.", "1.0.0", "O(N)"),
  ),
  cmd(
    "linsert",
    5,
    "write denyoom",
    k1,
    "list",
    linsert,
    m("Inserts an element before or after another element in a list.", "2.2.0", "O(N)"),
  ),
  cmd(
    "lrem",
    4,
    "write",
    k1,
    "list",
    lrem,
    m(
      "Removes elements from a list. Deletes the list if the last element was removed.",
      "1.0.0",
      "O(N+M)",
    ),
  ),
  cmd(
    "ltrim",
    4,
    "write",
    k1,
    "list",
    ltrim,
    m(
      "Removes elements from both ends a list. Deletes the list if all elements were trimmed.",
      "1.0.0",
      "O(N)",
    ),
  ),
  cmd(
    "lpos",
    -3,
    "readonly",
    k1,
    "list",
    lpos,
    m("Returns the index of matching elements in a list.", "6.0.6", "O(N)"),
  ),
  cmd(
    "lmove",
    5,
    "write denyoom",
    [1, 2, 1],
    "list",
    lmove,
    m(
      "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.",
      "6.2.0",
    ),
  ),
  cmd(
    "rpoplpush",
    3,
    "write denyoom",
    [1, 2, 1],
    "list",
    rpoplpush,
    m(
      "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.",
      "1.2.0",
    ),
  ),
  cmd("lmpop", -4, "write", null, "list", lmpop, {
    ...m(
      "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.",
      "7.0.0",
      "O(N+M)",
    ),
    numkeys: [0, 1, 2],
  }),
  cmd(
    "blpop",
    -3,
    "write noscript blocking",
    [1, -2, 1],
    "list",
    bpop("left"),
    m(
      "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
      "2.0.0",
      "O(N)",
    ),
  ),
  cmd(
    "brpop",
    -3,
    "write noscript blocking",
    [1, -2, 1],
    "list",
    bpop("right"),
    m(
      "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
      "2.0.0",
      "O(N)",
    ),
  ),
  cmd(
    "blmove",
    6,
    "write denyoom noscript blocking",
    [1, 2, 1],
    "list",
    blmove,
    m(
      "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.",
      "6.2.0",
    ),
  ),
  cmd(
    "brpoplpush",
    4,
    "write denyoom noscript blocking",
    [1, 2, 1],
    "list",
    brpoplpush,
    m(
      "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.",
      "2.2.0",
    ),
  ),
  cmd("blmpop", -5, "write blocking", null, "list", blmpop, {
    ...m(
      "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
      "7.0.0",
      "O(N+M)",
    ),
    numkeys: [0, 2, 3],
  }),
];
