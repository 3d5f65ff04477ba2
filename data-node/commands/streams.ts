/**
 * Stream commands (Redis 7.0): XADD, XRANGE, XREVRANGE, XLEN, XDEL, XTRIM, XREAD, XSETID,
 * consumer groups (XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM) and XINFO.
 *
 * Effects replicate as Redis 7.0 sends them: XADD with `*` as the ID it generated, approximate
 * trimming as exact trimming to the resulting length or first ID, and group reads and claims as
 * one idempotent XCLAIM per entry (with TIME, RETRYCOUNT, FORCE, JUSTID and LASTID) or an
 * XGROUP SETID.
 */
import type { ClientState, Engine } from "../engine/types.ts";
import { PROPAGATED } from "../engine/call.ts";
import {
  Consumer,
  type ConsumerGroup,
  formatId,
  ID_MAX,
  type IdMap,
  INVALID_ENTRIES_READ,
  type Nack,
  type NodeLimits,
  parseStreamId,
  SEQ_MASK,
  StreamValue,
  type TrimArgs,
} from "../store/stream.ts";
import { ConsumerGroup as Group } from "../store/stream.ts";
import { cmd, container, ERR, parseI64, replyHelp, subcommandSyntaxError } from "./define.ts";
import { parseMsTimeout } from "./block.ts";
import { readAggregate, REPLIED } from "./access.ts";
import type { CommandDef, Handler } from "./types.ts";
import { wrongArity } from "../../shared/errors.ts";
import { NOTIFY } from "../engine/notify.ts";
import { cstr } from "../../shared/cstr.ts";

const INVALID_ID = "ERR Invalid stream ID specified as stream command argument";
const XREAD_BLOCKED_DEFAULT_COUNT = 1000;

/** `read`: a write command's lookup that Redis makes as a read (see keyMiss). */
function readStream(
  s: Engine,
  c: ClientState,
  key: string,
  read = false,
): StreamValue | null | typeof REPLIED {
  return readAggregate<StreamValue>(s, c, key, "stream", read);
}

function nodeLimits(s: Engine): NodeLimits {
  return {
    maxBytes: s.config.get<number>("stream-node-max-bytes"),
    maxEntries: s.config.get<number>("stream-node-max-entries"),
  };
}

/** getLongLongFromObjectOrReply: a 64-bit integer (as a JS number, clamped), or null after the error. */
function longArg(c: ClientState, arg: string, msg: string = ERR.notInt): number | null {
  const n = parseI64(arg);
  if (n === null) {
    c.error(msg);
    return null;
  }
  return Number(n);
}

/** A strict ID (no `-` / `+`), or null after the error. */
function strictId(c: ClientState, arg: string, missingSeq = 0n): bigint | null {
  const p = parseStreamId(arg, missingSeq, true);
  if (!p) {
    c.error(INVALID_ID);
    return null;
  }
  return p.id;
}

/** An interval bound: `-`, `+`, an ID, or `(ID` (exclusive; strict). */
function intervalId(
  c: ClientState,
  arg: string,
  missingSeq: bigint,
): { id: bigint; excl: boolean } | null {
  const excl = arg.length > 1 && arg[0] === "(";
  const p = excl
    ? parseStreamId(arg.slice(1), missingSeq, true)
    : parseStreamId(arg, missingSeq, false);
  if (!p) {
    c.error(INVALID_ID);
    return null;
  }
  return { id: p.id, excl };
}

function replyId(c: ClientState, id: bigint): void {
  c.out.bulk(formatId(id));
}

function replyEntry(c: ClientState, id: bigint, fields: string[]): void {
  c.out.array(2);
  replyId(c, id);
  c.out.array(fields.length);
  for (const f of fields) c.out.bulk(f);
}

// ---- XADD / XTRIM ----

interface AddTrimArgs {
  trim: TrimArgs | null;
  /** Index of the trim argument (count or ID), for the rewritten propagation. */
  trimArgIdx: number;
  noMkstream: boolean;
  id: { id: bigint; seqGiven: boolean } | null;
  idPos: number;
}

function parseAddOrTrim(
  s: Engine,
  c: ClientState,
  argv: string[],
  xadd: boolean,
): AddTrimArgs | null {
  const a: AddTrimArgs = { trim: null, trimArgIdx: 0, noMkstream: false, id: null, idPos: 0 };
  let strategy: "maxlen" | "minid" | null = null;
  let approx = false, maxlen = 0, minid = 0n, limit = 0, limitGiven = false;
  let i = 2;
  for (; i < argv.length; i++) {
    const more = argv.length - 1 - i;
    const opt = argv[i]!;
    // Options are matched as C strings, up to a NUL byte ("*\0x" is "*"), as Redis does.
    const lower = cstr(opt).toLowerCase();
    if (xadd && lower === "*") break;
    if ((lower === "maxlen" || lower === "minid") && more) {
      if (strategy) {
        c.error("ERR syntax error, MAXLEN and MINID options at the same time are not compatible");
        return null;
      }
      approx = false;
      const next = argv[i + 1]!;
      if (more >= 2 && cstr(next) === "~") {
        approx = true;
        i++;
      } else if (more >= 2 && cstr(next) === "=") i++;
      if (lower === "maxlen") {
        const n = longArg(c, argv[i + 1]!);
        if (n === null) return null;
        if (n < 0) {
          c.error("ERR The MAXLEN argument must be >= 0.");
          return null;
        }
        maxlen = n;
      } else {
        const id = strictId(c, argv[i + 1]!);
        if (id === null) return null;
        minid = id;
      }
      i++;
      strategy = lower;
      a.trimArgIdx = i;
    } else if (lower === "limit" && more) {
      const n = longArg(c, argv[i + 1]!);
      if (n === null) return null;
      if (n < 0) {
        c.error("ERR The LIMIT argument must be >= 0.");
        return null;
      }
      limit = n;
      limitGiven = true;
      i++;
    } else if (xadd && lower === "nomkstream") {
      a.noMkstream = true;
    } else if (xadd) {
      const p = parseStreamId(opt, 0n, true, true);
      if (!p) {
        c.error(INVALID_ID);
        return null;
      }
      a.id = p;
      break;
    } else {
      c.error(ERR.syntax);
      return null;
    }
  }
  a.idPos = i;
  if (limit && !strategy) {
    c.error("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy");
    return null;
  }
  if (!xadd && !strategy) {
    c.error("ERR syntax error, XTRIM must be called with a trimming strategy");
    return null;
  }
  if (c.trusted) limit = 0;
  else if (limitGiven) {
    if (!approx) {
      c.error("ERR syntax error, LIMIT cannot be used without the special ~ option");
      return null;
    }
  } else if (approx) {
    limit = 100 * s.config.get<number>("stream-node-max-entries");
    if (limit <= 0) limit = 10000;
    if (limit > 1000000) limit = 1000000;
  } else limit = 0;
  if (strategy) a.trim = { strategy, maxlen, minid, approx, limit };
  return a;
}

