/**
 * SORT and SORT_RO over lists, sets and sorted sets, with BY and GET patterns (`*` replaced by
 * the element, `->field` reading a hash field), LIMIT, ASC/DESC, ALPHA and STORE, following
 * Redis 7.0's sort.c: the same options grammar, error texts and order of checks, and the same
 * element order (ties between equal scores broken by the elements' bytes).
 */
import type { ClientState, Engine } from "../engine/types.ts";
import { NOTIFY } from "../engine/notify.ts";
import { cmd, ERR, parseIndex } from "./define.ts";
import type { CommandDef } from "./types.ts";
import { ListValue } from "../store/list.ts";
import type { SetValue } from "../store/set.ts";
import type { ZSetValue } from "../store/zset.ts";
import type { HashValue } from "../store/hash.ts";
import { cstr } from "../../shared/cstr.ts";
import { lookupRead } from "./access.ts";

const SCORE_ERR = "ERR One or more scores can't be converted into double";

interface Options {
  desc: boolean;
  alpha: boolean;
  start: number;
  count: number;
  store: string | null;
  by: string | null;
  dontSort: boolean;
  gets: string[];
}

/** Parses SORT's options; null after replying an error. */
function parseOptions(s: Engine, c: ClientState, argv: string[], readonly: boolean) {
  const o: Options = {
    desc: false,
    alpha: false,
    start: 0,
    count: -1,
    store: null,
    by: null,
    dontSort: false,
    gets: [],
  };
  // BY and GET patterns name keys no key spec shows: they need read access to every key.
  const user = c.aclUser;
  const readsAll = user === null || user.unrestricted ||
    s.acl.readsAllKeys(user, SORT_COMMANDS[readonly ? 1 : 0]!, argv);
  for (let j = 2; j < argv.length; j++) {
    const left = argv.length - j - 1;
    const opt = argv[j]!.toLowerCase();
    if (opt === "asc") o.desc = false;
    else if (opt === "desc") o.desc = true;
    else if (opt === "alpha") o.alpha = true;
    else if (opt === "limit" && left >= 2) {
      const a = parseIndex(argv[j + 1]!), b = a === null ? null : parseIndex(argv[j + 2]!);
      if (a === null || b === null) return c.error(ERR.notInt), null;
      o.start = a;
      o.count = b;
      j += 2;
    } else if (!readonly && opt === "store" && left >= 1) {
      o.store = argv[++j]!;
    } else if (opt === "by" && left >= 1) {
      o.by = argv[++j]!;
      // A pattern without "*" names no key per element: nothing to sort by.
      if (!cstr(o.by).includes("*")) o.dontSort = true;
      else if (s.clusterEnabled) {
        return c.error("ERR BY option of SORT denied in Cluster mode."), null;
      } else if (!readsAll) {
        return c.error("ERR BY option of SORT denied due to insufficient ACL permissions."), null;
      }
    } else if (opt === "get" && left >= 1) {
      // Redis 7.0 refuses every GET in cluster mode, "#" included.
      if (s.clusterEnabled) return c.error("ERR GET option of SORT denied in Cluster mode."), null;
      if (!readsAll) {
        return c.error("ERR GET option of SORT denied due to insufficient ACL permissions."), null;
      }
      o.gets.push(argv[++j]!);
    } else return c.error(ERR.syntax), null;
  }
  return o;
}

/**
 * The value a pattern names for an element: "#" is the element itself; otherwise the first
 * "*" becomes the element and a "->field" after it reads a hash field. Null when there is no
 * such string (or hash field), or the pattern has no "*".
 */
function lookupByPattern(
  s: Engine,
  c: ClientState,
  pattern: string,
  element: string,
): string | null {
  const p = cstr(pattern);
  if (p === "#") return element;
  const star = p.indexOf("*");
  if (star < 0) return null;
  const arrow = p.indexOf("->", star + 1);
  // The field runs to the end of the whole argument (past a NUL); the key part stops before "->".
  const hasField = arrow >= 0 && arrow + 2 < p.length;
  const fieldLen = hasField ? pattern.length - arrow - 2 : 0;
  const field = hasField ? pattern.slice(arrow + 2) : null;
  const postfixLen = pattern.length - star - 1 - (hasField ? fieldLen + 2 : 0);
  const key = pattern.slice(0, star) + element + pattern.slice(star + 1, star + 1 + postfixLen);
  const e = lookupRead(s, c, key, true);
  if (e === undefined) return null;
  const v = e.value;
  if (field !== null) {
    if (typeof v === "string" || v.type !== "hash") return null;
    return (v as HashValue).get(field) ?? null;
  }
  return typeof v === "string" ? v : null;
}

