/**
 * Routing, the proxy's pure core: (command table, argv, its keys) -> a plan, data that the
 * session shell carries out. Keys of one slot go to that slot's node; MGET, MSET, DEL, UNLINK,
 * EXISTS and TOUCH across slots are split into one command per slot and merged back; keyless
 * commands are answered here, fanned out to every master, sent to any node, or refused.
 */
import { keyHashSlot } from "../../shared/slots.ts";
import { RespError, type RespValue, SimpleString } from "../../shared/resp/mod.ts";
import { wrongArity } from "../../shared/errors.ts";
import { arityOk, type CommandSpec, type CommandTable, keysOf, lookup } from "./commands.ts";

export type Merge = "mget" | "sum" | "ok" | "concat" | "first";

export interface Part {
  slot: number;
  argv: string[];
  /** For MGET: the positions in the merged reply of this part's replies. */
  positions: number[];
}

export type Plan =
  | { kind: "reply"; value: RespValue }
  /** To the node of `slot`; null: any node (keyless). */
  | { kind: "forward"; slot: number | null; argv: string[] }
  | { kind: "split"; merge: Merge; parts: Part[]; total: number }
  | { kind: "fanout"; merge: Merge; argv: string[] }
  /** A blocking command: on the session's own connection to the node. */
  | { kind: "blocking"; slot: number | null; argv: string[] }
  /** Pub/sub subscription: the session becomes a tunnel to one node. */
  | { kind: "subscribe"; slot: number | null; argv: string[] }
  /** The keys are only known to a node (COMMAND GETKEYS), then route again. */
  | { kind: "getkeys"; argv: string[] };

export const CROSSSLOT = "CROSSSLOT Keys in request don't hash to the same slot";

export function err(message: string): Plan {
  return { kind: "reply", value: new RespError(message) };
}

/** Keyless commands answered by summing or joining every master's reply, or by the first. */
const FANOUT: Record<string, Merge> = {
  dbsize: "sum",
  flushall: "ok",
  flushdb: "ok",
  keys: "concat",
  "script|flush": "ok",
  "script|load": "first",
  "function|flush": "ok",
};

/** Keyless commands any node can answer for the whole cluster. */
const ANY_NODE = new Set([
  "publish",
  "pubsub",
  "info",
  "time",
  "command",
  "cluster",
  "lolwut",
  "randomkey",
  "echo",
  "script|exists",
  "memory|usage",
  "config|get",
]);

/** Multi-key commands split per slot when their keys span slots. */
const SPLIT: Record<string, { merge: Merge; step: number }> = {
  mget: { merge: "mget", step: 1 },
  mset: { merge: "ok", step: 2 },
  del: { merge: "sum", step: 1 },
  unlink: { merge: "sum", step: 1 },
  exists: { merge: "sum", step: 1 },
  touch: { merge: "sum", step: 1 },
};

/** Extra reasons some commands cannot go through a proxy. */
const REFUSED: Record<string, string> = {
  scan: "SCAN cannot iterate a whole cluster through the proxy; use KEYS or scan each node",
  watch: "WATCH is not supported by the proxy (MULTI/EXEC on keys of one slot is)",
  unwatch: "UNWATCH is not supported by the proxy",
  monitor: "MONITOR is not supported by the proxy",
  sync: "SYNC is not supported by the proxy",
  psync: "PSYNC is not supported by the proxy",
  migrate: "MIGRATE is not supported by the proxy; use the cluster manager",
  asking: "ASKING is not needed through the proxy: it follows redirections itself",
  readonly: "READONLY is not supported by the proxy",
  readwrite: "READWRITE is not supported by the proxy",
};

function specName(spec: CommandSpec): string {
  return spec.name;
}

/** The single slot of these keys, or -1 when they span several (null when there are none). */
export function slotOfKeys(keys: readonly string[]): number | null | -1 {
  let slot: number | null = null;
  for (const k of keys) {
    const s = keyHashSlot(k);
    if (slot === null) slot = s;
    else if (slot !== s) return -1;
  }
  return slot;
}

