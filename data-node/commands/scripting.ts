/**
 * EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT, FUNCTION, FCALL, FCALL_RO. A script is one
 * execution unit: the commands it runs go through engine.call inside the unit EVAL opened, so
 * their effects leave together (MULTI/EXEC when more than one), as Redis 7.0 replicates them.
 */
import type { ClientState, Engine } from "../engine/types.ts";
import { call, feedMonitors, lookupCommand } from "../engine/call.ts";
import { TO_ALL } from "../engine/propagation.ts";
import { cmd, container, parseI64, replyHelp, subcommandSyntaxError } from "./define.ts";
import { type CommandDef, F_DENYOOM, F_MAY_REPLICATE, F_STALE, F_WRITE } from "./types.ts";
import { ERR, MISCONF } from "../../shared/errors.ts";
import { keyHashSlot } from "../../shared/slots.ts";
import { callSlot } from "../cluster/cluster.ts";
import { logDenial } from "../engine/acl_check.ts";
import type { Denial } from "../acl/acl.ts";
import { NEED_MORE, RespDecoder, RespError, type RespValue } from "../../shared/resp/mod.ts";
import { type RunResult, type ScriptHost } from "../scripting/lua.ts";
import {
  type EvalScript,
  type LibFunction,
  type RunningScript,
  SCRIPT_FLAGS,
  type ScriptFlag,
} from "../scripting/scripting.ts";
import { getLogger } from "../../shared/log.ts";
import {
  deleteLibrary,
  dumpFunctions,
  flushLibraries,
  listLibraries,
  loadLibrary,
  restoreFunctions,
} from "../scripting/functions.ts";

const log = getLogger(["data-node", "script"]);

const ERR_NOT_INT = "ERR value is not an integer or out of range";

/** Commands Redis 7.0 marks may-replicate: refused in read-only scripts as writes are. */
const MAY_REPLICATE = new Set(["publish", "spublish", "pfcount"]);

/** Redis's words for an ACL refusal of a command run from a script. */
const ACL_SCRIPT_DENIAL: Record<Denial, string> = {
  command: "can't run this command or subcommand",
  key: "can't access at least one of the keys mentioned in the command arguments",
  channel: "can't publish to the channel mentioned in the command",
};

function scriptClient(s: Engine): ClientState {
  const sc = s.scripting.client;
  if (!sc) throw new Error("scripting has no client");
  // Nothing blocks inside a script: blocking commands behave as in EXEC.
  sc.inExec = true;
  return sc;
}

/** Parses `#!lua flags=a,b` of an EVAL body: the flags (null: no shebang), or an error. */
export function evalShebang(body: string): { flags: Set<ScriptFlag> | null } | { error: string } {
  if (!body.startsWith("#!")) return { flags: null };
  const eol = body.indexOf("\n");
  if (eol < 0) return { error: "ERR Invalid script shebang" };
  const line = body.slice(0, eol);
  const parts = line.split(" ").filter((p) => p !== "");
  if (parts[0] !== "#!lua") {
    return { error: `ERR Unexpected engine in script shebang: ${parts[0] ?? line}` };
  }
  const flags = new Set<ScriptFlag>();
  for (const p of parts.slice(1)) {
    if (!p.startsWith("flags=")) return { error: `ERR Unknown lua shebang option: ${p}` };
    for (const f of p.slice(6).split(",")) {
      if (f === "") continue;
      if (!(SCRIPT_FLAGS as readonly string[]).includes(f)) {
        return { error: `ERR Unexpected flag in script shebang: ${f}` };
      }
      flags.add(f as ScriptFlag);
    }
  }
  return { flags };
}

/** Keeps line numbers: the shebang line becomes a comment of the same length. */
const SCRIPT_RUNNERS = new Set([
  "eval",
  "eval_ro",
  "evalsha",
  "evalsha_ro",
  "fcall",
  "fcall_ro",
]);

/**
 * A command's flag bits as the server judges it before running it (pause, MULTI): a script
 * that declares flags is a write unless it says no-writes, may grow memory unless no-writes or
 * allow-oom, and runs on stale data only with allow-stale; a script without flags (an EVAL body
 * without shebang, or one not known yet) keeps the command's flags (EVAL may replicate).
 */
