/**
 * CLUSTER and the cluster client commands (ASKING, READONLY, READWRITE), with Redis 7.0's
 * replies and errors. The work is the cluster module's (engine.cluster).
 */
import type { ClientState, Engine } from "../engine/types.ts";
import { cmd, parseIntArg } from "./define.ts";
import { CLUSTER_SLOTS, keyHashSlot } from "../../shared/slots.ts";
import type { CommandDef } from "./types.ts";
import { wrongArity } from "../../shared/errors.ts";

const DISABLED = "ERR This instance has cluster support disabled";
const NOT_INT = "ERR value is not an integer or out of range";

const HELP = [
  "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "ADDSLOTS <slot> [<slot> ...]",
  "    Assign slots to current node.",
  "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
  "    Assign slots which are between <start-slot> and <end-slot> to current node.",
  "BUMPEPOCH",
  "    Advance the cluster config epoch.",
  "COUNT-FAILURE-REPORTS <node-id>",
  "    Return number of failure reports for <node-id>.",
  "COUNTKEYSINSLOT <slot>",
  "    Return the number of keys in <slot>.",
  "DELSLOTS <slot> [<slot> ...]",
  "    Delete slots information from current node.",
  "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
  "    Delete slots information which are between <start-slot> and <end-slot> from current node.",
  "FAILOVER [FORCE|TAKEOVER]",
  "    Promote current replica node to being a master.",
  "FORGET <node-id>",
  "    Remove a node from the cluster.",
  "GETKEYSINSLOT <slot> <count>",
  "    Return key names stored by current node in a slot.",
  "FLUSHSLOTS",
  "    Delete current node own slots information.",
  "INFO",
  "    Return information about the cluster.",
  "KEYSLOT <key>",
  "    Return the hash slot for <key>.",
  "LINKS",
  "    Return information about all network links between this node and its peers.",
  "    Output format is an array where each array element is a map containing attributes of a link",
  "MEET <ip> <port> [<bus-port>]",
  "    Connect nodes into a working cluster.",
  "MYID",
  "    Return the node id.",
  "NODES",
  "    Return cluster configuration seen by node. Output format:",
  "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
  "REPLICATE <node-id>",
  "    Configure current node as replica to <node-id>.",
  "RESET [HARD|SOFT]",
  "    Reset current node (default: soft).",
  "SET-CONFIG-EPOCH <epoch>",
  "    Set config epoch of current node.",
  "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
  "    Set slot state.",
  "REPLICAS <node-id>",
  "    Return <node-id> replicas.",
  "SAVECONFIG",
  "    Force saving cluster configuration on disk.",
  "SLOTS",
  "    Return information about slots range mappings. Each range is made of:",
  "    start, end, master and replicas IP addresses, ports and ids",
  "SHARDS",
  "    Return information about slot range mappings and the nodes associated with them.",
  "HELP",
  "    Prints this help.",
];

function slotArg(c: ClientState, s: string): number | null {
  const n = parseIntArg(s);
  if (n === null || n < 0 || n >= CLUSTER_SLOTS) {
    c.error("ERR Invalid or out of range slot");
    return null;
  }
  return n;
}

