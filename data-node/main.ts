/**
 * data-node: a Redis 7 compatible server.
 * Usage mirrors redis-server: `data-node [config-file] [--directive value ...]`.
 * Thin wiring only: config -> server -> listeners (RESP and the HTTP admin API).
 */
import { subcommandSyntaxError } from "./commands/define.ts";
import { parseServerArgs } from "../shared/config/args.ts";
import { type ConfigLine, parseConfigText } from "../shared/config/parse.ts";
import { Config, ConfigError } from "../shared/config/schema.ts";
import { getLogger, setLogRoleChar, setupLogging } from "../shared/log.ts";
import { CONFIG_RENAMES, CONFIG_USERS, DATA_NODE_PARAMS, type ReplicaOf } from "./config.ts";
import { loadUsersAtStartup } from "./server/acl_shell.ts";
import { formatUsers } from "./acl/file.ts";
import type { CachedMaster } from "./replication/replica.ts";
import { Cluster } from "./cluster/cluster.ts";
import { ClusterBus } from "./cluster/bus.ts";
import { buildCommandTable } from "./commands/table.ts";
import type { CommandDef } from "./commands/types.ts";
import { Server } from "./server/server.ts";
import { REDIS_VERSION } from "../shared/version.ts";
import { startDataNodeAdmin } from "./admin.ts";
import { Persistence } from "./persistence/snapshot.ts";
import { Aof } from "./persistence/aof.ts";
import { debugLoadAof, debugObject, debugReload } from "./commands/persistence_cmds.ts";

/** Connects RDB persistence to the server's SHUTDOWN, FLUSHALL and DEBUG hooks. */
function wirePersistence(server: Server): Persistence {
  const p = new Persistence(server);
  server.persistence = p;
  server.debugExtensions.set("reload", debugReload);
  server.debugExtensions.set("object", debugObject);
  server.debugExtensions.set("loadaof", debugLoadAof);
  // FLUSHALL stops the RDBs being written (a BGSAVE, a full sync's: they hold the old dataset)
  // and saves right away when save points are configured, as Redis does.
  server.afterFlushAll = () => {
    p.abortRdbWrites();
    if (p.hasSaveRules()) p.saveSync();
  };
  server.beforeShutdown = async (save, force) => {
    if (server.aof?.initialRewrite) {
      // Without its first rewrite the AOF has nothing to restart from (Redis refuses too).
      if (!force) {
        getLogger(["data-node"]).warn("Writing initial AOF, can't exit.");
        return false;
      }
      getLogger(["data-node"]).warn("Writing initial AOF. Exit anyway.");
    } else if (server.aof?.rewriting) await server.aof.rewriting;
    // The RDBs being written are stopped, as Redis kills its RDB child; the save below (if any)
    // is the one that counts.
    p.abortRdbWrites();
    if (p.bgsave) await p.bgsave;
    // The AOF is flushed and synced first; it stays on should the save fail and the node go on.
    server.aof?.flush(true);
    if (save === true || (save === null && p.hasSaveRules())) {
      if (!p.saveSync()) {
        if (!force) {
          getLogger(["data-node"]).warn("Error trying to save the DB, can't exit.");
          return false;
        }
        getLogger(["data-node"]).warn("Error trying to save the DB. Exit anyway.");
      }
    }
    if (server.aof?.enabled) server.aof.stop();
    p.stop();
    return true;
  };
  return p;
}

/** The replication ID, offset and stream database an RDB recorded, when it has all three. */
function resumeFrom(aux: Map<string, string>): CachedMaster | null {
  const replId = aux.get("repl-id"), offset = Number(aux.get("repl-offset"));
  const db = Number(aux.get("repl-stream-db") ?? "-1");
  if (!replId || replId.length !== 40 || !Number.isSafeInteger(offset) || offset < 0) return null;
  if (!Number.isInteger(db) || db < 0) return null;
  return { replId, offset, db };
}