export function effectiveCommandBits(s: Engine, def: CommandDef, argv: string[]): number {
  if (!SCRIPT_RUNNERS.has(def.name) || argv.length < 2) return def.bits;
  let flags: Set<ScriptFlag> | null = null;
  if (def.name.startsWith("fcall")) {
    flags = s.scripting.functions.get(argv[1]!.toLowerCase())?.flags ?? null;
  } else if (def.name.startsWith("evalsha")) {
    flags = s.scripting.scripts.get(argv[1]!.toLowerCase())?.flags ?? null;
  } else {
    const cached = s.scripting.scripts.get(s.scripting.sha(argv[1]!));
    if (cached) flags = cached.flags;
    else {
      const sb = evalShebang(argv[1]!);
      if ("flags" in sb) flags = sb.flags;
    }
  }
  if (flags === null) return def.bits;
  let bits = def.bits & ~(F_STALE | F_DENYOOM | F_WRITE | F_MAY_REPLICATE);
  if (!flags.has("no-writes")) {
    bits |= F_WRITE;
    if (!flags.has("allow-oom")) bits |= F_DENYOOM;
  }
  if (flags.has("allow-stale")) bits |= F_STALE;
  return bits;
}

function withoutShebang(body: string): string {
  return body.startsWith("#!") ? "--" + body.slice(2) : body;
}

/** Compiles and caches an EVAL body; the script or an error text. */
function loadScript(s: Engine, body: string): EvalScript | string {
  const sha = s.scripting.sha(body);
  const cached = s.scripting.scripts.get(sha);
  if (cached) return cached;
  const sb = evalShebang(body);
  if ("error" in sb) return sb.error;
  const ref = s.scripting.vm.compile(withoutShebang(body), "@user_script");
  if (typeof ref === "string") return `ERR Error compiling script (new function): ${ref}`;
  const script: EvalScript = { sha, body, ref, flags: sb.flags };
  s.scripting.scripts.set(sha, script);
  return script;
}

/** Reads the numkeys argument at `idx`: the count, or null after replying the error. */
function numKeys(
  c: ClientState,
  argv: string[],
  idx: number,
  notInt = ERR_NOT_INT,
): number | null {
  const n = parseI64(argv[idx]!);
  if (n === null) {
    c.error(notInt);
    return null;
  }
  if (n > BigInt(argv.length - idx - 1)) {
    c.error("ERR Number of keys can't be greater than number of args");
    return null;
  }
  if (n < 0n) {
    c.error("ERR Number of keys can't be negative");
    return null;
  }
  return Number(n);
}

interface RunSpec {
  ref: number;
  name: string;
  /** Script flags; null for an EVAL script without shebang (compatibility mode). */
  flags: Set<ScriptFlag> | null;
  /** Called as EVAL_RO / EVALSHA_RO / FCALL_RO. */
  roCommand: boolean;
  isFunction: boolean;
  keys: string[];
  args: string[];
}

/** The checks Redis makes before running a script (scriptPrepareForRun); few without flags. */
function refuseBeforeRun(
  s: Engine,
  c: ClientState,
  spec: RunSpec,
  oom: boolean,
): string | null {
  const flags = spec.flags;
  const repl = s.replication;
  const stale = repl.replica.active && repl.replica.state !== "connected" &&
    !s.config.get<boolean>("replica-serve-stale-data");
  // A script without flags (EVAL is allowed while stale) does not run on a stale replica.
  if (flags === null) {
    return stale
      ? "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
      : null;
  }
  const writes = !flags.has("no-writes");
  // A script that declares flags may grow memory unless it says no-writes or allow-oom.
  if (oom && writes && !flags.has("allow-oom") && !c.trusted) return `${ERR.oom}`;
  if (flags.has("no-cluster") && s.clusterEnabled) {
    return "ERR Can not run script on cluster, 'no-cluster' flag is set.";
  }
  if (stale && !flags.has("allow-stale")) {
    return "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
  }
  if (writes && !c.trusted) {
    if (repl.replica.active && s.config.get<boolean>("replica-read-only")) {
      return "READONLY You can't write against a read only replica.";
    }
    if (s.persistence?.writesRefused()) return MISCONF;
  }
  if (spec.roCommand && writes) {
    return "ERR Can not execute a script with write flag using *_ro command.";
  }
  // A script that may write is refused without enough good replicas (min-replicas-to-write).
  if (writes && !repl.replica.active && !repl.master.enoughGoodReplicas()) {
    return "NOREPLICAS Not enough good replicas to write.";
  }
  return null;
}