const STRTOD = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
const STRTOD_INF = /^[+-]?inf(inity)?$/i;
const STRTOD_HEX = /^([+-]?)0x([0-9a-f]*)(?:\.([0-9a-f]*))?(?:p([+-]?\d+))?$/i;

/**
 * strtod over a C string that must be consumed to its end: leading whitespace skipped, an
 * empty string is 0, NaN and range errors (overflow, underflow) refused. Null when invalid.
 */
function sortScore(value: string): number | null {
  const t = cstr(value).replace(/^[\t\n\v\f\r ]+/, "");
  if (t === "") return 0;
  if (STRTOD.test(t)) {
    const d = Number(t);
    if (!Number.isFinite(d)) return null;
    if (d === 0 && /[1-9]/.test(t.replace(/e.*$/i, ""))) return null;
    return d;
  }
  if (STRTOD_INF.test(t)) return t[0] === "-" ? -Infinity : Infinity;
  const h = STRTOD_HEX.exec(t);
  if (h && (h[2] || h[3])) {
    const frac = h[3] ?? "";
    const v = parseInt((h[2] ?? "") + frac, 16) * 2 ** (Number(h[4] ?? "0") - 4 * frac.length);
    if (!Number.isFinite(v)) return null;
    return h[1] === "-" ? -v : v;
  }
  return null;
}

/** Byte order, as memcmp over the shorter length then by length. */
function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** strcoll in the C locale: byte order up to the first NUL. */
function compareCStrings(a: string, b: string): number {
  return compareBytes(cstr(a), cstr(b));
}

interface Item {
  el: string;
  score: number;
  cmp: string | null;
}

function sortGeneric(s: Engine, c: ClientState, argv: string[], readonly: boolean): void {
  const o = parseOptions(s, c, argv, readonly);
  if (o === null) return;
  const e = lookupRead(s, c, argv[1]!, true);
  const v = e?.value;
  if (typeof v === "string" || (v && v.type !== "list" && v.type !== "set" && v.type !== "zset")) {
    return c.error(ERR.wrongType);
  }
  const type = v?.type ?? "list";
  // A set's order is its hash table's: with STORE, or for a script, it is sorted (ALPHA) so
  // that replicas and the script's effects agree.
  if (o.dontSort && type === "set" && (o.store !== null || c === s.scripting.client)) {
    o.dontSort = false;
    o.alpha = true;
    o.by = null;
  }
  // Redis converts a compact sorted set to a skiplist to sort it, for good.
  if (v && type === "zset") (v as ZSetValue).toSkiplist();
  const len = v === undefined
    ? 0
    : type === "list"
    ? (v as ListValue).length
    : type === "set"
    ? (v as SetValue).size
    : (v as ZSetValue).size;
  let start = o.start < 0 ? 0 : o.start;
  let end = o.count < 0 ? len - 1 : start + o.count - 1;
  if (start >= len) {
    start = len - 1;
    end = len - 2;
  }
  if (end >= len) end = len - 1;
  let items: Item[];
  if (o.dontSort && type !== "set") {
    // Lists and sorted sets keep their own order; only the LIMIT range is read.
    items = directRange(v as ListValue | ZSetValue | undefined, type, start, end, o.desc);
    end -= start;
    start = 0;
  } else {
    items = loadAll(v as ListValue | SetValue | ZSetValue | undefined, type);
  }
  if (!o.dontSort && !scoreItems(s, c, items, o)) {
    return sortedReply(s, c, o, items, start, end, true);
  }
  if (!o.dontSort) sortItems(items, o);
  sortedReply(s, c, o, items, start, end, false);
}

function directRange(
  v: ListValue | ZSetValue | undefined,
  type: string,
  start: number,
  end: number,
  desc: boolean,
): Item[] {
  if (v === undefined || end < start) return [];
  const n = type === "list" ? (v as ListValue).length : (v as ZSetValue).size;
  const from = desc ? n - 1 - end : start, to = desc ? n - 1 - start : end;
  const els: string[] = type === "list"
    ? [...(v as ListValue).range(from, to)]
    : [...(v as ZSetValue).rangeByRank(from, to)].map(([m]) => m);
  if (desc) els.reverse();
  return els.map((el) => ({ el, score: 0, cmp: null }));
}