/** The propagated form of a command whose approximate trim ran: exact, to where it got. */
function rewriteTrim(argv: string[], st: StreamValue, a: AddTrimArgs): string[] {
  const out = [...argv];
  out[a.trimArgIdx - 1] = "=";
  out[a.trimArgIdx] = a.trim!.strategy === "maxlen" ? String(st.length) : formatId(st.edgeId(true));
  return out;
}

function xadd(s: Engine, c: ClientState, argv: string[]): void {
  const a = parseAddOrTrim(s, c, argv, true);
  if (!a) return;
  const fieldPos = a.idPos + 1;
  const nf = argv.length - fieldPos;
  if (nf < 2 || nf % 2 === 1) return c.error(wrongArity("xadd"));
  if (a.id && a.id.seqGiven && a.id.id === 0n) {
    return c.error("ERR The ID specified in XADD must be greater than 0-0");
  }
  const key = argv[1]!;
  let st = readStream(s, c, key);
  if (st === REPLIED) return;
  if (st === null) {
    if (a.noMkstream) return c.out.nullBulk();
    st = new StreamValue();
    c.db.set(key, st);
  }
  if (st.lastId === ID_MAX) {
    return c.error("ERR The stream has exhausted the last possible ID, unable to add more items");
  }
  const fields = argv.slice(fieldPos);
  const id = st.nextId(a.id, s.nowMs);
  if (id === null || id <= st.lastId) {
    return c.error(
      "ERR The ID specified in XADD is equal or smaller than the target stream top item",
    );
  }
  let total = 0;
  for (const f of fields) total += f.length;
  if (total > 1 << 30) return c.error("ERR Elements are too large to be stored");
  st.append(id, fields, nodeLimits(s));
  const idText = formatId(id);
  c.out.bulk(idText);
  c.db.signalModified(key);
  s.notify(NOTIFY.STREAM, "xadd", key, c.db.id);
  s.dirty++;
  let effect = argv;
  if (a.trim) {
    if (st.trim(a.trim)) s.notify(NOTIFY.STREAM, "xtrim", key, c.db.id);
    if (a.trim.approx) effect = rewriteTrim(argv, st, a);
  }
  if (!a.id || !a.id.seqGiven) {
    // A generated ID (or sequence) replicates as the ID it became.
    if (effect === argv) effect = [...argv];
    effect[a.idPos] = idText;
  }
  if (effect !== argv) c.rewrittenArgv = effect;
  // Trimming changed the value after the signal above: the estimate follows.
  if (a.trim) c.db.changedUnsignalled(key);
}

function xtrim(s: Engine, c: ClientState, argv: string[]): void {
  const a = parseAddOrTrim(s, c, argv, false);
  if (!a) return;
  const st = readStream(s, c, argv[1]!);
  if (st === REPLIED) return;
  if (st === null) return c.out.int(0);
  const deleted = st.trim(a.trim!);
  if (deleted) {
    s.notify(NOTIFY.STREAM, "xtrim", argv[1]!, c.db.id);
    if (a.trim!.approx) c.rewrittenArgv = rewriteTrim(argv, st, a);
    c.db.signalModified(argv[1]!);
    s.dirty += deleted;
  }
  c.out.int(deleted);
}

// ---- Reads ----

function xrangeGeneric(rev: boolean) {
  return (s: Engine, c: ClientState, argv: string[]): void => {
    const startArg = rev ? argv[3]! : argv[2]!, endArg = rev ? argv[2]! : argv[3]!;
    const st0 = intervalId(c, startArg, 0n);
    if (!st0) return;
    let start = st0.id;
    if (st0.excl) {
      if (start === ID_MAX) return c.error("ERR invalid start ID for the interval");
      start++;
    }
    const en0 = intervalId(c, endArg, SEQ_MASK);
    if (!en0) return;
    let end = en0.id;
    if (en0.excl) {
      if (end === 0n) return c.error("ERR invalid end ID for the interval");
      end--;
    }
    let count = -1;
    for (let j = 4; j < argv.length; j++) {
      if (argv[j]!.toLowerCase() === "count" && j + 1 < argv.length) {
        const n = longArg(c, argv[j + 1]!);
        if (n === null) return;
        count = n < 0 ? 0 : n;
        j++;
      } else return c.error(ERR.syntax);
    }
    const st = readStream(s, c, argv[1]!);
    if (st === REPLIED) return;
    if (st === null) return c.out.array(0);
    if (count === 0) return c.out.nullArray();
    const entries = st.range(start, end, count === -1 ? 0 : count, rev);
    c.out.array(entries.length);
    for (const [id, f] of entries) replyEntry(c, id, f);
  };
}

function xlen(s: Engine, c: ClientState, argv: string[]): void {
  const st = readStream(s, c, argv[1]!);
  if (st === REPLIED) return;
  c.out.int(st === null ? 0 : st.length);
}

function xdel(s: Engine, c: ClientState, argv: string[]): void {
  const st = readStream(s, c, argv[1]!);
  if (st === REPLIED) return;
  if (st === null) return c.out.int(0);
  const ids: bigint[] = [];
  for (let j = 2; j < argv.length; j++) {
    const id = strictId(c, argv[j]!);
    if (id === null) return;
    ids.push(id);
  }
  let deleted = 0;
  for (const id of ids) if (st.delete(id)) deleted++;
  if (deleted) {
    c.db.signalModified(argv[1]!);
    s.notify(NOTIFY.STREAM, "xdel", argv[1]!, c.db.id);
    s.dirty += deleted;
  }
  c.out.int(deleted);
}

// ---- XREAD / XREADGROUP ----

interface ReadArgs {
  group: string | null;
  consumer: string;
  noack: boolean;
  count: number;
  timeoutMs: number;
  keys: string[];
  /** Per key: read after this ID (ID_MAX with a group means `>`). */
  ids: bigint[];
  groups: (ConsumerGroup | null)[];
}

/** One stream's part of a reply: key and entries (null fields: a deleted pending entry). */
type Served = [string, [bigint, string[] | null][]];