/**
 * Runs a compiled script or function for client `c`; its reply (or error) goes to c.out.
 * A script still running after busy-reply-threshold finishes later (the promise).
 */
function runScript(
  s: Engine,
  c: ClientState,
  spec: RunSpec,
  argv: string[],
): void | Promise<void> {
  // Over maxmemory when the script starts (Redis's pre-command OOM state)?
  const oom = s.maxmemory > 0 && !s.performEvictions();
  const refused = refuseBeforeRun(s, c, spec, oom);
  if (refused !== null) {
    c.error(refused);
    return;
  }
  const sc = scriptClient(s);
  sc.db = c.db;
  sc.trusted = c.trusted;
  const readOnly = spec.roCommand || (spec.flags?.has("no-writes") ?? false);
  const running: RunningScript = {
    name: spec.name,
    argv,
    keys: spec.keys,
    startMs: s.clock.nowMs(),
    isFunction: spec.isFunction,
    wrote: false,
    killed: false,
  };
  const p = s.propagation;
  // Commands that may grow memory are refused while over maxmemory, until the first write.
  const allowOom = !oom || c.trusted || (spec.flags?.has("allow-oom") ?? false);
  // Cluster mode: the declared keys' slot, which the keys the script touches must share.
  const cluster: ScriptSlot = {
    slot: spec.keys.length > 0 ? keyHashSlot(spec.keys[0]!) : -1,
    // Scripts without a shebang may, as in Redis (compatibility mode).
    allowCrossSlot: spec.flags === null || spec.flags.has("allow-cross-slot-keys"),
  };
  const host: ScriptHost = {
    resp: 2,
    countError: (message, counted) => {
      // As Redis: an error reply makes the call a failed one, counted in errorstats once.
      c.failed = true;
      if (!counted) s.stats.error(message);
    },
    run: (cargv) => runFromScript(s, c, sc, host, cargv, readOnly, running, allowOom, cluster),
    aclCheck: (cargv) => {
      const def = lookupCommand(s.commands, cargv);
      if (typeof def === "string") return null;
      const user = c.aclUser;
      return user === null || user.unrestricted || s.acl.check(user, def, cargv) === null;
    },
    log: (level, message) => {
      if (level === 3) log.warn(message);
      else if (level === 2) log.info(message);
      else log.debug(message);
    },
    setRepl: (flags) => {
      p.targets = flags;
    },
    tick: () => {
      // Redis says SCRIPT KILL for functions too.
      return running.killed ? "ERR Script killed by user with SCRIPT KILL..." : null;
    },
    shouldYield: () => {
      if (!running.timedOut) {
        const limit = s.config.get<number>("busy-reply-threshold");
        if (limit <= 0 || s.clock.nowMs() - running.startMs < limit) return false;
        running.timedOut = true;
        log.warn("Slow script detected: still in execution after {ms} milliseconds.", {
          ms: s.clock.nowMs() - running.startMs,
        });
      }
      return true;
    },
  };
  s.scripting.running = running;
  const vm = spec.isFunction ? s.scripting.fvm : s.scripting.vm;
  const finish = (result: RunResult): void => {
    s.scripting.running = null;
    p.targets = TO_ALL;
    if ("error" in result) {
      // An error a command run by the script returned was counted already.
      if (result.counted) {
        c.out.error(result.error);
        c.failed = true;
      } else c.error(result.error);
    }
  };
  let result: RunResult;
  try {
    result = vm.run(spec.ref, host, spec.keys, spec.args, !spec.isFunction, c.out, spec.name);
  } catch (e) {
    finish({ ok: true });
    throw e;
  }
  if (!("paused" in result)) {
    finish(result);
    return;
  }
  // Past busy-reply-threshold: the script goes on in turns, while other clients get BUSY (or
  // SCRIPT KILL, FUNCTION STATS...). Its writes stay one execution unit until it ends.
  p.enter();
  return (async () => {
    let r: RunResult = result;
    try {
      while ("paused" in r) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        r = r.paused();
      }
    } finally {
      finish(r);
      p.exit();
      if (s.replOffset !== c.woff) c.woff = s.replOffset;
      s.wantsFlush(c);
      s.blocking.serveReady();
    }
  })();
}

/** Cluster mode: the slot a script's keys hash to so far (-1: none yet). */
interface ScriptSlot {
  slot: number;
  allowCrossSlot: boolean;
}

