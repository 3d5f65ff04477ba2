/**
 * The data node's ACL: the shared rule engine (shared/acl/acl.ts) bound to the data node's
 * command table, whose key specs say which arguments are keys and how they are accessed.
 */
import { Acl as AclCore } from "../../shared/acl/acl.ts";
import { type CommandDef, commandKeys, F_NO_AUTH, numkeysKeys } from "../commands/types.ts";
import { keyFlags } from "../commands/key_specs.ts";

export {
  AclLog,
  channelsToRecheck,
  type Denial,
  genpass,
  hasSpaces,
  type LogEntry,
  mergeSelectorArgs,
  RULE_ERRORS,
  type RuleError,
  Selector,
  sha256Hex,
  subscriptionAllowed,
  User,
} from "../../shared/acl/acl.ts";

export class Acl extends AclCore<CommandDef> {
  constructor(commands: Map<string, CommandDef>) {
    super(commands.values(), {
      noAuth: (def) => (def.bits & F_NO_AUTH) !== 0,
      keys: callKeys,
    });
  }
}

/** The keys of a call, as the key specs (or the command's own key finder) give them. */
function callKeys(def: CommandDef, argv: string[]): [number, string[]][] {
  const keys = def.numkeys
    ? numkeysKeys(def.numkeys, argv).keys.filter((i) => i < argv.length)
    : commandKeys(def, argv).filter((i) => i < argv.length);
  if (keys.length === 0) return [];
  const flagsOf = keyFlags(def.name, def.keySpecs ?? [], argv);
  // Arguments a key spec marks not_key (SPUBLISH's shard channel) are checked as channels.
  return keys.map((i): [number, string[]] => [i, flagsOf(i)])
    .filter(([, flags]) => !flags.includes("not_key"));
}