function parseRead(s: Engine, c: ClientState, argv: string[], xreadgroup: boolean) {
  let timeout = -1, count = 0, streamsArg = 0, nStreams = 0, noack = false;
  let group: string | null = null, consumer = "";
  for (let i = 1; i < argv.length; i++) {
    const more = argv.length - i - 1;
    const o = argv[i]!.toLowerCase();
    if (o === "block" && more) {
      // Scripts cannot block, and Redis says so rather than reading without BLOCK.
      if (c === s.scripting.client) {
        return c.error(`ERR ${argv[0]} command is not allowed with BLOCK option from scripts`),
          null;
      }
      i++;
      const t = parseMsTimeout(argv[i]!, s.nowMs);
      if (typeof t === "string") return c.error(t), null;
      // A deadline past INT64_MAX never comes in Redis (see parseBlockingTimeout).
      timeout = t.wraps ? 0 : t.ms;
    } else if (o === "count" && more) {
      i++;
      const n = longArg(c, argv[i]!);
      if (n === null) return null;
      count = n < 0 ? 0 : n;
    } else if (o === "streams" && more) {
      streamsArg = i + 1;
      nStreams = argv.length - streamsArg;
      if (nStreams % 2 !== 0) {
        c.error(
          "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
        );
        return null;
      }
      nStreams /= 2;
      break;
    } else if (o === "group" && more >= 2) {
      if (!xreadgroup) {
        c.error("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.");
        return null;
      }
      group = argv[i + 1]!;
      consumer = argv[i + 2]!;
      i += 2;
    } else if (o === "noack") {
      if (!xreadgroup) {
        c.error("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.");
        return null;
      }
      noack = true;
    } else return c.error(ERR.syntax), null;
  }
  if (streamsArg === 0) return c.error(ERR.syntax), null;
  if (xreadgroup && group === null) return c.error("ERR Missing GROUP option for XREADGROUP"), null;
  const a: ReadArgs = {
    group,
    consumer,
    noack,
    count,
    timeoutMs: timeout,
    keys: argv.slice(streamsArg, streamsArg + nStreams),
    ids: [],
    groups: [],
  };
  for (let k = 0; k < nStreams; k++) {
    const key = a.keys[k]!, arg = argv[streamsArg + nStreams + k]!;
    // A read lookup (stats, key miss), as in Redis, which looks each key up again to serve it.
    const stream = readStream(s, c, key, true);
    if (stream === REPLIED) return null;
    if (group !== null) {
      const g = stream?.groups.get(group);
      if (!g) {
        c.error(
          `NOGROUP No such key '${cstr(key)}' or consumer group '${
            cstr(group)
          }' in XREADGROUP with GROUP option`,
        );
        return null;
      }
      a.groups.push(g);
    }
    if (cstr(arg) === "$") {
      if (xreadgroup) {
        c.error(
          "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
        );
        return null;
      }
      a.ids.push(stream ? stream.lastId : 0n);
      continue;
    }
    if (cstr(arg) === ">") {
      if (!xreadgroup) {
        c.error(
          "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
        );
        return null;
      }
      a.ids.push(ID_MAX);
      continue;
    }
    const id = strictId(c, arg);
    if (id === null) return null;
    a.ids.push(id);
  }
  return a;
}

/**
 * The consumer, looked up (refreshing its seen time) or created. A created one counts as dirty
 * and raises `xgroup-createconsumer` on its stream's key, as Redis's streamCreateConsumer does.
 */
function lookupOrCreateConsumer(
  s: Engine,
  g: ConsumerGroup,
  name: string,
  key: string,
  dbId: number,
): [Consumer, boolean] {
  const found = g.consumers.get(name);
  if (found) {
    found.seenTime = s.nowMs;
    return [found, false];
  }
  const { consumer } = g.consumer(name, s.nowMs);
  consumerCreated(s, key, dbId);
  return [consumer, true];
}

function consumerCreated(s: Engine, key: string, dbId: number): void {
  s.dirty++;
  s.notify(NOTIFY.STREAM, "xgroup-createconsumer", key, dbId);
}

function xclaimArgv(key: string, group: ConsumerGroup, idArg: string, n: Nack): string[] {
  return [
    "XCLAIM",
    key,
    group.name,
    n.consumer.name,
    "0",
    idArg,
    "TIME",
    String(n.time),
    "RETRYCOUNT",
    String(n.count),
    "FORCE",
    "JUSTID",
    "LASTID",
    formatId(group.lastId),
  ];
}

function setIdArgv(key: string, g: ConsumerGroup): string[] {
  return ["XGROUP", "SETID", key, g.name, formatId(g.lastId), "ENTRIESREAD", String(g.entriesRead)];
}

/**
 * Serves one stream for XREAD / XREADGROUP, after `gt`: entries (delivered to the group, with
 * their PEL bookkeeping and propagation), or the consumer's history when `history`.
 */
function serveStream(
  s: Engine,
  dbId: number,
  key: string,
  st: StreamValue,
  gt: bigint,
  count: number,
  g: ConsumerGroup | null,
  consumerName: string,
  noack: boolean,
  history: boolean,
): Served {
  const out: [bigint, string[] | null][] = [];
  if (!g) {
    for (const e of st.range(gt + 1n, ID_MAX, count)) out.push(e);
    return [key, out];
  }
  const [consumer, created] = lookupOrCreateConsumer(s, g, consumerName, key, dbId);
  if (created && noack) {
    s.propagation.also(dbId, ["XGROUP", "CREATECONSUMER", key, g.name, consumerName]);
  }
  if (history) {
    const ids = consumer.pel.range(gt + 1n, ID_MAX);
    for (const id of ids) {
      if (count && out.length >= count) break;
      const f = st.get(id);
      if (f === undefined) out.push([id, null]);
      else {
        const n = consumer.pel.get(id)!;
        n.time = s.nowMs;
        n.count++;
        out.push([id, f]);
      }
    }
    return [key, out];
  }
  let propagateLastId = false;
  for (const [id, f] of st.range(gt + 1n, ID_MAX, count)) {
    if (id > g.lastId) {
      st.advanceGroup(g, id);
      if (noack) propagateLastId = true;
    }
    out.push([id, f]);
    if (!noack) {
      let n = g.pel.get(id);
      if (!n) {
        n = { id, time: s.nowMs, count: 1, consumer };
        g.pel.set(id, n);
        consumer.pel.set(id, n);
      } else {
        n.consumer.pel.delete(id);
        n.consumer = consumer;
        n.time = s.nowMs;
        n.count = 1;
        consumer.pel.set(id, n);
      }
      // The XCLAIM that replicates the delivery is only built when someone takes it.
      if (s.propagation.wanted) s.propagation.also(dbId, xclaimArgv(key, g, formatId(id), n));
    }
  }
  if (propagateLastId) s.propagation.also(dbId, setIdArgv(key, g));
  return [key, out];
}

function replyServed(c: ClientState, served: Served[]): void {
  if (c.proto === 2) c.out.array(served.length);
  else c.out.map(served.length);
  for (const [key, entries] of served) {
    if (c.proto === 2) c.out.array(2);
    c.out.bulk(key);
    c.out.array(entries.length);
    for (const [id, f] of entries) {
      if (f === null) {
        c.out.array(2);
        replyId(c, id);
        c.out.nullArray();
      } else replyEntry(c, id, f);
    }
  }
}

function xreadGeneric(xreadgroup: boolean) {
  return (s: Engine, c: ClientState, argv: string[]): void | Promise<void> => {
    const a = parseRead(s, c, argv, xreadgroup);
    if (!a) return;
    const served: Served[] = [];
    const dbId = c.db.id;
    for (let i = 0; i < a.keys.length; i++) {
      const key = a.keys[i]!;
      const st = readStream(s, c, key, true);
      if (st === REPLIED) return;
      if (st === null) continue;
      let gt = a.ids[i]!;
      const g = a.groups[i] ?? null;
      let sync = false, history = false;
      if (g) {
        if (gt !== ID_MAX) sync = history = true;
        else if (st.length && st.edgeId(false) > g.lastId) {
          sync = true;
          gt = g.lastId;
        }
      } else if (st.length && st.edgeId(false) > gt) sync = true;
      if (!sync) continue;
      served.push(serveStream(s, dbId, key, st, gt, a.count, g, a.consumer, a.noack, history));
      if (g) {
        s.dirty++;
        // Group reads change the group's bookkeeping, which Redis does not signal.
        c.db.changedUnsignalled(key);
      }
    }
    if (xreadgroup) c.rewrittenArgv = PROPAGATED;
    if (served.length) return replyServed(c, served);
    if (a.timeoutMs === -1 || c.inExec) return c.out.nullArray();
    return blockRead(s, c, a);
  };
}

