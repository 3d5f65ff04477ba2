/** Typed key access used by every command family: lookups with stats and WRONGTYPE replies. */
import type { ClientState, Engine } from "../engine/types.ts";
import type { AggregateValue, Entry } from "../store/types.ts";
import { ERR } from "./define.ts";
import { NOTIFY } from "../engine/notify.ts";
import { F_WRITE } from "./types.ts";

/**
 * A read found no key: the `keymiss` event (class m). As Redis raises it only from read
 * lookups, a write command's lookups (which create or change the key) raise none, unless
 * `read` says this one is a read of the write (a source key of BITOP or SINTERSTORE, GETDEL).
 */
export function keyMiss(s: Engine, c: ClientState, key: string, read = false): void {
  if ((s.notifier.flags & NOTIFY.KEY_MISS) === 0) return;
  const def = s.commands.get(c.lastCommand);
  if (!read && def !== undefined && def.bits & F_WRITE) return;
  s.notifier.publish("keymiss", key, c.db.id);
}

/** A read lookup, as Redis's lookupKeyRead: keyspace hits and misses, and the keymiss event. */
export function lookupRead(
  s: Engine,
  c: ClientState,
  key: string,
  read = false,
): Entry | undefined {
  const e = c.db.lookup(key);
  if (e === undefined) {
    s.stats.keyspaceMisses++;
    keyMiss(s, c, key, read);
  } else s.stats.keyspaceHits++;
  return e;
}

/** Sentinel: the command already replied with an error. */
export const REPLIED = Symbol("replied");

/**
 * A string value, null when missing, or REPLIED after a WRONGTYPE error. `read`: a write
 * command's read lookup (see keyMiss).
 */
export function readString(
  s: Engine,
  c: ClientState,
  key: string,
  read = false,
): string | null | typeof REPLIED {
  const e = lookupRead(s, c, key, read);
  if (e === undefined) return null;
  if (typeof e.value !== "string") {
    c.error(ERR.wrongType);
    return REPLIED;
  }
  return e.value;
}

/**
 * An aggregate of the given type, null when missing, or REPLIED after a WRONGTYPE error.
 * `read`: a write command's read lookup (see keyMiss).
 */
export function readAggregate<T extends AggregateValue>(
  s: Engine,
  c: ClientState,
  key: string,
  type: T["type"],
  read = false,
): T | null | typeof REPLIED {
  const e = lookupRead(s, c, key, read);
  if (e === undefined) return null;
  if (typeof e.value === "string" || e.value.type !== type) {
    c.error(ERR.wrongType);
    return REPLIED;
  }
  return e.value as T;
}

/**
 * Gives a key an absolute expiry; a time already past deletes it instead. Either way the
 * change replicates as an absolute command (PEXPIREAT or DEL), so replicas agree on time.
 */
export function expireOrDelete(
  s: Engine,
  c: ClientState,
  key: string,
  atMs: number,
  nowMs: number,
  argv: string[] | null = null,
): void {
  // As Redis: a time already past deletes the key, except while loading (AOF replay) or applying
  // a master's stream ("keep"), and on a replica, where it becomes a TTL that ran out.
  if (atMs <= nowMs && s.expiryMode !== "keep" && s.role !== "replica") {
    c.db.delete(key);
    s.notify(NOTIFY.GENERIC, "del", key, c.db.id);
    c.rewrittenArgv = ["DEL", key];
    return;
  }
  c.db.setExpire(key, atMs);
  s.notify(NOTIFY.GENERIC, "expire", key, c.db.id);
  // The EXPIRE family keeps its options (NX, XX, GT, LT, as sent) and becomes PEXPIREAT with
  // the absolute time; a PEXPIREAT goes out as sent, as Redis does.
  if (argv === null) c.rewrittenArgv = ["PEXPIREAT", key, String(atMs)];
  else if (argv[0]!.toLowerCase() !== "pexpireat") {
    c.rewrittenArgv = ["PEXPIREAT", key, String(atMs), ...argv.slice(3)];
  }
}