/**
 * Cluster mode: why a command from a script may not run here (its keys are served elsewhere,
 * the cluster is down, or they leave the script's slot), in Redis's words, or null.
 */
function clusterRefusal(
  s: Engine,
  caller: ClientState,
  sc: ClientState,
  def: CommandDef,
  argv: string[],
  state: ScriptSlot,
): string | null {
  sc.asking = caller.asking;
  sc.readonlyCluster = caller.readonlyCluster;
  const r = s.cluster!.route(sc, def, argv);
  if (r !== null) {
    if (r === "CLUSTERDOWN The cluster is down and only accepts read commands") {
      return "Script attempted to execute a write command while the cluster is down and readonly";
    }
    if (r === "CLUSTERDOWN The cluster is down") {
      return "Script attempted to execute a command while the cluster is down";
    }
    return "Script attempted to access a non local key in a cluster node";
  }
  const slot = callSlot(def, argv);
  if (slot >= 0 && !state.allowCrossSlot) {
    if (state.slot === -1) state.slot = slot;
    else if (state.slot !== slot) {
      return "Script attempted to access keys that do not hash to the same slot";
    }
  }
  return null;
}

/** redis.call/pcall: the checks Redis makes on a command from a script, then the call. */
/**
 * A command the script may not run: counted as an error reply (INFO errorstats) and a
 * rejected call of the command, as Redis's scriptCall counts it.
 */
function rejected(s: Engine, def: CommandDef | null, message: string): RespError {
  s.stats.error(message);
  if (def) s.stats.of(def).rejectedCalls++;
  return new RespError(message);
}

function runFromScript(
  s: Engine,
  caller: ClientState,
  sc: ClientState,
  host: ScriptHost,
  argv: string[],
  readOnly: boolean,
  running: RunningScript,
  allowOom: boolean,
  cluster: ScriptSlot,
): RespValue | RespError {
  const found = lookupCommand(s.commands, argv);
  if (typeof found === "string") {
    return rejected(s, null, "ERR Unknown Redis command called from script");
  }
  const def: CommandDef = found;
  const argc = argv.length;
  if (
    (def.arity > 0 && argc !== def.arity) || argc < -def.arity || (def.subcommands && !def.handler)
  ) {
    return rejected(s, def, "ERR Wrong number of args calling Redis command from script");
  }
  if (def.flags.includes("noscript") && !s.scripting.allowNoscript) {
    return rejected(s, def, "ERR This Redis command is not allowed from script");
  }
  const repl = s.replication;
  if (
    repl.replica.active && repl.replica.state !== "connected" &&
    !s.config.get<boolean>("replica-serve-stale-data") && !def.flags.includes("stale")
  ) {
    return rejected(s, def, "ERR Can not execute the command on a stale replica");
  }
  // The caller's ACL rules apply to each command the script runs (logged with context lua).
  const user = caller.aclUser;
  sc.aclUser = user;
  if (user !== null && !user.unrestricted) {
    const denied = s.acl.check(user, def, argv);
    if (denied !== null) {
      const object = denied.denial === "command" ? def.name : argv[denied.index]!;
      // The log shows the client that ran the script, as Redis's (the current client).
      logDenial(s, caller, denied.denial, object, user.name, "lua");
      return rejected(
        s,
        def,
        `ERR The user executing the script ${ACL_SCRIPT_DENIAL[denied.denial]}`,
      );
    }
  }
  // As Redis, a read-only script treats may-replicate commands (PUBLISH...) as writes.
  if (readOnly && (def.bits & F_WRITE || MAY_REPLICATE.has(def.name))) {
    return rejected(s, def, "ERR Write commands are not allowed from read-only scripts.");
  }
  if (!allowOom && !running.wrote && def.bits & F_DENYOOM) return rejected(s, def, ERR.oom);
  // Once the script has written, a change of the server's state (its replicas dropping...) can
  // no longer fail it halfway: as Redis, these checks stop at the first write.
  if (def.bits & F_WRITE && !running.wrote) {
    if (!sc.trusted && repl.replica.active && s.config.get<boolean>("replica-read-only")) {
      return rejected(s, def, "READONLY You can't write against a read only replica.");
    }
    if (!caller.trusted && s.persistence?.writesRefused()) return rejected(s, def, MISCONF);
    // Reached by scripts without flags (those with flags were refused before running).
    if (!repl.replica.active && !repl.master.enoughGoodReplicas()) {
      return rejected(s, def, "NOREPLICAS Not enough good replicas to write.");
    }
    running.wrote = true;
  }
  if (s.cluster && !caller.trusted) {
    const refused = clusterRefusal(s, caller, sc, def, argv, cluster);
    if (refused !== null) return rejected(s, def, `ERR ${refused}`);
  }
  sc.proto = host.resp;
  sc.out.reset();
  void call(s, sc, def, argv);
  // As in Redis 7.0, a script that runs a read-only command makes a tracking caller remember
  // the keys the script declared (not the keys that command read); one that reads nothing
  // leaves nothing tracked.
  const t = caller.tracking;
  if (t !== null && !t.bcast && def.flags.includes("readonly")) {
    s.tracking.remember(caller, running.keys);
  }
  // Decoded from the writer's buffer (the decoder copies what it is given), then emptied.
  const reply = decodeReply(sc.out.buf.subarray(0, sc.out.len));
  sc.out.reset();
  return reply;
}