/** Blocks an XREAD / XREADGROUP that found nothing; an XADD (or a group's removal) wakes it. */
function blockRead(s: Engine, c: ClientState, a: ReadArgs): Promise<void> {
  const db = c.db;
  const count = a.count || XREAD_BLOCKED_DEFAULT_COUNT;
  return s.blocking.block(c, {
    db,
    keys: [...new Set(a.keys)],
    timeoutMs: a.timeoutMs,
    retry: (key) => {
      const i = a.keys.indexOf(key);
      const e = db.peek(key);
      if (!e) {
        if (a.group === null) return false;
        c.error("UNBLOCKED the stream key no longer exists");
        return true;
      }
      if (typeof e.value === "string" || e.value.type !== "stream") {
        // Overwritten by another type (SET, or DEL then SADD): the group is gone with the
        // stream, so XREADGROUP is woken with an error as in Redis; XREAD keeps waiting.
        if (a.group === null) return false;
        c.error("UNBLOCKED the stream key no longer exists");
        return true;
      }
      const st = e.value as StreamValue;
      let g: ConsumerGroup | null = null;
      if (a.group !== null) {
        g = st.groups.get(a.group) ?? null;
        if (!g) {
          c.error("NOGROUP the consumer group this client was blocked on no longer exists");
          return true;
        }
      }
      // A group reads after its last delivered ID, whatever it is by now.
      const gt = g ? g.lastId : a.ids[i]!;
      if (!(st.lastId > gt)) return false;
      s.propagation.enter();
      try {
        const served = serveStream(s, db.id, key, st, gt, count, g, a.consumer, a.noack, false);
        replyServed(c, [served]);
      } finally {
        s.propagation.exit();
      }
      return true;
    },
    onTimeout: () => c.out.nullArray(),
  });
}

// ---- XSETID ----

function xsetid(s: Engine, c: ClientState, argv: string[]): void {
  const id = strictId(c, argv[2]!);
  if (id === null) return;
  let entriesAdded = -1, maxDel = 0n;
  for (let i = 3; i < argv.length;) {
    const more = argv.length - 1 - i;
    const opt = argv[i]!.toLowerCase();
    if (opt === "entriesadded" && more) {
      const n = longArg(c, argv[i + 1]!);
      if (n === null) return;
      if (n < 0) return c.error("ERR entries_added must be positive");
      entriesAdded = n;
      i += 2;
    } else if (opt === "maxdeletedid" && more) {
      const m = strictId(c, argv[i + 1]!);
      if (m === null) return;
      if (id < m) {
        return c.error(
          "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
        );
      }
      maxDel = m;
      i += 2;
    } else return c.error(ERR.syntax);
  }
  const st = readStream(s, c, argv[1]!);
  if (st === REPLIED) return;
  if (st === null) return c.error(ERR.noSuchKey);
  if (st.length > 0) {
    if (id < st.edgeId(false)) {
      return c.error("ERR The ID specified in XSETID is smaller than the target stream top item");
    }
    if (entriesAdded !== -1 && st.length > entriesAdded) {
      return c.error(
        "ERR The entries_added specified in XSETID is smaller than the target stream length",
      );
    }
  }
  st.lastId = id;
  if (entriesAdded !== -1) st.entriesAdded = entriesAdded;
  if (maxDel !== 0n) st.maxDeletedId = maxDel;
  c.out.ok();
  s.dirty++;
  // As in Redis 7.0, no modification signal: WATCH and client-side caching are not told.
  c.db.changedUnsignalled(argv[1]!);
  s.notify(NOTIFY.STREAM, "xsetid", argv[1]!, c.db.id);
}

// ---- XGROUP ----

const XGROUP_HELP = [
  "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "CREATE <key> <groupname> <id|$> [option]",
  "    Create a new consumer group. Options are:",
  "    * MKSTREAM",
  "      Create the empty stream if it does not exist.",
  "    * ENTRIESREAD entries_read",
  "      Set the group's entries_read counter (internal use).",
  "CREATECONSUMER <key> <groupname> <consumer>",
  "    Create a new consumer in the specified group.",
  "DELCONSUMER <key> <groupname> <consumer>",
  "    Remove the specified consumer.",
  "DESTROY <key> <groupname>",
  "    Remove the specified group.",
  "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
  "    Set the current group ID and entries_read counter.",
  "HELP",
  "    Prints this help.",
];

function xgroup(s: Engine, c: ClientState, argv: string[]): void {
  const sub = argv[1]!.toLowerCase();
  let mkstream = false, entriesRead = INVALID_ENTRIES_READ;
  let st: StreamValue | null = null, g: ConsumerGroup | undefined;
  const key = argv[2]!, name = argv[3]!;
  if (argv.length >= 4) {
    const create = sub === "create", setid = sub === "setid";
    for (let i = 5; i < argv.length;) {
      const o = argv[i]!.toLowerCase();
      if (create && o === "mkstream") {
        mkstream = true;
        i++;
      } else if ((create || setid) && o === "entriesread" && i + 1 < argv.length) {
        const n = longArg(c, argv[i + 1]!);
        if (n === null) return;
        if (n < 0 && n !== INVALID_ENTRIES_READ) {
          return c.error("ERR value for ENTRIESREAD must be positive or -1");
        }
        entriesRead = n;
        i += 2;
      } else return subcommandSyntaxError(c, argv, "XGROUP");
    }
    const e = c.db.lookup(key);
    if (e !== undefined) {
      if (typeof e.value === "string" || e.value.type !== "stream") {
        return c.error(ERR.wrongType);
      }
      st = e.value as StreamValue;
    }
  }
  if (argv.length >= 4 && !mkstream) {
    if (st === null) {
      return c.error(
        "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
      );
    }
    g = st.groups.get(name);
    if (!g && (sub === "setid" || sub === "createconsumer" || sub === "delconsumer")) {
      return c.error(`NOGROUP No such consumer group '${cstr(name)}' for key name '${cstr(key)}'`);
    }
  }
  if (sub === "create" && argv.length >= 5 && argv.length <= 8) {
    let id: bigint;
    if (cstr(argv[4]!) === "$") id = st ? st.lastId : 0n;
    else {
      const p = strictId(c, argv[4]!);
      if (p === null) return;
      id = p;
    }
    if (st === null) {
      st = new StreamValue();
      c.db.set(key, st);
    }
    if (st.groups.has(name)) return c.error("BUSYGROUP Consumer Group name already exists");
    st.groups.set(name, new Group(name, id, entriesRead));
    c.out.ok();
    s.dirty++;
    // Only creating the stream (MKSTREAM) counts as a modification of the key, as in Redis.
    c.db.changedUnsignalled(key);
    s.notify(NOTIFY.STREAM, "xgroup-create", key, c.db.id);
  } else if (sub === "setid" && (argv.length === 5 || argv.length === 7)) {
    let id: bigint;
    if (cstr(argv[4]!) === "$") id = st!.lastId;
    else {
      const p = parseStreamId(argv[4]!, 0n, false);
      if (!p) return c.error(INVALID_ID);
      id = p.id;
    }
    g!.lastId = id;
    g!.entriesRead = entriesRead;
    c.out.ok();
    s.dirty++;
    s.notify(NOTIFY.STREAM, "xgroup-setid", key, c.db.id);
  } else if (sub === "destroy" && argv.length === 4) {
    if (g) {
      st!.groups.delete(name);
      c.out.int(1);
      s.dirty++;
      c.db.changedUnsignalled(key);
      s.notify(NOTIFY.STREAM, "xgroup-destroy", key, c.db.id);
      // Clients blocked in XREADGROUP on this group are woken (to fail with NOGROUP); the key
      // is not otherwise signalled as modified.
      s.blocking.keyModified(c.db, key);
    } else c.out.int(0);
  } else if (sub === "createconsumer" && argv.length === 5) {
    const { created } = g!.consumer(argv[4]!, s.nowMs);
    if (created) {
      consumerCreated(s, key, c.db.id);
      c.db.changedUnsignalled(key);
    }
    c.out.int(created ? 1 : 0);
  } else if (sub === "delconsumer" && argv.length === 5) {
    let pending = 0;
    if (g!.consumers.has(argv[4]!)) {
      pending = g!.deleteConsumer(argv[4]!);
      s.dirty++;
      c.db.changedUnsignalled(key);
      s.notify(NOTIFY.STREAM, "xgroup-delconsumer", key, c.db.id);
    }
    c.out.int(pending);
  } else subcommandSyntaxError(c, argv, "XGROUP");
}

