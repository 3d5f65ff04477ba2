/** The whole command table: every family's definitions, by lowercase name. */
import { type CommandDef, F_FAST, F_SHARED_TIME } from "./types.ts";
import { CONNECTION_COMMANDS } from "./connection.ts";
import { TRANSACTION_COMMANDS } from "./transactions.ts";
import { PUBSUB_COMMANDS } from "./pubsub.ts";
import { SERVER_COMMANDS } from "./server_cmds.ts";
import { DEBUG_COMMANDS } from "./debug_cmds.ts";
import { STRING_COMMANDS } from "./strings.ts";
import { KEY_COMMANDS } from "./keys.ts";
import { LIST_COMMANDS } from "./lists.ts";
import { HASH_COMMANDS } from "./hashes.ts";
import { SET_COMMANDS } from "./sets.ts";
import { ZSET_COMMANDS } from "./zsets.ts";
import { STREAM_COMMANDS } from "./streams.ts";
import { PERSISTENCE_COMMANDS } from "./persistence_cmds.ts";
import { BIT_COMMANDS } from "./bits.ts";
import { HYPERLOGLOG_COMMANDS } from "./hyperloglog.ts";
import { GEO_COMMANDS } from "./geo.ts";
import { SORT_COMMANDS } from "./sort.ts";
import { REPLICATION_COMMANDS } from "./replication_cmds.ts";
import { CLUSTER_COMMANDS } from "./cluster_cmds.ts";
import { SCRIPTING_COMMANDS } from "./scripting.ts";
import { OPS_COMMANDS } from "./ops.ts";
import { ACL_COMMANDS } from "./acl.ts";
import { introspectionCommands } from "./introspection.ts";
import { COMMAND_TIPS, KEY_SPECS, parseKeySpec } from "./key_specs.ts";

/** O(1) commands not flagged fast that share their batch's time (see F_SHARED_TIME). */
const SHARED_TIME = new Set(["set", "setex", "psetex", "setrange", "setbit"]);

export function buildCommandTable(): Map<string, CommandDef> {
  const table = new Map<string, CommandDef>();
  const add = (defs: CommandDef[]) => {
    for (const d of defs) {
      if (table.has(d.name)) throw new Error(`duplicate command ${d.name}`);
      table.set(d.name, d);
    }
  };
  add(CONNECTION_COMMANDS);
  add(TRANSACTION_COMMANDS);
  add(PUBSUB_COMMANDS);
  add(SERVER_COMMANDS);
  add(DEBUG_COMMANDS);
  add(STRING_COMMANDS);
  add(KEY_COMMANDS);
  add(LIST_COMMANDS);
  add(HASH_COMMANDS);
  add(SET_COMMANDS);
  add(ZSET_COMMANDS);
  add(STREAM_COMMANDS);
  add(PERSISTENCE_COMMANDS);
  add(BIT_COMMANDS);
  add(HYPERLOGLOG_COMMANDS);
  add(GEO_COMMANDS);
  add(SORT_COMMANDS);
  add(REPLICATION_COMMANDS);
  add(CLUSTER_COMMANDS);
  add(SCRIPTING_COMMANDS);
  add(OPS_COMMANDS);
  add(ACL_COMMANDS);
  add(introspectionCommands(table));
  for (const d of table.values()) {
    attachSpecs(d);
    for (const sub of d.subcommands ?? []) attachSpecs(sub);
    if (d.bits & F_FAST || SHARED_TIME.has(d.name)) d.bits |= F_SHARED_TIME;
    for (const sub of d.subcommands ?? []) if (sub.bits & F_FAST) sub.bits |= F_SHARED_TIME;
  }
  return table;
}

function attachSpecs(d: CommandDef): void {
  const specs = KEY_SPECS[d.name];
  if (specs) d.keySpecs = specs.map(parseKeySpec);
  const tips = COMMAND_TIPS[d.name];
  if (tips) d.tips = tips.split(" ");
}