function loadAll(v: ListValue | SetValue | ZSetValue | undefined, type: string): Item[] {
  if (v === undefined) return [];
  const els = type === "list"
    ? (v as ListValue).toArray()
    : type === "set"
    ? (v as SetValue).members()
    : (v as ZSetValue).members();
  return els.map((el) => ({ el, score: 0, cmp: null }));
}

/** Loads each element's sort key; false when a numeric key is not a double. */
function scoreItems(s: Engine, c: ClientState, items: Item[], o: Options): boolean {
  let ok = true;
  for (const it of items) {
    let by: string | null = it.el;
    if (o.by !== null) {
      by = lookupByPattern(s, c, o.by, it.el);
      if (by === null) continue;
    }
    if (o.alpha) {
      if (o.by !== null) it.cmp = by;
    } else {
      const sc = sortScore(by);
      if (sc === null) ok = false;
      else it.score = sc;
    }
  }
  return ok;
}

function sortItems(items: Item[], o: Options): void {
  const byPattern = o.by !== null, store = o.store !== null;
  const cmp = (a: Item, b: Item): number => {
    let r: number;
    if (!o.alpha) {
      r = a.score > b.score ? 1 : a.score < b.score ? -1 : compareBytes(a.el, b.el);
    } else if (byPattern) {
      if (a.cmp === null || b.cmp === null) r = a.cmp === b.cmp ? 0 : a.cmp === null ? -1 : 1;
      else r = store ? compareBytes(a.cmp, b.cmp) : compareCStrings(a.cmp, b.cmp);
    } else {
      r = store ? compareBytes(a.el, b.el) : compareCStrings(a.el, b.el);
    }
    return o.desc ? -r : r;
  };
  items.sort(cmp);
}

function sortedReply(
  s: Engine,
  c: ClientState,
  o: Options,
  items: Item[],
  start: number,
  end: number,
  badScore: boolean,
): void {
  const n = Math.max(0, end - start + 1);
  const outputLen = o.gets.length ? o.gets.length * n : n;
  if (badScore) return c.error(SCORE_ERR);
  if (o.store === null) {
    c.out.array(outputLen);
    for (let j = start; j <= end; j++) {
      const el = items[j]!.el;
      if (!o.gets.length) c.out.bulk(el);
      for (const g of o.gets) {
        const val = lookupByPattern(s, c, g, el);
        if (val === null) c.out.nullBulk();
        else c.out.bulk(val);
      }
    }
    return;
  }
  const fill = s.config.get<number>("list-max-listpack-size");
  const list = new ListValue();
  for (let j = start; j <= end; j++) {
    const el = items[j]!.el;
    if (!o.gets.length) list.pushTail(el, fill);
    for (const g of o.gets) list.pushTail(lookupByPattern(s, c, g, el) ?? "", fill);
  }
  if (outputLen > 0) {
    c.db.set(o.store, list);
    s.notify(NOTIFY.LIST, "sortstore", o.store, c.db.id);
    s.dirty += outputLen;
  } else if (c.db.delete(o.store)) {
    // An empty result deletes the destination, as in Redis.
    s.notify(NOTIFY.GENERIC, "del", o.store, c.db.id);
    s.dirty++;
  }
  c.out.int(outputLen);
}

/** SORT's keys: the sorted key and, as Redis's finder reads them, the last STORE's argument. */
function sortKeys(argv: string[]): number[] {
  const skip: Record<string, number> = { limit: 2, get: 1, by: 1 };
  let store = -1;
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i]!.toLowerCase();
    const n = skip[a];
    if (n !== undefined) i += n;
    else if (a === "store" && i + 1 < argv.length) store = ++i;
  }
  return store < 0 ? [1] : [1, store];
}

const m = (summary: string, since: string) => ({
  summary,
  since,
  complexity:
    "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).",
});

const sortDef = cmd(
  "sort",
  -2,
  "write denyoom movablekeys",
  [1, 1, 1],
  "generic",
  (s, c, argv) => sortGeneric(s, c, argv, false),
  {
    ...m(
      "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.",
      "1.0.0",
    ),
    acl: ["set", "sortedset", "list", "dangerous", "-keyspace"],
  },
);
sortDef.findKeys = sortKeys;

export const SORT_COMMANDS: CommandDef[] = [
  sortDef,
  cmd(
    "sort_ro",
    -2,
    "readonly movablekeys",
    [1, 1, 1],
    "generic",
    (s, c, argv) => sortGeneric(s, c, argv, true),
    {
      ...m("Returns the sorted elements of a list, a set, or a sorted set.", "7.0.0"),
      acl: ["set", "sortedset", "list", "dangerous", "-keyspace"],
    },
  ),
];