/** Replies larger than this get a decoder of their own (whose buffer then goes with it). */
const SHARED_DECODER_MAX_BYTES = 64 * 1024;
/**
 * The decoder of the replies of commands run by scripts. One serves every call, as a new one
 * allocates its buffer: each call pushes one complete reply and decodes it whole, synchronously.
 */
let replyDecoder = new RespDecoder();

function decodeReply(bytes: Uint8Array): RespValue | RespError {
  const d = bytes.length > SHARED_DECODER_MAX_BYTES ? new RespDecoder() : replyDecoder;
  d.push(bytes);
  const v = d.next();
  // Never left holding part of a reply for the next call.
  if (d === replyDecoder && d.pending !== 0) replyDecoder = new RespDecoder();
  if (v === NEED_MORE) return new RespError("ERR reply of the command could not be read");
  return v;
}

function evalCommand(roCommand: boolean, bySha: boolean) {
  return (s: Engine, c: ClientState, argv: string[]): void | Promise<void> => {
    // As in Redis, the script shows in MONITOR before the commands it runs.
    if (s.monitors.size > 0) feedMonitors(s, c, c.db.id, argv);
    let cached: EvalScript | undefined;
    if (bySha) {
      // The script is looked up before numkeys is read, as in Redis.
      cached = s.scripting.scripts.get(argv[1]!.toLowerCase());
      if (!cached) {
        c.error("NOSCRIPT No matching script. Please use EVAL.");
        return;
      }
    }
    const n = numKeys(c, argv, 2);
    if (n === null) return;
    const script = cached ?? loadScript(s, argv[1]!);
    if (typeof script === "string") {
      c.error(script);
      return;
    }
    return runScript(s, c, {
      ref: script.ref,
      name: script.sha,
      flags: script.flags,
      roCommand,
      isFunction: false,
      keys: argv.slice(3, 3 + n),
      args: argv.slice(3 + n),
    }, argv);
  };
}

function fcallCommand(roCommand: boolean) {
  return (s: Engine, c: ClientState, argv: string[]): void | Promise<void> => {
    if (s.monitors.size > 0) feedMonitors(s, c, c.db.id, argv);
    const fn: LibFunction | undefined = s.scripting.functions.get(argv[1]!.toLowerCase());
    if (!fn) {
      c.error("ERR Function not found");
      return;
    }
    const n = numKeys(c, argv, 2, "ERR Bad number of keys provided");
    if (n === null) return;
    return runScript(s, c, {
      ref: fn.ref,
      name: fn.name,
      flags: fn.flags,
      roCommand,
      isFunction: true,
      keys: argv.slice(3, 3 + n),
      args: argv.slice(3 + n),
    }, argv);
  };
}

// ---- SCRIPT ----

function scriptLoad(s: Engine, c: ClientState, argv: string[]): void {
  const script = loadScript(s, argv[2]!);
  if (typeof script === "string") c.error(script);
  else c.out.bulk(script.sha);
}

function scriptExists(s: Engine, c: ClientState, argv: string[]): void {
  c.out.array(argv.length - 2);
  for (let i = 2; i < argv.length; i++) {
    c.out.int(s.scripting.scripts.has(argv[i]!.toLowerCase()) ? 1 : 0);
  }
}