/** The plan for argv; `keys` overrides the table's key positions (from COMMAND GETKEYS). */
export function plan(table: CommandTable, argv: string[], keys?: string[]): Plan {
  const name = (argv[0] ?? "").toLowerCase();
  // Answered here whether or not a node's command table is known yet.
  const refused = REFUSED[name];
  if (refused) return err(`ERR ${refused}`);
  if (name === "ping") {
    if (argv.length > 2) return err(wrongArity("ping"));
    return { kind: "reply", value: argv.length > 1 ? argv[1]! : new SimpleString("PONG") };
  }
  if (name === "echo") {
    return argv.length === 2 ? { kind: "reply", value: argv[1]! } : err(wrongArity("echo"));
  }
  if (name === "subscribe" || name === "psubscribe") {
    return argv.length >= 2 ? { kind: "subscribe", slot: null, argv } : err(wrongArity(name));
  }
  const spec = lookup(table, argv);
  // A command the nodes do not know: let a node answer with its own error text.
  if (!spec) return { kind: "forward", slot: null, argv };
  if (!arityOk(spec, argv.length)) return err(wrongArity(specName(spec)));
  const found = keys ?? keysOf(spec, argv);
  if (found === "movable") return { kind: "getkeys", argv };
  if (name === "ssubscribe") {
    const s = slotOfKeys(found);
    return s === -1 ? err(CROSSSLOT) : { kind: "subscribe", slot: s, argv };
  }
  if (found.length === 0) return keyless(spec, argv);
  const slot = slotOfKeys(found);
  const blocking = spec.flags.has("blocking") || isBlockingStream(name, argv);
  if (slot !== -1) return { kind: blocking ? "blocking" : "forward", slot, argv };
  const split = SPLIT[name];
  if (!split) return err(CROSSSLOT);
  return splitBySlot(argv, split.step, split.merge);
}

/** XREAD/XREADGROUP wait only with BLOCK. */
function isBlockingStream(name: string, argv: readonly string[]): boolean {
  if (name !== "xread" && name !== "xreadgroup") return false;
  return argv.some((a) => a.toLowerCase() === "block");
}

function keyless(spec: CommandSpec, argv: string[]): Plan {
  const name = spec.name;
  const merge = FANOUT[name];
  if (merge) return { kind: "fanout", merge, argv };
  if (ANY_NODE.has(name) || ANY_NODE.has(name.split("|")[0]!)) {
    return { kind: "forward", slot: null, argv };
  }
  if (spec.flags.has("blocking")) return { kind: "blocking", slot: null, argv };
  return err(`ERR command '${name.replace("|", " ")}' is not supported by the proxy`);
}

/** One command per slot; `step` is 1 (keys) or 2 (key value pairs). */
export function splitBySlot(argv: string[], step: number, merge: Merge): Plan {
  const bySlot = new Map<number, Part>();
  let n = 0;
  for (let i = 1; i + step - 1 < argv.length; i += step, n++) {
    const slot = keyHashSlot(argv[i]!);
    let part = bySlot.get(slot);
    if (!part) {
      part = { slot, argv: [argv[0]!], positions: [] };
      bySlot.set(slot, part);
    }
    for (let j = 0; j < step; j++) part.argv.push(argv[i + j]!);
    part.positions.push(n);
  }
  return { kind: "split", merge, parts: [...bySlot.values()], total: n };
}

/**
 * The merged reply of a split or fan-out, from each part's reply in part order. The first error
 * wins, as in redis-cluster-proxy: the client learns that part of the command failed.
 */
export function mergeReplies(merge: Merge, replies: RespValue[], parts?: Part[], total = 0) {
  const failed = replies.find((r) => r instanceof RespError);
  if (failed !== undefined) return failed;
  switch (merge) {
    case "sum": {
      let sum = 0;
      for (const r of replies) sum += typeof r === "number" ? r : Number(r ?? 0);
      return sum;
    }
    case "ok":
      return new SimpleString("OK");
    case "first":
      return replies[0] ?? null;
    case "concat":
      return replies.flatMap((r) => (Array.isArray(r) ? r : []));
    case "mget": {
      const out: RespValue[] = new Array<RespValue>(total).fill(null);
      replies.forEach((r, i) => {
        const pos = parts?.[i]?.positions ?? [];
        if (!Array.isArray(r)) return;
        pos.forEach((p, j) => (out[p] = r[j] ?? null));
      });
      return out;
    }
  }
}