const HELP = `Usage: data-node [/path/to/redis.conf] [options] [-]
       data-node -v or --version
       data-node -h or --help

A Redis ${REDIS_VERSION} compatible data node. Directives are redis.conf's; any of them can
be given on the command line as --name value [value ...], after an optional config file.

Examples:
       data-node (run with default config)
       data-node /etc/redis/6379.conf
       data-node --port 7777
       data-node --port 7000 --save "" --appendonly no --dir /data
       data-node /etc/myredis.conf --loglevel verbose --requirepass secret

Directives of our own:
       admin-port <port>    HTTP admin API port (0 = data port + 1000, -1 = disabled)
       admin-bind <addr>    HTTP admin API address (default 127.0.0.1)
       admin-token <token>  bearer token required by mutating admin routes (without one,
                            they are refused unless admin-bind is a loopback address)
       repl-rdb-channel yes|no
                            a full sync between two data nodes sends the RDB on a second
                            connection while the stream goes to the replica (default yes)
`;

export async function loadConfig(args: string[]): Promise<Config | null> {
  const cli = parseServerArgs(args);
  if (cli.help) {
    console.log(HELP);
    return null;
  }
  if (cli.version) {
    console.log(`data-node v=${REDIS_VERSION} (Redis-compatible) deno=${Deno.version.deno}`);
    return null;
  }
  const config = new Config(DATA_NODE_PARAMS);
  const lines = [];
  if (cli.configFile) {
    const file = await Deno.realPath(cli.configFile).catch(() => cli.configFile!);
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch (e) {
      throw new ConfigError(
        file,
        0,
        `Fatal error, can't open config file: ${(e as Error).message}`,
      );
    }
    lines.push(...parseConfigText(text, file));
    config.configFile = file;
  }
  lines.push(...cli.overrides);
  // `user` lines define ACL users; the server applies them once it has its command table.
  const isUser = (l: { name: string }) => l.name.toLowerCase() === "user";
  CONFIG_USERS.set(config, lines.filter(isUser).map((l) => l.args));
  // `rename-command` lines apply to the command table once it is built.
  const isRename = (l: { name: string }) => l.name === "rename-command";
  CONFIG_RENAMES.set(config, lines.filter(isRename));
  config.load(lines.filter((l) => !isUser(l) && !isRename(l)));
  return config;
}

/**
 * Applies `rename-command <name> <new-name>` lines as Redis does: the command is reachable under
 * the new name only ("" removes it). The error of the first bad line, or null.
 */
export function renameCommands(
  commands: Map<string, CommandDef>,
  lines: readonly ConfigLine[],
): ConfigError | null {
  for (const l of lines) {
    const fail = (reason: string) => new ConfigError(l.file, l.line, reason, l.text);
    if (l.args.length !== 2) return fail("Bad directive or wrong number of arguments");
    const from = l.args[0]!.toLowerCase(), to = l.args[1]!.toLowerCase();
    const def = commands.get(from);
    if (!def) return fail("No such command in rename-command");
    commands.delete(from);
    if (to === "") continue;
    if (commands.has(to)) return fail("Target command name already exists");
    commands.set(to, def);
  }
  return null;
}