function flushMode(c: ClientState, argv: string[], what: string): boolean {
  if (argv.length === 2) return true;
  const m = argv[2]!.toLowerCase();
  if (argv.length === 3 && (m === "sync" || m === "async")) return true;
  c.error(`ERR ${what} only support SYNC|ASYNC option`);
  return false;
}

function scriptFlush(s: Engine, c: ClientState, argv: string[]): void {
  if (!flushMode(c, argv, "SCRIPT FLUSH")) return;
  s.scripting.flushScripts();
  c.out.ok();
}

/** SCRIPT DEBUG: NO (the only mode served: there is no Lua debugger here). */
function scriptDebug(_s: Engine, c: ClientState, argv: string[]): void {
  // Replies still waiting to be written (earlier commands of a pipeline, EXEC's array): refused,
  // as Redis refuses it.
  if (c.out.len > 0) {
    c.error("ERR SCRIPT DEBUG must be called outside a pipeline");
    return;
  }
  const mode = argv[2]!.toLowerCase();
  if (mode === "no") c.out.ok();
  else if (mode === "yes" || mode === "sync") {
    c.error("ERR SCRIPT DEBUG YES/SYNC is not supported: this server has no Lua debugger");
  } else c.error("ERR Use SCRIPT DEBUG YES/SYNC/NO");
}

/** The BUSY error while a script of the other kind runs (EVAL vs function), as Redis's. */
function busyText(isFunction: boolean): string {
  return `BUSY Redis is busy running a script. You can only call ${
    isFunction ? "FUNCTION" : "SCRIPT"
  } KILL or SHUTDOWN NOSAVE.`;
}

function killRunning(s: Engine, c: ClientState, functions: boolean): void {
  const r = s.scripting.running;
  if (!r) {
    c.error("NOTBUSY No scripts in execution right now.");
    return;
  }
  if (r.wrote) {
    c.error(
      "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
    );
    return;
  }
  // SCRIPT KILL does not kill a function, nor FUNCTION KILL an EVAL script.
  if (r.isFunction !== functions) {
    c.error(busyText(r.isFunction));
    return;
  }
  r.killed = true;
  c.out.ok();
}

const SCRIPT_HELP = [
  "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "DEBUG (YES|SYNC|NO)",
  "    Set the debug mode for subsequent scripts executed.",
  "EXISTS <sha1> [<sha1> ...]",
  "    Return information about the existence of the scripts in the script cache.",
  "FLUSH [ASYNC|SYNC]",
  "    Flush the Lua scripts cache. Very dangerous on replicas.",
  "    When called without the optional mode argument, the behavior is determined by the",
  "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
  "    * ASYNC: Asynchronously flush the scripts cache.",
  "    * SYNC: Synchronously flush the scripts cache.",
  "KILL",
  "    Kill the currently executing Lua script.",
  "LOAD <script>",
  "    Load a script into the scripts cache without executing it.",
  "HELP",
  "    Prints this help.",
];

const FUNCTION_HELP = [
  "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "LOAD [REPLACE] <FUNCTION CODE>",
  "    Create a new library with the given library name and code.",
  "DELETE <LIBRARY NAME>",
  "    Delete the given library.",
  "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
  "    Return general information on all the libraries:",
  "    * Library name",
  "    * The engine used to run the Library",
  "    * Library description",
  "    * Functions list",
  "    * Library code (if WITHCODE is given)",
  "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
  "STATS",
  "    Return information about the current function running:",
  "    * Function name",
  "    * Command used to run the function",
  "    * Duration in MS that the function is running",
  "    If no function is running, return nil",
  "    In addition, returns a list of available engines.",
  "KILL",
  "    Kill the current running function.",
  "FLUSH [ASYNC|SYNC]",
  "    Delete all the libraries.",
  "    When called without the optional mode argument, the behavior is determined by the",
  "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
  "    * ASYNC: Asynchronously flush the libraries.",
  "    * SYNC: Synchronously flush the libraries.",
  "DUMP",
  "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
  "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
  "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
  "    control how to handle existing libraries (default APPEND):",
  "    * FLUSH: delete all existing libraries.",
  "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
  "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
  "      libraries with the new libraries (notice that even on this option there is a chance of failure",
  "      in case of functions name collision with another library).",
  "HELP",
  "    Prints this help.",
];

// ---- FUNCTION ----

