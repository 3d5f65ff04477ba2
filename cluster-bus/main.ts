/**
 * cluster-bus: a slot-aware RESP proxy for a Redis Cluster (one endpoint for cluster-unaware
 * clients) and a cluster manager (create, check, fix, reshard, rebalance) in one executable.
 * Thin wiring only: flags -> proxy + admin API, or flags -> one manager command.
 */
import { parseArgs } from "node:util";
import { getLogger, setupLogging } from "../shared/log.ts";
import { REDIS_VERSION } from "../shared/version.ts";
import { ProxyServer } from "./proxy/server.ts";
import { splitAddr } from "./proxy/slot_map.ts";
import { startProxyAdmin } from "./admin.ts";
import { runManager } from "./manager/cli.ts";

const HELP = `Usage: cluster-bus [proxy options]            run the proxy
       cluster-bus <command> [args] [options]      manage a cluster
       cluster-bus -h | --help | -v | --version

A slot-aware RESP proxy (Redis ${REDIS_VERSION} wire protocol) that gives cluster-unaware
clients one endpoint for a whole Redis Cluster, and a cluster manager like redis-cli --cluster.

Proxy options:
  --port <n>              RESP port (default 7777)
  --bind <addr>           address to listen on (default 127.0.0.1)
  --seed <host:port>      a cluster node to learn the slot map from (repeatable; required)
  --admin-port <n>        HTTP admin API port (default port + 1000; -1 = disabled)
  --admin-bind <addr>     HTTP admin API address (default 127.0.0.1)
  --admin-token <token>   bearer token required by mutating admin routes
  --requirepass <pass>    password clients must AUTH with
  --masterauth <pass>     password the proxy sends to the nodes
  --timeout <ms>          per command to a node (default 5000)
  --refresh <ms>          slot map refresh period (default 10000; 0 = only on MOVED)
  --maxclients <n>        most clients at once (default 10000)
  --loglevel <level>      debug, verbose, notice, warning (default notice)

Manager commands:
  create <host:port> ... [--replicas n] [--yes]
  check <host:port>
  fix <host:port> [--yes]
  reshard <host:port> --from <id|all> --to <id> --slots <n> [--pipeline n] [--yes]
  rebalance <host:port> [--weight id=w ...] [--threshold pct] [--use-empty-masters]
            [--pipeline n] [--yes]
  (--masterauth and --timeout apply to them too)
`;

const OPTIONS = {
  port: { type: "string" },
  bind: { type: "string" },
  seed: { type: "string", multiple: true },
  "admin-port": { type: "string" },
  "admin-bind": { type: "string" },
  "admin-token": { type: "string" },
  requirepass: { type: "string" },
  masterauth: { type: "string" },
  timeout: { type: "string" },
  refresh: { type: "string" },
  maxclients: { type: "string" },
  loglevel: { type: "string" },
  replicas: { type: "string" },
  from: { type: "string" },
  to: { type: "string" },
  slots: { type: "string" },
  pipeline: { type: "string" },
  weight: { type: "string", multiple: true },
  threshold: { type: "string" },
  "use-empty-masters": { type: "boolean" },
  yes: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "v" },
} as const;

export type Flags = ReturnType<typeof parse>["values"];

function parse(args: string[]) {
  return parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
}

/** An integer flag in [min, max], or the default; throws a usage error. */
export function intFlag(
  v: string | undefined,
  name: string,
  dflt: number,
  min: number,
  max: number,
): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}`);
  }
  return n;
}

export class UsageError extends Error {}

async function runProxy(f: Flags): Promise<void> {
  const seeds = f.seed ?? [];
  if (seeds.length === 0) throw new UsageError("the proxy needs at least one --seed host:port");
  for (const s of seeds) if (!splitAddr(s)) throw new UsageError(`bad --seed address '${s}'`);
  const port = intFlag(f.port, "port", 7777, 0, 65535);
  const proxy = new ProxyServer({
    bind: f.bind ?? "127.0.0.1",
    port,
    seeds,
    timeoutMs: intFlag(f.timeout, "timeout", 5000, 1, 3_600_000),
    refreshIntervalMs: intFlag(f.refresh, "refresh", 10_000, 0, 3_600_000),
    maxClients: intFlag(f.maxclients, "maxclients", 10_000, 1, 1_000_000),
    ...(f.requirepass ? { requirepass: f.requirepass } : {}),
    ...(f.masterauth ? { password: f.masterauth } : {}),
  });
  const adminPort = intFlag(f["admin-port"], "admin-port", 0, -1, 65535);
  const log = getLogger(["cluster-bus"]);
  const mapped = proxy.start();
  const admin = startProxyAdmin(proxy, {
    port: adminPort,
    bind: f["admin-bind"] ?? "127.0.0.1",
    ...(f["admin-token"] ? { token: f["admin-token"] } : {}),
  });
  const stop = async () => {
    await proxy.close();
    await admin?.shutdown();
    Deno.exit(0);
  };
  for (const sig of ["SIGTERM", "SIGINT"] as const) Deno.addSignalListener(sig, () => void stop());
  log.info("Proxy ready to accept connections tcp on port {port}", { port: proxy.boundPort });
  await mapped;
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parse(Deno.args);
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${HELP}`);
    Deno.exit(2);
  }
  const f = parsed.values;
  if (f.help) return console.log(HELP);
  if (f.version) return console.log(`cluster-bus v=${REDIS_VERSION} deno=${Deno.version.deno}`);
  const level = f.loglevel ?? "notice";
  await setupLogging({ role: "cluster-bus", level });
  try {
    if (parsed.positionals.length > 0) {
      Deno.exit(await runManager(parsed.positionals, f));
    }
    await runProxy(f);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`${e.message}\n(cluster-bus --help lists the options)`);
      Deno.exit(2);
    }
    console.error(`cluster-bus: ${(e as Error).message}`);
    Deno.exit(1);
  }
}

if (import.meta.main) await main();