function cluster(s: Engine, c: ClientState, argv: string[]): void {
  // Outside cluster mode every subcommand, HELP and KEYSLOT included, is refused, as in Redis.
  const cl = s.cluster;
  if (!cl) return c.error(DISABLED);
  const sub = argv[1]!.toLowerCase();
  if (sub === "help") {
    c.out.array(HELP.length);
    for (const l of HELP) c.out.simple(l);
    return;
  }
  if (sub === "keyslot" && argv.length === 3) {
    c.out.int(keyHashSlot(argv[2]!));
    return;
  }
  const st = cl.st;
  const n = argv.length;
  const wrong = () =>
    c.error(
      `ERR unknown subcommand or wrong number of arguments for '${argv[1]}'. Try CLUSTER HELP.`,
    );
  switch (sub) {
    case "myid":
      if (n !== 2) return wrong();
      return c.out.bulk(st.myself.name);
    case "info":
      if (n !== 2) return wrong();
      return c.proto === 3 ? c.out.verbatim(cl.infoText()) : c.out.bulk(cl.infoText());
    case "nodes":
      if (n !== 2) return wrong();
      return c.proto === 3 ? c.out.verbatim(cl.nodesText()) : c.out.bulk(cl.nodesText());
    case "slots":
      if (n !== 2) return wrong();
      return cl.replySlots(c);
    case "shards":
      if (n !== 2) return wrong();
      return cl.replyShards(c);
    case "links":
      if (n !== 2) return wrong();
      return cl.replyLinks(c);
    case "countkeysinslot": {
      if (n !== 3) return wrong();
      const slot = parseIntArg(argv[2]!);
      if (slot === null) return c.error(NOT_INT);
      if (slot < 0 || slot >= CLUSTER_SLOTS) return c.error("ERR Invalid slot");
      return c.out.int(c.db.countKeysInSlot(slot));
    }
    case "getkeysinslot": {
      if (n !== 4) return wrong();
      const slot = parseIntArg(argv[2]!), count = parseIntArg(argv[3]!);
      if (slot === null || count === null) return c.error(NOT_INT);
      if (count < 0 || slot < 0 || slot >= CLUSTER_SLOTS) {
        return c.error("ERR Invalid slot or number of keys");
      }
      const keys = c.db.keysInSlot(slot, count);
      c.out.array(keys.length);
      for (const k of keys) c.out.bulk(k);
      return;
    }
    case "addslots":
    case "delslots": {
      if (n < 3) return wrong();
      const slots: number[] = [];
      for (const a of argv.slice(2)) {
        const slot = slotArg(c, a);
        if (slot === null) return;
        slots.push(slot);
      }
      const err = sub === "addslots" ? cl.addSlots(slots) : cl.delSlots(slots);
      return err ? c.error(err) : c.out.ok();
    }
    case "addslotsrange":
    case "delslotsrange": {
      // Start and end come in pairs: an odd count is an arity error, under the full name.
      if (n < 4 || n % 2 !== 0) return c.error(wrongArity(`cluster|${sub}`));
      const slots: number[] = [];
      for (let i = 2; i < n; i += 2) {
        const a = slotArg(c, argv[i]!);
        if (a === null) return;
        const b = slotArg(c, argv[i + 1]!);
        if (b === null) return;
        if (a > b) {
          return c.error(`ERR start slot number ${a} is greater than end slot number ${b}`);
        }
        for (let x = a; x <= b; x++) slots.push(x);
      }
      const err = sub === "addslotsrange" ? cl.addSlots(slots) : cl.delSlots(slots);
      return err ? c.error(err) : c.out.ok();
    }
    case "flushslots": {
      if (n !== 2) return wrong();
      const err = cl.flushSlots();
      return err ? c.error(err) : c.out.ok();
    }
    case "setslot": {
      if (n < 4) return wrong();
      const slot = slotArg(c, argv[2]!);
      if (slot === null) return;
      const how = argv[3]!.toLowerCase();
      if ((how === "stable" && n !== 4) || (how !== "stable" && n !== 5)) {
        return c.error(
          "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP",
        );
      }
      const err = cl.setSlot(slot, how, argv[4]);
      return err ? c.error(err) : c.out.ok();
    }
    case "bumpepoch": {
      if (n !== 2) return wrong();
      const r = cl.bumpEpoch();
      return c.out.simple(`${r} ${st.myself.configEpoch}`);
    }
    case "set-config-epoch": {
      if (n !== 3) return wrong();
      const e = /^\d+$/.test(argv[2]!) ? BigInt(argv[2]!) : -1n;
      if (e < 0n) return c.error(`ERR Invalid config epoch specified: ${argv[2]}`);
      if (st.nodes.size > 1) {
        return c.error(
          "ERR The user can assign a config epoch only when the node does not know any other node.",
        );
      }
      if (st.myself.configEpoch !== 0n) return c.error("ERR Node config epoch is already non-zero");
      st.myself.configEpoch = e;
      if (st.currentEpoch < e) st.currentEpoch = e;
      cl.changed();
      return c.out.ok();
    }
    case "saveconfig":
      if (n !== 2) return wrong();
      cl.saveNow();
      return c.out.ok();
    case "count-failure-reports": {
      if (n !== 3) return wrong();
      const node = st.nodes.get(argv[2]!);
      if (!node) return c.error(`ERR Unknown node ${argv[2]}`);
      return c.out.int(node.failReports.size);
    }
    case "replicas":
    case "slaves": {
      if (n !== 3) return wrong();
      const node = st.nodes.get(argv[2]!);
      if (!node) return c.error(`ERR Unknown node ${argv[2]}`);
      if (node.flags & 2) return c.error("ERR The specified node is not a master");
      const lines = st.replicasOf(node).map((r) => cl.nodeLine(r));
      c.out.array(lines.length);
      for (const l of lines) c.out.bulk(l);
      return;
    }
    case "meet":
    case "forget":
    case "replicate":
    case "reset":
    case "failover": {
      const err = cl.command(c, sub, argv);
      if (err) c.error(err);
      return;
    }
    default:
      return wrong();
  }
}