// ---- XACK / XPENDING / XCLAIM / XAUTOCLAIM ----

function lookupGroup(
  s: Engine,
  c: ClientState,
  key: string,
  group: string,
): { st: StreamValue | null; g: ConsumerGroup | null } | null {
  // A read lookup in Redis, though XACK, XCLAIM and XAUTOCLAIM write.
  const st = readStream(s, c, key, true);
  if (st === REPLIED) return null;
  return { st, g: st?.groups.get(group) ?? null };
}

function xack(s: Engine, c: ClientState, argv: string[]): void {
  const r = lookupGroup(s, c, argv[1]!, argv[2]!);
  if (!r) return;
  if (!r.g) return c.out.int(0);
  const ids: bigint[] = [];
  for (let j = 3; j < argv.length; j++) {
    const id = strictId(c, argv[j]!);
    if (id === null) return;
    ids.push(id);
  }
  let acked = 0;
  for (const id of ids) {
    if (r.g.ack(id)) {
      acked++;
      s.dirty++;
    }
  }
  // Acknowledging raises no event and no modification signal in Redis 7.0.
  if (acked) c.db.changedUnsignalled(argv[1]!);
  c.out.int(acked);
}

function xpending(s: Engine, c: ClientState, argv: string[]): void {
  const justInfo = argv.length === 3;
  const key = argv[1]!, groupName = argv[2]!;
  if (argv.length !== 3 && (argv.length < 6 || argv.length > 9)) return c.error(ERR.syntax);
  let start = 0n, end = ID_MAX, count = 0, minIdle = 0;
  let consumerName: string | null = null;
  if (argv.length >= 6) {
    let si = 3;
    if (argv[3]!.toLowerCase() === "idle") {
      const n = longArg(c, argv[4]!);
      if (n === null) return;
      minIdle = n;
      if (argv.length < 8) return c.error(ERR.syntax);
      si += 2;
    }
    const n = longArg(c, argv[si + 2]!);
    if (n === null) return;
    count = n < 0 ? 0 : n;
    const a = intervalId(c, argv[si]!, 0n);
    if (!a) return;
    start = a.id;
    if (a.excl) {
      if (start === ID_MAX) return c.error("ERR invalid start ID for the interval");
      start++;
    }
    const b = intervalId(c, argv[si + 1]!, SEQ_MASK);
    if (!b) return;
    end = b.id;
    if (b.excl) {
      if (end === 0n) return c.error("ERR invalid end ID for the interval");
      end--;
    }
    if (si + 3 < argv.length) consumerName = argv[si + 3]!;
  }
  const r = lookupGroup(s, c, key, groupName);
  if (!r) return;
  const g = r.g;
  if (!g) {
    return c.error(`NOGROUP No such key '${cstr(key)}' or consumer group '${cstr(groupName)}'`);
  }
  if (justInfo) {
    c.out.array(4);
    c.out.int(g.pel.size);
    if (g.pel.size === 0) {
      c.out.nullBulk();
      c.out.nullBulk();
      c.out.nullArray();
      return;
    }
    replyId(c, g.pel.first()!);
    replyId(c, g.pel.last()!);
    const cs = g.consumerList().filter((x) => x.pel.size > 0);
    c.out.array(cs.length);
    for (const x of cs) {
      c.out.array(2);
      c.out.bulk(x.name);
      c.out.bulk(String(x.pel.size));
    }
    return;
  }
  let pel: IdMap<Nack> = g.pel;
  if (consumerName !== null) {
    const x = g.consumers.get(consumerName);
    if (!x) return c.out.array(0);
    pel = x.pel;
  }
  const now = s.nowMs;
  const rows: Nack[] = [];
  // With an IDLE filter the entries past `count` may be needed; without, only `count`.
  const ids = pel.range(start, end, minIdle ? Infinity : Math.max(0, count));
  for (const id of ids) {
    if (!count) break;
    const n = pel.get(id)!;
    if (minIdle && now - n.time < minIdle) continue;
    rows.push(n);
    count--;
  }
  c.out.array(rows.length);
  for (const n of rows) {
    c.out.array(4);
    replyId(c, n.id);
    c.out.bulk(n.consumer.name);
    c.out.int(Math.max(0, now - n.time));
    c.out.int(n.count);
  }
}

