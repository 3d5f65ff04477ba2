/**
 * sentinel: a Redis Sentinel 7.0 compatible monitor.
 * Usage mirrors redis-sentinel: `sentinel <sentinel.conf> [--directive value ...]`.
 * Thin wiring only: config -> runtime (links, timer) -> RESP server and HTTP admin API.
 */
import { parseServerArgs } from "../shared/config/args.ts";
import { ConfigError, parseConfigText } from "../shared/config/parse.ts";
import { getLogger, setupLogging } from "../shared/log.ts";
import { REDIS_VERSION } from "../shared/version.ts";
import { applyLines, defaultConfig, type SentinelConfig } from "./config.ts";
import { Runtime } from "./runtime.ts";
import { SentinelServer } from "./server.ts";
import { startSentinelAdmin } from "./admin.ts";

const HELP = `Usage: sentinel /path/to/sentinel.conf [options]
       sentinel -v or --version
       sentinel -h or --help

A Redis Sentinel ${REDIS_VERSION} compatible monitor. The config file is required and must be
writable: the sentinel records its ID, epochs, replicas and peers in it. Any directive can also
be given on the command line as --name value [value ...], for example:

       sentinel sentinel.conf --port 26380
       sentinel sentinel.conf --sentinel monitor mymaster 127.0.0.1 6379 2

Directives: port, bind, protected-mode, requirepass, user (ACL users, as in redis.conf),
aclfile, dir, logfile, loglevel, and the "sentinel ..." lines of redis-sentinel (monitor, down-after-milliseconds, failover-timeout,
parallel-syncs, auth-pass, auth-user, notification-script, client-reconfig-script,
announce-ip, announce-port, resolve-hostnames, announce-hostnames, sentinel-user,
sentinel-pass, deny-scripts-reconfig, rename-command, master-reboot-down-after-period).

Directives of our own:
       admin-port <port>    HTTP admin API port (0 = port + 1000, -1 = disabled)
       admin-bind <addr>    HTTP admin API address (default 127.0.0.1)
       admin-token <token>  bearer token required by mutating admin routes
`;

function randomId(): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(20)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

/** Reads the config (file, then command line); null after --help/--version. */
export function loadSentinelConfig(args: string[]): { cfg: SentinelConfig; file: string } | null {
  const cli = parseServerArgs(args);
  if (cli.help) {
    console.log(HELP);
    return null;
  }
  if (cli.version) {
    console.log(
      `sentinel v=${REDIS_VERSION} (Redis Sentinel compatible) deno=${Deno.version.deno}`,
    );
    return null;
  }
  if (!cli.configFile) {
    throw new ConfigError(
      "(command line)",
      0,
      "Sentinel needs config file on disk to save state. Exiting...",
    );
  }
  let file = cli.configFile;
  try {
    file = Deno.realPathSync(file);
  } catch { /* reported below */ }
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (e) {
    throw new ConfigError(file, 0, `Fatal error, can't open config file: ${(e as Error).message}`);
  }
  // Redis refuses a config file it could not rewrite.
  try {
    Deno.openSync(file, { write: true }).close();
  } catch {
    throw new ConfigError(file, 0, "Sentinel config file is not writable. Exiting...");
  }
  const cfg = defaultConfig();
  // A sentinel is meant to be reached from other hosts: protected mode is off by default.
  cfg.protectedMode = false;
  applyLines(cfg, [...parseConfigText(text, file), ...cli.overrides]);
  return { cfg, file };
}

async function main(): Promise<void> {
  let loaded: { cfg: SentinelConfig; file: string } | null;
  try {
    loaded = loadSentinelConfig(Deno.args);
  } catch (e) {
    console.error(`*** FATAL CONFIG ERROR ***\n${(e as Error).message}`);
    Deno.exit(1);
  }
  if (!loaded) return;
  const { cfg, file } = loaded;
  // First, as Redis applies `dir` while reading its config: a relative logfile is in `dir`.
  try {
    Deno.chdir(cfg.dir);
  } catch (e) {
    console.error(`Can't chdir to '${cfg.dir}': ${(e as Error).message}`);
    Deno.exit(1);
  }
  await setupLogging({
    role: "sentinel",
    level: cfg.loglevel,
    ...(cfg.logfile ? { file: cfg.logfile } : {}),
  });
  const log = getLogger(["sentinel"]);
  const rt = new Runtime(cfg, file);
  const fresh = cfg.myid === "";
  if (fresh) cfg.myid = randomId();
  const server = new SentinelServer(rt, file);
  const aclErr = server.loadUsers();
  if (aclErr) {
    console.error(aclErr);
    Deno.exit(1);
  }
  try {
    server.listen();
  } catch (e) {
    log.error("{err}", { err: (e as Error).message });
    Deno.exit(1);
  }
  // The ID (new or kept) and the state are on disk before anything else happens.
  rt.monitor.save();
  log.warn("Sentinel ID is {id}", { id: cfg.myid });
  for (const m of rt.monitor.masters.values()) {
    log.warn("+monitor master {name} {host} {port} quorum {q}", {
      name: m.name,
      host: m.host,
      port: m.port,
      q: m.config.quorum,
    });
  }
  rt.start();
  const admin = startSentinelAdmin(server);
  const stop = async () => {
    server.close();
    await rt.stop();
    await admin?.shutdown();
    Deno.exit(0);
  };
  server.onShutdown = () => void stop();
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(sig, () => {
      log.warn("Received {sig} scheduling shutdown...", { sig });
      void stop();
    });
  }
  log.info("Sentinel ready to accept connections tcp on port {port}", { port: server.boundPort });
}

if (import.meta.main) await main();
