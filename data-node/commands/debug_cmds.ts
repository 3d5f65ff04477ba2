/**
 * DEBUG subcommands beyond SLEEP and SET-ACTIVE-EXPIRE: POPULATE, DIGEST, DIGEST-VALUE,
 * PROTOCOL, ERROR and LOG, with redis-server's replies (clients' and Redis's own test suites
 * use them to build datasets, compare servers and exercise reply types).
 */
import { sleepSync } from "../../shared/clock.ts";
import type { ClientState, Engine } from "../engine/types.ts";
import {
  cmd,
  ERR,
  parseFloatArg,
  parseIntArg,
  replyHelp,
  subcommandSyntaxError,
} from "./define.ts";
import type { CommandDef } from "./types.ts";
import { TO_REPL } from "../engine/propagation.ts";
import { datasetDigest, valueDigest } from "../store/digest.ts";
import { getLogger } from "../../shared/log.ts";
import { parseMemory } from "../../shared/config/schema.ts";
import { checksumValidation } from "../persistence/rdb.ts";

const log = getLogger(["data-node", "debug"]);

const DEBUG_HELP = [
  "CONFIG-REWRITE-FORCE-ALL",
  "    Rewrite the config file with every directive in it, those at their defaults too.",
  "DIGEST",
  "    Output a hex signature of the whole dataset.",
  "DIGEST-VALUE <key> [<key> ...]",
  "    Output a hex signature of each of the keys' values.",
  "ERROR <string>",
  "    Reply with <string> as an error (to test clients).",
  "LOG <message>",
  "    Write <message> to the server log.",
  "POPULATE <count> [<prefix>] [<size>]",
  "    Add <count> string keys <prefix>:<n> (prefix 'key' by default) holding",
  "    'value:<n>', sized to <size> bytes when given. Existing keys are kept.",
  "PROTOCOL <type>",
  "    Reply with a sample of a reply type: string, integer, double, bignum, null,",
  "    array, set, map, attrib, push, verbatim, true, false.",
  "SET-DISABLE-DENY-SCRIPTS <0|1>",
  "    Let scripts run the commands flagged noscript (1) or refuse them again (0).",
  "SET-SKIP-CHECKSUM-VALIDATION <0|1>",
  "    Skip (1) or check again (0) the checksum of RESTORE payloads and RDB loads.",
  "REPLICATE <command> [<arg> ...]",
  "    Send the command to the replicas only, unrun here (the replicas diverge).",
  "QUICKLIST-PACKED-THRESHOLD <size>",
  "    Checked and accepted for compatibility (0 = the default, at most 4gb - 1mb):",
  "    lists here keep no packed/plain node split for it to move.",
];

/** Redis refuses a packed/plain threshold from 4gb - 1mb up. */
const MAX_PACKED_THRESHOLD = 2 ** 32 - 2 ** 20;

const NOT_POSITIVE = "ERR value is out of range, must be positive";

/**
 * DEBUG POPULATE count [prefix] [size]: string keys prefix:N holding "value:N" (cut or padded
 * with zero bytes to size when given). Existing keys are left alone; nothing is propagated.
 */
function populate(c: ClientState, argv: string[]): void {
  const count = parseIntArg(argv[2]!);
  if (count === null || count < 0) return c.error(NOT_POSITIVE);
  let size = 0;
  if (argv.length === 5) {
    const n = parseIntArg(argv[4]!);
    if (n === null || n < 0) return c.error(NOT_POSITIVE);
    size = n;
  }
  const prefix = argv.length >= 4 ? argv[3]! : "key";
  for (let j = 0; j < count; j++) {
    const key = `${prefix}:${j}`;
    if (c.db.lookup(key) !== undefined) continue;
    const v = `value:${j}`;
    c.db.set(key, size === 0 ? v : v.length >= size ? v.slice(0, size) : v.padEnd(size, "\0"));
  }
  c.out.ok();
}

const PROTOCOL_TYPES =
  "string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false";

/** DEBUG PROTOCOL <type>: one sample reply of each RESP type (downgraded in RESP2). */
function protocol(c: ClientState, type: string): void {
  const o = c.out;
  switch (type.toLowerCase()) {
    case "string":
      return o.bulk("Hello World");
    case "integer":
      return o.int(12345);
    case "double":
      return o.double(3.141);
    case "bignum":
      return o.bigNumber("1234567999999999999999999999999999999");
    case "null":
      return o.nullBulk();
    case "array":
    case "set":
      type.toLowerCase() === "set" ? o.set(3) : o.array(3);
      for (let j = 0; j < 3; j++) o.int(j);
      return;
    case "map":
      o.map(3);
      for (let j = 0; j < 3; j++) {
        o.int(j);
        o.bool(j === 1);
      }
      return;
    case "attrib":
      // An attribute is metadata before a real reply; RESP2 has none, only the reply.
      if (c.proto === 3) {
        o.ascii("|1\r\n");
        o.bulk("key-popularity");
        o.array(2);
        o.bulk("key:123");
        o.int(90);
      }
      return o.bulk("Some real reply following the attribute");
    case "push":
      if (c.proto !== 3) return c.error("ERR RESP2 is not supported by this command");
      o.push(2);
      o.bulk("server-cpu-usage");
      o.int(42);
      return o.bulk("Some real reply following the push reply");
    case "true":
      return o.bool(true);
    case "false":
      return o.bool(false);
    case "verbatim":
      return o.verbatim("This is a verbatim\nstring");
    default:
      c.error(`ERR Wrong protocol type name. Please use one of the following: ${PROTOCOL_TYPES}`);
  }
}