function xclaim(s: Engine, c: ClientState, argv: string[]): void {
  const key = argv[1]!, groupName = argv[2]!;
  const r = lookupGroup(s, c, key, groupName);
  if (!r) return;
  const { st, g } = r;
  if (!st || !g) {
    return c.error(`NOGROUP No such key '${cstr(key)}' or consumer group '${cstr(groupName)}'`);
  }
  let minIdle = longArg(c, argv[4]!, "ERR Invalid min-idle-time argument for XCLAIM");
  if (minIdle === null) return;
  if (minIdle < 0) minIdle = 0;
  const ids: bigint[] = [];
  let j = 5;
  for (; j < argv.length; j++) {
    const p = parseStreamId(argv[j]!, 0n, true);
    if (!p) break;
    ids.push(p.id);
  }
  const lastIdArg = j - 1;
  const now = s.nowMs;
  let retry = -1, delivery = -1, force = false, justId = false, lastId = 0n;
  for (; j < argv.length; j++) {
    const more = argv.length - 1 - j;
    const opt = argv[j]!.toLowerCase();
    if (opt === "force") force = true;
    else if (opt === "justid") justId = true;
    else if (opt === "idle" && more) {
      j++;
      const n = longArg(c, argv[j]!, "ERR Invalid IDLE option argument for XCLAIM");
      if (n === null) return;
      delivery = now - n;
    } else if (opt === "time" && more) {
      j++;
      const n = longArg(c, argv[j]!, "ERR Invalid TIME option argument for XCLAIM");
      if (n === null) return;
      delivery = n;
    } else if (opt === "retrycount" && more) {
      j++;
      const n = longArg(c, argv[j]!, "ERR Invalid RETRYCOUNT option argument for XCLAIM");
      if (n === null) return;
      retry = n;
    } else if (opt === "lastid" && more) {
      j++;
      const id = strictId(c, argv[j]!);
      if (id === null) return;
      lastId = id;
    } else return c.error(`ERR Unrecognized XCLAIM option '${argv[j]!}'`);
  }
  let propagateLastId = false;
  if (lastId > g.lastId) {
    g.lastId = lastId;
    propagateLastId = true;
  }
  if (delivery !== -1) {
    if (delivery < 0 || delivery > now) delivery = now;
  } else delivery = now;
  const dbId = c.db.id;
  let consumer: Consumer | null = null;
  const out: [bigint, string[] | null][] = [];
  let changed = false;
  for (let k = 5; k <= lastIdArg; k++) {
    const id = ids[k - 5]!;
    let n = g.pel.get(id);
    const fields = st.get(id);
    if (fields === undefined) {
      if (n) {
        s.propagation.also(dbId, xclaimArgv(key, g, argv[k]!, n));
        propagateLastId = false;
        s.dirty++;
        g.ack(id);
        changed = true;
      }
      continue;
    }
    let fresh = false;
    if (force && !n) {
      fresh = true;
      // A NACK is created as delivered once: with JUSTID (no increment) the count stays 1.
      n = { id, time: 0, count: 1, consumer: null as unknown as Consumer };
      g.pel.set(id, n);
    }
    if (!n) continue;
    if (!fresh && minIdle && now - n.time < minIdle) continue;
    if (!consumer) consumer = lookupOrCreateConsumer(s, g, argv[3]!, key, dbId)[0];
    if (n.consumer !== consumer && n.consumer) n.consumer.pel.delete(id);
    n.time = delivery;
    if (retry >= 0) n.count = retry;
    else if (!justId) n.count++;
    if (n.consumer !== consumer) {
      consumer.pel.set(id, n);
      n.consumer = consumer;
    }
    out.push([id, justId ? null : fields]);
    s.propagation.also(dbId, xclaimArgv(key, g, argv[k]!, n));
    propagateLastId = false;
    s.dirty++;
    changed = true;
  }
  if (propagateLastId) {
    s.propagation.also(dbId, setIdArgv(key, g));
    s.dirty++;
    changed = true;
  }
  if (changed) c.db.changedUnsignalled(key);
  c.rewrittenArgv = PROPAGATED;
  c.out.array(out.length);
  for (const [id, f] of out) {
    if (f === null) replyId(c, id);
    else replyEntry(c, id, f);
  }
}

function xautoclaim(s: Engine, c: ClientState, argv: string[]): void {
  const key = argv[1]!, groupName = argv[2]!;
  let minIdle = longArg(c, argv[4]!, "ERR Invalid min-idle-time argument for XAUTOCLAIM");
  if (minIdle === null) return;
  if (minIdle < 0) minIdle = 0;
  const sa = intervalId(c, argv[5]!, 0n);
  if (!sa) return;
  let start = sa.id;
  if (sa.excl) {
    if (start === ID_MAX) return c.error("ERR invalid start ID for the interval");
    start++;
  }
  let count = 100, justId = false;
  // LONG_MAX over the size of an ID, Redis's cap for the array of deleted IDs.
  const maxCount = (2n ** 63n - 1n) / 16n;
  for (let j = 6; j < argv.length; j++) {
    const more = argv.length - 1 - j;
    const opt = argv[j]!.toLowerCase();
    if (opt === "count" && more) {
      const n = parseI64(argv[j + 1]!);
      if (n === null || n < 1n || n > maxCount) return c.error("ERR COUNT must be > 0");
      count = Number(n);
      j++;
    } else if (opt === "justid") justId = true;
    else return c.error(ERR.syntax);
  }
  const r = lookupGroup(s, c, key, groupName);
  if (!r) return;
  const { st, g } = r;
  if (!st || !g) {
    return c.error(`NOGROUP No such key '${cstr(key)}' or consumer group '${cstr(groupName)}'`);
  }
  const now = s.nowMs;
  const dbId = c.db.id;
  let attempts = count * 10;
  let consumer: Consumer | null = null;
  const claimed: [bigint, string[] | null][] = [];
  const deleted: bigint[] = [];
  const ids = g.pel.range(start, ID_MAX);
  let idx = 0;
  for (; attempts-- > 0 && count > 0 && idx < ids.length; idx++) {
    const id = ids[idx]!;
    const n = g.pel.get(id)!;
    const fields = st.get(id);
    if (fields === undefined) {
      s.propagation.also(dbId, xclaimArgv(key, g, formatId(id), n));
      s.dirty++;
      g.ack(id);
      deleted.push(id);
      count--;
      continue;
    }
    if (minIdle && now - n.time < minIdle) continue;
    if (!consumer) consumer = lookupOrCreateConsumer(s, g, argv[3]!, key, dbId)[0];
    if (n.consumer !== consumer) n.consumer.pel.delete(id);
    n.time = now;
    if (!justId) n.count++;
    if (n.consumer !== consumer) {
      consumer.pel.set(id, n);
      n.consumer = consumer;
    }
    claimed.push([id, justId ? null : fields]);
    count--;
    s.propagation.also(dbId, xclaimArgv(key, g, formatId(id), n));
    s.dirty++;
  }
  const next = idx < ids.length ? ids[idx]! : 0n;
  if (claimed.length || deleted.length) c.db.changedUnsignalled(key);
  c.rewrittenArgv = PROPAGATED;
  c.out.array(3);
  replyId(c, next);
  c.out.array(claimed.length);
  for (const [id, f] of claimed) {
    if (f === null) replyId(c, id);
    else replyEntry(c, id, f);
  }
  c.out.array(deleted.length);
  for (const id of deleted) replyId(c, id);
}

// ---- XINFO ----

const XINFO_HELP = [
  "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "CONSUMERS <key> <groupname>",
  "    Show consumers of <groupname>.",
  "GROUPS <key>",
  "    Show the stream consumer groups.",
  "STREAM <key> [FULL [COUNT <count>]",
  "    Show information about the stream.",
  "HELP",
  "    Prints this help.",
];