function functionLoad(s: Engine, c: ClientState, argv: string[]): void {
  let replace = false;
  let i = 2;
  for (; i < argv.length - 1; i++) {
    if (argv[i]!.toLowerCase() === "replace") replace = true;
    else {
      c.error(`ERR Unknown option given: ${argv[i]}`);
      return;
    }
  }
  if (i !== argv.length - 1) {
    c.error("ERR Function code is missing");
    return;
  }
  const r = loadLibrary(s.scripting, argv[i]!, replace);
  if (typeof r === "object") {
    c.error(r.error);
    return;
  }
  s.dirty++;
  c.out.bulk(r);
}

function functionDelete(s: Engine, c: ClientState, argv: string[]): void {
  if (!deleteLibrary(s.scripting, argv[2]!)) {
    c.error("ERR Library not found");
    return;
  }
  s.dirty++;
  c.out.ok();
}

function functionFlush(s: Engine, c: ClientState, argv: string[]): void {
  if (argv.length === 3) {
    const m = argv[2]!.toLowerCase();
    if (m !== "sync" && m !== "async") {
      c.error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
      return;
    }
  } else if (argv.length > 3) {
    subcommandSyntaxError(c, argv, "FUNCTION");
    return;
  }
  flushLibraries(s.scripting);
  s.dirty++;
  c.out.ok();
}

function functionList(s: Engine, c: ClientState, argv: string[]): void {
  let withCode = false;
  let pattern: string | null = null;
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i]!.toLowerCase();
    if (a === "withcode" && !withCode) withCode = true;
    else if (a === "libraryname" && pattern === null && i + 1 < argv.length) pattern = argv[++i]!;
    else {
      if (a === "withcode") c.error(`ERR Unknown argument ${argv[i]}`);
      else if (a === "libraryname" && pattern === null) {
        c.error("ERR library name argument was not given");
      } else if (a === "libraryname") c.error("ERR Unknown argument libraryname");
      else c.error(`ERR Unknown argument ${argv[i]}`);
      return;
    }
  }
  listLibraries(s.scripting, c.out, pattern, withCode);
}

function functionStats(s: Engine, c: ClientState): void {
  const r = s.scripting.running;
  if (r && !r.isFunction) {
    c.error(busyText(false));
    return;
  }
  c.out.map(2);
  c.out.bulk("running_script");
  if (r && r.isFunction) {
    c.out.map(3);
    c.out.bulk("name");
    c.out.bulk(r.name);
    c.out.bulk("command");
    c.out.array(r.argv.length);
    for (const a of r.argv) c.out.bulk(a);
    c.out.bulk("duration_ms");
    c.out.int(s.clock.nowMs() - r.startMs);
  } else c.out.nullBulk();
  c.out.bulk("engines");
  c.out.map(1);
  c.out.bulk("LUA");
  c.out.map(2);
  c.out.bulk("libraries_count");
  c.out.int(s.scripting.libraries.size);
  c.out.bulk("functions_count");
  c.out.int(s.scripting.functions.size);
}

function functionDump(s: Engine, c: ClientState): void {
  c.out.bulk(dumpFunctions(s.scripting));
}

function functionRestore(s: Engine, c: ClientState, argv: string[]): void {
  let policy: "flush" | "append" | "replace" = "append";
  if (argv.length > 4) {
    subcommandSyntaxError(c, argv, "FUNCTION");
    return;
  }
  if (argv.length === 4) {
    const p = argv[3]!.toLowerCase();
    if (p !== "flush" && p !== "append" && p !== "replace") {
      c.error("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.");
      return;
    }
    policy = p;
  }
  const err = restoreFunctions(s.scripting, argv[2]!, policy);
  if (err !== null) {
    c.error(err);
    return;
  }
  s.dirty++;
  c.out.ok();
}

const SCRIPT_KEY_SPEC_META = { numkeys: [0, 2, 3] as [number, number, number] };
const EVAL_FLAGS = "noscript stale skip_monitor no_mandatory_keys";
const EVAL_RO_FLAGS = "readonly noscript stale skip_monitor no_mandatory_keys";

const sub = (
  name: string,
  arity: number,
  flags: string,
  handler: (s: Engine, c: ClientState, argv: string[]) => void,
  summary: string,
  since = "2.6.0",
): CommandDef => cmd(name, arity, flags, null, "scripting", handler, { summary, since });