async function main(): Promise<void> {
  let config: Config | null;
  try {
    config = await loadConfig(Deno.args);
  } catch (e) {
    if (!(e instanceof ConfigError) && !(e instanceof Error)) throw e;
    console.error(`*** FATAL CONFIG ERROR ***\n${e.message}`);
    Deno.exit(1);
  }
  if (!config) return;
  // First, as Redis applies `dir` while reading its config: a relative logfile is in `dir`.
  try {
    Deno.chdir(config.getString("dir"));
  } catch (e) {
    console.error(`Can't chdir to '${config.getString("dir")}': ${(e as Error).message}`);
    Deno.exit(1);
  }
  await setupLogging({
    role: "data-node",
    level: config.getString("loglevel"),
    ...(config.getString("logfile") ? { file: config.getString("logfile") } : {}),
  });
  const log = getLogger(["data-node"]);
  config.onChange("loglevel", (level) => {
    void setupLogging({
      role: "data-node",
      level: level as string,
      ...(config.getString("logfile") ? { file: config.getString("logfile") } : {}),
    });
    return undefined;
  });
  const commands = buildCommandTable();
  const renameError = renameCommands(commands, CONFIG_RENAMES.get(config) ?? []);
  if (renameError) {
    console.error(`*** FATAL CONFIG ERROR ***\n${renameError.message}`);
    Deno.exit(1);
  }
  const server = new Server(config, commands);
  const aclError = loadUsersAtStartup(server, CONFIG_USERS.get(config) ?? []);
  if (aclError) {
    console.error(`*** FATAL CONFIG ERROR ***\n${aclError}`);
    Deno.exit(1);
  }
  config.rewriteExtra.set(
    "user",
    () => config.getString("aclfile") ? [] : formatUsers(server.acl),
  );
  setLogRoleChar(() => server.role === "replica" ? "S" : "M");
  const persistence = wirePersistence(server);
  const aof = new Aof(server, persistence);
  server.aof = aof;
  // Registered before the node listens (it may listen while it loads, and DEBUG runs then).
  // A crash (SIGABRT, or DEBUG SEGFAULT standing for a memory fault) ends the process at once
  // after a report in the log, with the exit status of that signal, as redis-server's crash does.
  const crash = (signal: number, name: string, cause: string) => {
    log.warn("=== DATA NODE CRASH REPORT ===");
    log.warn("data node {version} crashed by signal: {signal} ({name}, {cause})", {
      version: REDIS_VERSION,
      signal,
      name,
      cause,
    });
    log.warn("=== DATA NODE CRASH REPORT END ===");
    Deno.exit(128 + signal);
  };
  Deno.addSignalListener("SIGABRT", () => crash(6, "SIGABRT", "sent to the process"));
  server.debugExtensions.set("aof-flush-sleep", (_s, c, argv) => {
    if (argv.length !== 3) return subcommandSyntaxError(c, argv, "DEBUG");
    // Read as C's atoi reads it: a leading integer, anything else is 0.
    const us = parseInt(argv[2]!.trimStart(), 10);
    aof.flushSleepUs = Number.isFinite(us) && us > 0 ? us : 0;
    c.out.ok();
  });
  server.debugExtensions.set("segfault", () => crash(11, "SIGSEGV", "DEBUG SEGFAULT"));
  if (server.clusterEnabled) {
    try {
      server.cluster = new Cluster(server);
    } catch (e) {
      console.error(`*** FATAL CONFIG ERROR ***\n${(e as Error).message}`);
      Deno.exit(1);
    }
  }
  const mode = server.clusterEnabled ? "cluster" : "standalone";
  // A banner of the facts tools look for in a fresh log: version, mode, port and PID. Printed
  // once the server listens (before a load that runs while listening, as Redis prints its logo
  // before loading), or before the error of a load that fails (so a failed start shows the same
  // first lines as one that worked). Once only.
  let bannerShown = false;
  const banner = (port: number) => {
    if (bannerShown || !config.get<boolean>("always-show-logo")) return;
    bannerShown = true;
    log.info("\n  data node {version} ({bits} bit), {mode} mode\n  Port: {port}\n  PID: {pid}\n", {
      version: REDIS_VERSION,
      bits: 64,
      mode,
      port,
      pid: Deno.pid,
    });
  };
  const master = config.get<ReplicaOf>("replicaof");
  // A replica keeps the keys its RDB holds even when their TTL passed: its master expires them.
  // In cluster mode nodes.conf tells the role (Redis's iAmMaster reads the cluster's myself).
  if (master || server.cluster?.myself.slaveof) server.setRole("replica");
  // Also during the load below: a shutdown then exits without saving.
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(sig, () => {
      log.warn("Received {sig} scheduling shutdown...", { sig });
      void server.shutdown(null);
    });
  }
  let resume: CachedMaster | null = null;
  // A corrupt or truncated file stops startup and is left untouched for inspection.
  const loadFailed = (e: unknown): never => {
    banner(config.get<number>("port"));
    log.error("Fatal error loading the DB, check server logs. Exiting. ({err})", {
      err: (e as Error).message,
    });
    console.error(
      `Fatal error loading the DB (${config.getString("dbfilename")}): ${(e as Error).message}`,
    );
    Deno.exit(1);
  };
  try {
    if (config.get<boolean>("appendonly")) aof.upgradeFromSingleFile();
  } catch (e) {
    loadFailed(e);
  }
  const fromAof = config.get<boolean>("appendonly") && aof.exists();
  // The dataset (an RDB or the AOF) loads while the node already listens, as Redis's does: clients
  // are told -LOADING until it is in (a sentinel sees a rebooted master still loading). In cluster
  // mode the bus starts once the data is in, which may claim the slots of the keys it holds.
  listenOrExit(server);
  banner(server.boundPort());
  server.loading = true;
  try {
    if (fromAof) await aof.load();
    else if (master || server.cluster?.myself.slaveof) {
      // A replica (a cluster one too: nodes.conf says so) continues the history its RDB records.
      const loaded = await persistence.loadAtStartupAsync();
      if (loaded) resume = resumeFrom(persistence.lastLoadAux);
    } else {
      // A master's backlog gets a DEL for every key the load drops for its past TTL: if the
      // file says what history it continues, its replicas continue too (see below).
      const stream = server.createReplicationStream();
      const dropped = (db: number, key: string) => stream.appendArgv(db, ["DEL", key]);
      const loaded = await persistence.loadAtStartupAsync(dropped);
      server.restoreMasterHistory(loaded ? resumeFrom(persistence.lastLoadAux) : null);
    }
  } catch (e) {
    loadFailed(e);
  }
  server.loading = false;
  persistence.start();
  if (config.get<boolean>("appendonly")) await aof.start(true);
  config.onChange("appendonly", (on) => {
    if (on && !aof.enabled) void aof.start();
    else if (!on && aof.enabled) aof.stop();
    return undefined;
  });
  // A replica (of --replicaof, or a cluster replica per nodes.conf) follows its master; what its
  // RDB says it had lets a partial resync continue from there.
  const follow = (host: string, port: number) => {
    if (resume) {
      server.replId = resume.replId;
      server.replOffset = resume.offset;
    }
    server.replication.replicaOf(host, port, resume);
  };
  if (server.cluster) {
    if (!server.cluster.verifyWithData()) {
      log.error(
        "You can't have keys in a DB different than DB 0 when in Cluster mode. Exiting.",
      );
      Deno.exit(1);
    }
    try {
      new ClusterBus(server, server.cluster).start();
    } catch (e) {
      log.error("Could not listen on the cluster bus port: {err}", { err: (e as Error).message });
      Deno.exit(1);
    }
    // A replica in nodes.conf follows its master again.
    const me = server.cluster.myself;
    const m = me.slaveof ? server.cluster.st.nodes.get(me.slaveof) : undefined;
    if (m && m.ip) follow(m.ip, m.port);
  }
  if (master) follow(master.host, master.port);
  const admin = startDataNodeAdmin(server);
  server.onClosed = () => void admin.shutdown();
  banner(server.boundPort());
  log.info("Running mode={mode}, port={port}.", { mode, port: server.boundPort() });
  log.info("Server initialized; Ready to accept connections tcp on port {port}", {
    port: server.boundPort(),
  });
}

function listenOrExit(server: Server): void {
  try {
    server.listen();
  } catch (e) {
    const log = getLogger(["data-node"]);
    log.error("{err}", { err: (e as Error).message });
    // Redis's closing line, which supervisors and test harnesses look for to pick another port.
    log.error("Failed listening on port {port} (TCP), aborting.", {
      port: server.config.get<number>("port"),
    });
    Deno.exit(1);
  }
}

if (import.meta.main) await main();