/**
 * Nodes of the radix tree that would hold these 16-byte keys (sorted, distinct), as Redis's rax
 * builds it: a compressed node for each run without branching, a branch node where keys diverge,
 * and one node where each key ends.
 */
export function raxNodeCount(keys: string[]): number {
  if (keys.length === 0) return 1;
  const count = (lo: number, hi: number, depth: number): number => {
    const len = keys[lo]!.length;
    if (depth === len) return 1;
    if (hi - lo === 1) return 2;
    // The common prefix of the range from `depth` (first vs last suffices for sorted keys).
    const a = keys[lo]!, b = keys[hi - 1]!;
    let d = depth;
    while (d < len && a.charCodeAt(d) === b.charCodeAt(d)) d++;
    if (d > depth) return 1 + count(lo, hi, d);
    let n = 1;
    let i = lo;
    while (i < hi) {
      const ch = keys[i]!.charCodeAt(depth);
      let k = i + 1;
      while (k < hi && keys[k]!.charCodeAt(depth) === ch) k++;
      n += count(i, k, depth + 1);
      i = k;
    }
    return n;
  };
  return count(0, keys.length, 0);
}

function raxKey(id: bigint): string {
  let s = "";
  for (let i = 15; i >= 0; i--) s += String.fromCharCode(Number((id >> BigInt(i * 8)) & 0xffn));
  return s;
}

function replyLag(c: ClientState, st: StreamValue, g: ConsumerGroup): void {
  const lag = st.lag(g);
  if (lag === null) c.out.nullBulk();
  else c.out.int(lag);
}

function replyEntriesRead(c: ClientState, g: ConsumerGroup): void {
  if (g.entriesRead !== INVALID_ENTRIES_READ) c.out.int(g.entriesRead);
  else c.out.nullBulk();
}

function xinfoStream(s: Engine, c: ClientState, argv: string[]): void {
  const st = readStream(s, c, argv[2]!);
  if (st === REPLIED) return;
  if (st === null) return c.error(ERR.noSuchKey);
  let full = false, count = 10;
  const opts = argv.slice(3);
  if (opts.length) {
    if (opts.length !== 1 && opts.length !== 3) return subcommandSyntaxError(c, argv, "XINFO");
    if (opts[0]!.toLowerCase() !== "full") return subcommandSyntaxError(c, argv, "XINFO");
    if (opts.length === 3) {
      if (opts[1]!.toLowerCase() !== "count") return subcommandSyntaxError(c, argv, "XINFO");
      const n = longArg(c, opts[2]!);
      if (n === null) return;
      count = n < 0 ? 10 : n;
    }
    full = true;
  }
  c.out.map(full ? 9 : 10);
  c.out.bulk("length");
  c.out.int(st.length);
  c.out.bulk("radix-tree-keys");
  c.out.int(st.nodes.length);
  c.out.bulk("radix-tree-nodes");
  c.out.int(raxNodeCount(st.nodes.map((n) => raxKey(n.master))));
  c.out.bulk("last-generated-id");
  replyId(c, st.lastId);
  c.out.bulk("max-deleted-entry-id");
  replyId(c, st.maxDeletedId);
  c.out.bulk("entries-added");
  c.out.int(st.entriesAdded);
  c.out.bulk("recorded-first-entry-id");
  replyId(c, st.firstId);
  if (!full) {
    c.out.bulk("groups");
    c.out.int(st.groups.size);
    c.out.bulk("first-entry");
    const first = st.range(0n, ID_MAX, 1);
    if (first.length) replyEntry(c, first[0]![0], first[0]![1]);
    else c.out.nullBulk();
    c.out.bulk("last-entry");
    const last = st.range(0n, ID_MAX, 1, true);
    if (last.length) replyEntry(c, last[0]![0], last[0]![1]);
    else c.out.nullBulk();
    return;
  }
  c.out.bulk("entries");
  const entries = st.range(0n, ID_MAX, count);
  c.out.array(entries.length);
  for (const [id, f] of entries) replyEntry(c, id, f);
  c.out.bulk("groups");
  const groups = st.groupList();
  c.out.array(groups.length);
  for (const g of groups) {
    c.out.map(7);
    c.out.bulk("name");
    c.out.bulk(g.name);
    c.out.bulk("last-delivered-id");
    replyId(c, g.lastId);
    c.out.bulk("entries-read");
    replyEntriesRead(c, g);
    c.out.bulk("lag");
    replyLag(c, st, g);
    c.out.bulk("pel-count");
    c.out.int(g.pel.size);
    c.out.bulk("pending");
    const pids = g.pel.range(0n, ID_MAX, count || Infinity);
    c.out.array(pids.length);
    for (const id of pids) {
      const n = g.pel.get(id)!;
      c.out.array(4);
      replyId(c, id);
      c.out.bulk(n.consumer.name);
      c.out.int(n.time);
      c.out.int(n.count);
    }
    c.out.bulk("consumers");
    const cs = g.consumerList();
    c.out.array(cs.length);
    for (const x of cs) {
      c.out.map(4);
      c.out.bulk("name");
      c.out.bulk(x.name);
      c.out.bulk("seen-time");
      c.out.int(x.seenTime);
      c.out.bulk("pel-count");
      c.out.int(x.pel.size);
      c.out.bulk("pending");
      const cids = x.pel.range(0n, ID_MAX, count || Infinity);
      c.out.array(cids.length);
      for (const id of cids) {
        const n = x.pel.get(id)!;
        c.out.array(3);
        replyId(c, id);
        c.out.int(n.time);
        c.out.int(n.count);
      }
    }
  }
}

function xinfoGroups(s: Engine, c: ClientState, argv: string[]): void {
  const st = readStream(s, c, argv[2]!);
  if (st === REPLIED) return;
  if (st === null) return c.error(ERR.noSuchKey);
  const groups = st.groupList();
  c.out.array(groups.length);
  for (const g of groups) {
    c.out.map(6);
    c.out.bulk("name");
    c.out.bulk(g.name);
    c.out.bulk("consumers");
    c.out.int(g.consumers.size);
    c.out.bulk("pending");
    c.out.int(g.pel.size);
    c.out.bulk("last-delivered-id");
    replyId(c, g.lastId);
    c.out.bulk("entries-read");
    replyEntriesRead(c, g);
    c.out.bulk("lag");
    replyLag(c, st, g);
  }
}

function xinfoConsumers(s: Engine, c: ClientState, argv: string[]): void {
  const key = argv[2]!;
  const st = readStream(s, c, key);
  if (st === REPLIED) return;
  if (st === null) return c.error(ERR.noSuchKey);
  const g = st.groups.get(argv[3]!);
  if (!g) {
    return c.error(
      `NOGROUP No such consumer group '${cstr(argv[3]!)}' for key name '${cstr(key)}'`,
    );
  }
  const now = s.nowMs;
  const cs = g.consumerList();
  c.out.array(cs.length);
  for (const x of cs) {
    c.out.map(3);
    c.out.bulk("name");
    c.out.bulk(x.name);
    c.out.bulk("pending");
    c.out.int(x.pel.size);
    c.out.bulk("idle");
    c.out.int(Math.max(0, now - x.seenTime));
  }
}