/** ASKING: the next command may touch a slot this node is importing. */
function asking(s: Engine, c: ClientState): void {
  if (!s.cluster) return c.error(DISABLED);
  c.asking = true;
  c.out.ok();
}

function readonly(s: Engine, c: ClientState): void {
  if (!s.cluster) return c.error(DISABLED);
  c.readonlyCluster = true;
  c.out.ok();
}

function readwrite(s: Engine, c: ClientState): void {
  if (!s.cluster) return c.error(DISABLED);
  c.readonlyCluster = false;
  c.out.ok();
}

/** CLUSTER's subcommands with Redis 7.0's arity and flags (COMMAND INFO). */
const SUBCOMMANDS: [string, number, string][] = [
  ["addslots", -3, "admin stale no_async_loading"],
  ["addslotsrange", -4, "admin stale no_async_loading"],
  ["bumpepoch", 2, "admin stale no_async_loading"],
  ["count-failure-reports", 3, "admin stale"],
  ["countkeysinslot", 3, "stale"],
  ["delslots", -3, "admin stale no_async_loading"],
  ["delslotsrange", -4, "admin stale no_async_loading"],
  ["failover", -2, "admin stale no_async_loading"],
  ["flushslots", 2, "admin stale no_async_loading"],
  ["forget", 3, "admin stale no_async_loading"],
  ["getkeysinslot", 4, "stale"],
  ["help", 2, "loading stale"],
  ["info", 2, "stale"],
  ["keyslot", 3, "stale"],
  ["links", 2, "stale"],
  ["meet", -4, "admin stale no_async_loading"],
  ["myid", 2, "stale"],
  ["nodes", 2, "stale"],
  ["replicas", 3, "admin stale"],
  ["replicate", 3, "admin stale no_async_loading"],
  ["reset", -2, "admin noscript stale"],
  ["saveconfig", 2, "admin stale no_async_loading"],
  ["set-config-epoch", 3, "admin stale no_async_loading"],
  ["setslot", -4, "admin stale no_async_loading"],
  ["shards", 2, "stale"],
  ["slaves", 3, "admin stale"],
  ["slots", 2, "stale"],
];

export const CLUSTER_COMMANDS: CommandDef[] = [
  cmd("cluster", -2, "", null, "cluster", null, {
    summary: "A container for Redis Cluster commands.",
    since: "3.0.0",
    complexity: "Depends on subcommand.",
    subcommands: SUBCOMMANDS.map(([name, arity, flags]) =>
      cmd(`cluster|${name}`, arity, flags, null, "cluster", cluster, {
        summary: `CLUSTER ${name.toUpperCase()}`,
        since: "3.0.0",
      })
    ),
  }),
  cmd("asking", 1, "fast", null, "cluster", asking, {
    summary: "Signals that a cluster client is following an -ASK redirect.",
    since: "3.0.0",
    acl: ["connection"],
  }),
  cmd("readonly", 1, "loading stale fast", null, "cluster", readonly, {
    summary: "Enables read-only queries for a connection to a Redis Cluster replica node.",
    since: "3.0.0",
    acl: ["connection"],
  }),
  cmd("readwrite", 1, "loading stale fast", null, "cluster", readwrite, {
    summary: "Enables read-write queries for a connection to a Reids Cluster replica node.",
    since: "3.0.0",
    acl: ["connection"],
  }),
];
