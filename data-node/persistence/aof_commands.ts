/**
 * An AOF base written as commands (`aof-use-rdb-preamble no`), as Redis's rewrite writes one:
 * FUNCTION LOAD of every library first, then per database a SELECT and, per key, the commands that
 * rebuild it (SET; RPUSH, SADD, ZADD and HMSET of at most 64 elements each; streams with XADD,
 * XSETID, XGROUP CREATE, XCLAIM ... FORCE for pending entries and XGROUP CREATECONSUMER for
 * consumers without any), followed by PEXPIREAT when the key has a TTL.
 */
import type { ByteWriter } from "./rdb.ts";
import type { Value } from "../store/types.ts";
import { ListValue } from "../store/list.ts";
import { SetValue } from "../store/set.ts";
import { ZSetValue } from "../store/zset.ts";
import { HashValue } from "../store/hash.ts";
import { formatId, StreamValue } from "../store/stream.ts";
import { encodeCommand, formatG17 } from "../../shared/resp/mod.ts";

/** Elements per command, as Redis's AOF_REWRITE_ITEMS_PER_CMD. */
const ITEMS_PER_CMD = 64;

/** One command as RESP, its arguments binary strings. */
export function writeCmd(w: ByteWriter, args: readonly string[]): void {
  w.bytes(encodeCommand(args));
}

/** `name key` followed by `items` in commands of at most ITEMS_PER_CMD elements (of `per` args). */
function batched(w: ByteWriter, name: string, key: string, items: string[], per: number): void {
  const step = ITEMS_PER_CMD * per;
  for (let i = 0; i < items.length; i += step) {
    writeCmd(w, [name, key, ...items.slice(i, i + step)]);
  }
}

/** The commands that rebuild `key` holding `v`, and its TTL. */
export function writeKeyCommands(
  w: ByteWriter,
  key: string,
  v: Value,
  expireMs: number | undefined,
): void {
  if (typeof v === "string") {
    writeCmd(w, ["SET", key, v]);
  } else if (v instanceof ListValue) {
    batched(w, "RPUSH", key, [...v.range()], 1);
  } else if (v instanceof SetValue) {
    const members: string[] = [];
    v.forEach((m) => members.push(m));
    batched(w, "SADD", key, members, 1);
  } else if (v instanceof ZSetValue) {
    const flat: string[] = [];
    for (const [m, sc] of v.entries()) flat.push(formatG17(sc), m);
    batched(w, "ZADD", key, flat, 2);
  } else if (v instanceof HashValue) {
    const flat: string[] = [];
    v.forEach((f, x) => flat.push(f, x));
    batched(w, "HMSET", key, flat, 2);
  } else if (v instanceof StreamValue) {
    writeStreamCommands(w, key, v);
  } else {
    throw new Error("unknown value");
  }
  if (expireMs !== undefined) writeCmd(w, ["PEXPIREAT", key, String(expireMs)]);
}

function writeStreamCommands(w: ByteWriter, key: string, st: StreamValue): void {
  if (st.length > 0) {
    for (const n of st.nodes) {
      for (const [id, fields] of n.entries()) writeCmd(w, ["XADD", key, formatId(id), ...fields]);
    }
  } else {
    // An empty stream is made by an entry that MAXLEN 0 drops at once, as Redis writes it.
    writeCmd(w, ["XADD", key, "MAXLEN", "0", "0-1", "x", "y"]);
  }
  writeCmd(w, [
    "XSETID",
    key,
    formatId(st.lastId),
    "ENTRIESADDED",
    String(st.entriesAdded),
    "MAXDELETEDID",
    formatId(st.maxDeletedId),
  ]);
  for (const g of st.groupList()) {
    writeCmd(w, [
      "XGROUP",
      "CREATE",
      key,
      g.name,
      formatId(g.lastId),
      "ENTRIESREAD",
      String(g.entriesRead),
    ]);
    for (const c of g.consumerList()) {
      if (c.pel.size === 0) {
        writeCmd(w, ["XGROUP", "CREATECONSUMER", key, g.name, c.name]);
        continue;
      }
      const ids = [...c.pel.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      for (const id of ids) {
        const nack = g.pel.get(id)!;
        writeCmd(w, [
          "XCLAIM",
          key,
          g.name,
          c.name,
          "0",
          formatId(id),
          "TIME",
          String(nack.time),
          "RETRYCOUNT",
          String(nack.count),
          "JUSTID",
          "FORCE",
        ]);
      }
    }
  }
}