export const SCRIPTING_COMMANDS: CommandDef[] = [
  cmd("eval", -3, EVAL_FLAGS, null, "scripting", evalCommand(false, false), {
    summary: "Executes a server-side Lua script.",
    since: "2.6.0",
    complexity: "Depends on the script that is executed.",
    ...SCRIPT_KEY_SPEC_META,
  }),
  cmd("evalsha", -3, EVAL_FLAGS, null, "scripting", evalCommand(false, true), {
    summary: "Executes a server-side Lua script by SHA1 digest.",
    since: "2.6.0",
    complexity: "Depends on the script that is executed.",
    ...SCRIPT_KEY_SPEC_META,
  }),
  cmd("eval_ro", -3, EVAL_RO_FLAGS, null, "scripting", evalCommand(true, false), {
    summary: "Executes a read-only server-side Lua script.",
    since: "7.0.0",
    complexity: "Depends on the script that is executed.",
    ...SCRIPT_KEY_SPEC_META,
  }),
  cmd("evalsha_ro", -3, EVAL_RO_FLAGS, null, "scripting", evalCommand(true, true), {
    summary: "Executes a read-only server-side Lua script by SHA1 digest.",
    since: "7.0.0",
    complexity: "Depends on the script that is executed.",
    ...SCRIPT_KEY_SPEC_META,
  }),
  cmd("fcall", -3, EVAL_FLAGS, null, "scripting", fcallCommand(false), {
    summary: "Invokes a function.",
    since: "7.0.0",
    complexity: "Depends on the function that is executed.",
    ...SCRIPT_KEY_SPEC_META,
  }),
  cmd("fcall_ro", -3, EVAL_RO_FLAGS, null, "scripting", fcallCommand(true), {
    summary: "Invokes a read-only function.",
    since: "7.0.0",
    complexity: "Depends on the function that is executed.",
    ...SCRIPT_KEY_SPEC_META,
  }),
  container("script", "scripting", [
    sub(
      "script|load",
      3,
      "noscript stale",
      scriptLoad,
      "Loads a server-side Lua script to the script cache.",
    ),
    sub(
      "script|exists",
      -3,
      "noscript",
      scriptExists,
      "Determines whether server-side Lua scripts exist in the script cache.",
    ),
    sub(
      "script|flush",
      -2,
      "noscript",
      scriptFlush,
      "Removes all server-side Lua scripts from the script cache.",
    ),
    sub(
      "script|debug",
      3,
      "noscript",
      scriptDebug,
      "Sets the debug mode of server-side Lua scripts.",
      "3.2.0",
    ),
    sub(
      "script|kill",
      2,
      "noscript allow_busy",
      (s, c) => killRunning(s, c, false),
      "Terminates a server-side Lua script during execution.",
    ),
    sub(
      "script|help",
      2,
      "loading stale",
      (_s, c) => replyHelp(c, SCRIPT_HELP),
      "Returns helpful text about the different subcommands.",
      "5.0.0",
    ),
  ], { summary: "A container for Lua scripts management commands.", since: "2.6.0" }),
  container("function", "scripting", [
    sub("function|load", -3, "write denyoom noscript", functionLoad, "Creates a library.", "7.0.0"),
    sub(
      "function|delete",
      3,
      "write noscript",
      functionDelete,
      "Deletes a library and its functions.",
      "7.0.0",
    ),
    sub(
      "function|flush",
      -2,
      "write noscript",
      functionFlush,
      "Deletes all libraries and functions.",
      "7.0.0",
    ),
    sub(
      "function|list",
      -2,
      "noscript",
      functionList,
      "Returns information about all libraries.",
      "7.0.0",
    ),
    sub(
      "function|stats",
      2,
      "noscript allow_busy",
      functionStats,
      "Returns information about a function during execution.",
      "7.0.0",
    ),
    sub(
      "function|kill",
      2,
      "noscript allow_busy",
      (s, c) => killRunning(s, c, true),
      "Terminates a function during execution.",
      "7.0.0",
    ),
    sub(
      "function|dump",
      2,
      "noscript",
      functionDump,
      "Dumps all libraries into a serialized binary payload.",
      "7.0.0",
    ),
    sub(
      "function|restore",
      -3,
      "write denyoom noscript",
      functionRestore,
      "Restores all libraries from a payload.",
      "7.0.0",
    ),
    sub(
      "function|help",
      2,
      "loading stale",
      (_s, c) => replyHelp(c, FUNCTION_HELP),
      "Returns helpful text about the different subcommands.",
      "7.0.0",
    ),
  ], { summary: "A container for function commands.", since: "7.0.0" }),
];