// ---- Table ----

const m = (summary: string, since: string, complexity = "O(1)") => ({
  summary,
  since,
  complexity,
});

function withMovableKeys(d: CommandDef): CommandDef {
  d.flags.push("movablekeys");
  return d;
}

const sub = (
  name: string,
  arity: number,
  flags: string,
  keys: [number, number, number] | null,
  handler: Handler,
  meta: ReturnType<typeof m>,
) => cmd(name, arity, flags, keys, "stream", handler, meta);

export const STREAM_COMMANDS: CommandDef[] = [
  cmd(
    "xadd",
    -5,
    "write denyoom fast",
    [1, 1, 1],
    "stream",
    xadd,
    m(
      "Appends a new message to a stream. Creates the key if it doesn't exist.",
      "5.0.0",
      "O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted.",
    ),
  ),
  cmd(
    "xrange",
    -4,
    "readonly",
    [1, 1, 1],
    "stream",
    xrangeGeneric(false),
    m(
      "Returns the messages from a stream within a range of IDs.",
      "5.0.0",
      "O(N) with N being the number of elements being returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).",
    ),
  ),
  cmd(
    "xrevrange",
    -4,
    "readonly",
    [1, 1, 1],
    "stream",
    xrangeGeneric(true),
    m(
      "Returns the messages from a stream within a range of IDs in reverse order.",
      "5.0.0",
      "O(N) with N being the number of elements returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).",
    ),
  ),
  cmd(
    "xlen",
    2,
    "readonly fast",
    [1, 1, 1],
    "stream",
    xlen,
    m("Return the number of messages in a stream.", "5.0.0"),
  ),
  cmd(
    "xdel",
    -3,
    "write fast",
    [1, 1, 1],
    "stream",
    xdel,
    m(
      "Returns the number of messages after removing them from a stream.",
      "5.0.0",
      "O(1) for each single item to delete in the stream, regardless of the stream size.",
    ),
  ),
  cmd(
    "xtrim",
    -4,
    "write",
    [1, 1, 1],
    "stream",
    xtrim,
    m(
      "Deletes messages from the beginning of a stream.",
      "5.0.0",
      "O(N), with N being the number of evicted entries. Constant times are very small however, since entries are organized in macro nodes containing multiple entries that can be released with a single deallocation.",
    ),
  ),
  withMovableKeys(cmd(
    "xread",
    -4,
    "readonly blocking",
    null,
    "stream",
    xreadGeneric(false),
    m(
      "Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise.",
      "5.0.0",
      "",
    ),
  )),
  withMovableKeys(cmd(
    "xreadgroup",
    -7,
    "write blocking",
    null,
    "stream",
    xreadGeneric(true),
    m(
      "Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise.",
      "5.0.0",
      "For each stream mentioned: O(M) with M being the number of elements returned. If M is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1). On the other side when XREADGROUP blocks, XADD will pay the O(N) time in order to serve the N clients blocked on the stream getting new data.",
    ),
  )),
  cmd(
    "xsetid",
    -3,
    "write denyoom fast",
    [1, 1, 1],
    "stream",
    xsetid,
    m("An internal command for replicating stream values.", "5.0.0"),
  ),
  container("xgroup", "stream", [
    sub(
      "xgroup|delconsumer",
      5,
      "write",
      [2, 2, 1],
      xgroup,
      m("Deletes a consumer from a consumer group.", "5.0.0"),
    ),
    sub(
      "xgroup|setid",
      -5,
      "write",
      [2, 2, 1],
      xgroup,
      m("Sets the last-delivered ID of a consumer group.", "5.0.0"),
    ),
    sub(
      "xgroup|create",
      -5,
      "write denyoom",
      [2, 2, 1],
      xgroup,
      m("Creates a consumer group.", "5.0.0"),
    ),
    sub(
      "xgroup|createconsumer",
      5,
      "write denyoom",
      [2, 2, 1],
      xgroup,
      m("Creates a consumer in a consumer group.", "6.2.0"),
    ),
    sub(
      "xgroup|help",
      2,
      "loading stale",
      null,
      (_s, c) => replyHelp(c, XGROUP_HELP),
      m("Returns helpful text about the different subcommands.", "5.0.0"),
    ),
    sub(
      "xgroup|destroy",
      4,
      "write",
      [2, 2, 1],
      xgroup,
      m(
        "Destroys a consumer group.",
        "5.0.0",
        "O(N) where N is the number of entries in the group's pending entries list (PEL).",
      ),
    ),
  ], m("A container for consumer groups commands.", "5.0.0", "Depends on subcommand.")),
  cmd(
    "xack",
    -4,
    "write fast",
    [1, 1, 1],
    "stream",
    xack,
    m(
      "Returns the number of messages that were successfully acknowledged by the consumer group member of a stream.",
      "5.0.0",
      "O(1) for each message ID processed.",
    ),
  ),
  cmd(
    "xpending",
    -3,
    "readonly",
    [1, 1, 1],
    "stream",
    xpending,
    m(
      "Returns the information and entries from a stream consumer group's pending entries list.",
      "5.0.0",
      "O(N) with N being the number of elements returned, so asking for a small fixed number of entries per call is O(1). O(M), where M is the total number of entries scanned when used with the IDLE filter. When the command returns just the summary and the list of consumers is small, it runs in O(1) time; otherwise, an additional O(N) time for iterating every consumer.",
    ),
  ),
  cmd(
    "xclaim",
    -6,
    "write fast",
    [1, 1, 1],
    "stream",
    xclaim,
    m(
      "Changes, or acquires, ownership of a message in a consumer group, as if the message was delivered a consumer group member.",
      "5.0.0",
      "O(log N) with N being the number of messages in the PEL of the consumer group.",
    ),
  ),
  cmd(
    "xautoclaim",
    -6,
    "write fast",
    [1, 1, 1],
    "stream",
    xautoclaim,
    m(
      "Changes, or acquires, ownership of messages in a consumer group, as if the messages were delivered to as consumer group member.",
      "6.2.0",
      "O(1) if COUNT is small.",
    ),
  ),
  container("xinfo", "stream", [
    sub(
      "xinfo|groups",
      3,
      "readonly",
      [2, 2, 1],
      xinfoGroups,
      m("Returns a list of the consumer groups of a stream.", "5.0.0"),
    ),
    sub(
      "xinfo|consumers",
      4,
      "readonly",
      [2, 2, 1],
      xinfoConsumers,
      m("Returns a list of the consumers in a consumer group.", "5.0.0"),
    ),
    sub(
      "xinfo|help",
      2,
      "loading stale",
      null,
      (_s, c) => replyHelp(c, XINFO_HELP),
      m("Returns helpful text about the different subcommands.", "5.0.0"),
    ),
    sub(
      "xinfo|stream",
      -3,
      "readonly",
      [2, 2, 1],
      xinfoStream,
      m("Returns information about a stream.", "5.0.0"),
    ),
  ], m("A container for stream introspection commands.", "5.0.0", "Depends on subcommand.")),
];