/** Runs the subcommand if it is one of these; false when it is not (or has the wrong arity). */
function debugSubcommand(s: Engine, c: ClientState, argv: string[]): boolean {
  const sub = argv[1]!.toLowerCase();
  const n = argv.length;
  if (sub === "populate" && n >= 3 && n <= 5) populate(c, argv);
  else if (sub === "digest" && n === 2) c.out.simple(datasetDigest(s.dbs));
  else if (sub === "digest-value") {
    c.out.array(n - 2);
    for (let j = 2; j < n; j++) c.out.simple(valueDigest(c.db, argv[j]!));
  } else if (sub === "protocol" && n === 3) protocol(c, argv[2]!);
  else if (sub === "replicate" && n >= 3) {
    // Into the replication stream only (not the AOF), in the client's database, unrun here.
    s.propagation.also(c.db.id, argv.slice(2), TO_REPL);
    c.out.ok();
  } else if (sub === "error" && n === 3) {
    // The argument is the whole error line (no "ERR " prefix), sent as is: like Redis, it
    // does not count in the error statistics.
    c.out.error(argv[2]!.replace(/[\r\n]/g, " "));
  } else if (sub === "quicklist-packed-threshold" && n === 3) {
    const size = parseMemory(argv[2]!);
    if (size === null || size < 0 || size > MAX_PACKED_THRESHOLD) {
      c.error("ERR argument must be a memory value bigger than 1 and smaller than 4gb");
    } else c.out.ok();
  } else if (sub === "set-disable-deny-scripts" && n === 3) {
    // Read as C's atoi reads it: a leading integer, anything else is 0.
    const v = parseInt(argv[2]!.trimStart(), 10);
    s.scripting.allowNoscript = Number.isFinite(v) && v !== 0;
    c.out.ok();
  } else if (sub === "set-skip-checksum-validation" && n === 3) {
    // Read as C's atoi reads it, as Redis does.
    const v = parseInt(argv[2]!.trimStart(), 10);
    checksumValidation.skip = Number.isFinite(v) && v !== 0;
    c.out.ok();
  } else if (sub === "config-rewrite-force-all" && n === 2) {
    try {
      s.config.rewrite(s.config.configFile ?? "", true);
      c.out.ok();
    } catch (e) {
      const why = e instanceof Error ? e.message.replace(/^ERR /, "") : String(e);
      c.error(`ERR CONFIG-REWRITE-FORCE-ALL failed: ${why}`);
    }
  } else if (sub === "log" && n === 3) {
    log.warn("DEBUG LOG: {message}", { message: argv[2]! });
    c.out.ok();
  } else return false;
  return true;
}

function debug(s: Engine, c: ClientState, argv: string[]): void | Promise<void> {
  const sub = argv[1]!.toLowerCase();
  const ext = s.debugExtensions.get(sub);
  if (ext) return ext(s, c, argv);
  // Cluster mode registers these two; without it Redis refuses the link kill and takes the
  // filter (nothing to filter).
  if (sub === "clusterlink" && argv.length === 5 && argv[2]!.toLowerCase() === "kill") {
    return c.error("ERR Debug option only available for cluster mode enabled setup!");
  }
  if (sub === "drop-cluster-packet-filter" && argv.length === 3) {
    if (parseIntArg(argv[2]!) === null) return c.error(ERR.notInt);
    return c.out.ok();
  }
  if (sub === "sleep" && argv.length === 3) {
    const secs = parseFloatArg(argv[2]!);
    if (secs === null) return c.error(ERR.notFloat);
    sleepSync(Math.max(0, secs * 1000));
    return c.out.ok();
  }
  if (sub === "set-active-expire" && argv.length === 3) {
    const v = parseIntArg(argv[2]!);
    if (v === null) return c.error(ERR.notInt);
    s.activeExpire = v !== 0;
    return c.out.ok();
  }
  if (debugSubcommand(s, c, argv)) return;
  if (sub === "help") {
    return replyHelp(c, [
      "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "SLEEP <seconds>",
      "    Stop the server for <seconds>. Decimals allowed.",
      ...DEBUG_HELP,
      "SET-ACTIVE-EXPIRE <0|1>",
      "    Setting it to 0 disables expiring keys in background when they are not accessed.",
      ...[...s.debugExtensions.keys()].map((k) => k.toUpperCase()),
      "HELP",
      "    Print this help.",
    ]);
  }
  subcommandSyntaxError(c, argv, "DEBUG");
}

export const DEBUG_COMMANDS: CommandDef[] = [
  // Allowed by enable-debug-command, which the dispatcher checks before anything else.
  cmd("debug", -2, "admin noscript loading stale", null, "server", debug, {
    summary: "A container for debugging commands.",
    protectedBy: "enable-debug-command",
  }),
];
