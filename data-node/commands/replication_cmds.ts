/**
 * Replication commands: REPLICAOF/SLAVEOF, ROLE, WAIT, and the internal ones a replica sends
 * its master (SYNC, PSYNC, REPLCONF). The work is the replication module's (engine.replication);
 * these parse arguments and answer with Redis's replies and errors.
 */
import type { Engine } from "../engine/types.ts";
import type { ClientState } from "../engine/types.ts";
import { cmd, parseIndex, parseIntArg } from "./define.ts";
import { parseMsTimeout } from "./block.ts";
import { ERR } from "../../shared/errors.ts";
import type { ReplicaOf } from "../config.ts";
import { getLogger } from "../../shared/log.ts";
import { splitArgs } from "../../shared/config/parse.ts";

const log = getLogger(["data-node", "replication"]);

/**
 * What REPLICAOF does once its arguments are checked (the admin API's POST /replicaof too):
 * follow `target`, or become a master when it is null, and record it as the replicaof
 * directive (CONFIG GET, CONFIG REWRITE). The reply text; the caller refuses cluster mode.
 */
export function applyReplicaOf(
  s: Pick<Engine, "config" | "replication">,
  target: ReplicaOf,
): string {
  if (target === null) {
    s.replication.promote();
    s.config.setInternal("replicaof", null satisfies ReplicaOf);
    return "OK";
  }
  const reply = s.replication.replicaOf(target.host, target.port);
  s.config.setInternal("replicaof", { host: target.host, port: target.port } satisfies ReplicaOf);
  return reply;
}

function replicaof(s: Engine, c: ClientState, argv: string[]): void {
  if (s.clusterEnabled) {
    c.error("ERR REPLICAOF not allowed in cluster mode.");
    return;
  }
  if (argv[1]!.toLowerCase() === "no" && argv[2]!.toLowerCase() === "one") {
    c.out.simple(applyReplicaOf(s, null));
    return;
  }
  if (c.kind === "replica") {
    c.error("ERR Command is not valid when client is a replica.");
    return;
  }
  const port = parseIntArg(argv[2]!);
  if (port === null) {
    c.error(ERR.notInt);
    return;
  }
  if (port < 0 || port > 65535) {
    c.error("ERR Invalid master port");
    return;
  }
  c.out.simple(applyReplicaOf(s, { host: argv[1]!, port }));
}

function role(s: Engine, c: ClientState): void {
  s.replication.role(c);
}

/** SYNC and PSYNC are refused where Redis refuses them; the reason, or null. */
function syncRefusal(s: Engine, c: ClientState): string | null {
  // A client that is already a replica (a second PSYNC) is ignored, as Redis does.
  if (c.kind === "replica") return "";
  if (s.replication.replica.active && s.replication.replica.state !== "connected") {
    return "NOMASTERLINK Can't SYNC while not connected with my master";
  }
  if (c.out.len > 0) return "ERR SYNC and PSYNC are invalid with pending output";
  return null;
}

function sync(s: Engine, c: ClientState): void {
  const refused = syncRefusal(s, c);
  if (refused !== null) {
    if (refused !== "") c.error(refused);
    return;
  }
  s.replication.master.syncRequest(c, "?", -1, true);
}

function psync(s: Engine, c: ClientState, argv: string[]): void {
  // A master handing over with FAILOVER: if it is ours, we become the master it follows.
  if (argv.length > 3 && argv[3]!.toLowerCase() === "failover" && c.kind !== "replica") {
    if (argv[1] !== s.replId) {
      c.error("ERR PSYNC FAILOVER replid must match my replid.");
      return;
    }
    s.replication.promote();
    s.config.setInternal("replicaof", null satisfies ReplicaOf);
  }
  const refused = syncRefusal(s, c);
  if (refused !== null) {
    if (refused !== "") c.error(refused);
    return;
  }
  const offset = parseIntArg(argv[2]!);
  if (offset === null) {
    log.warn("Replica {addr} asks for synchronization but with a wrong offset", {
      addr: c.addr,
    });
    c.error(ERR.notInt);
    return;
  }
  s.replication.master.syncRequest(c, argv[1]!, offset, false);
}

function replconf(s: Engine, c: ClientState, argv: string[]): void {
  if (argv.length % 2 === 0) {
    c.error(ERR.syntax);
    return;
  }
  const master = s.replication.master;
  for (let i = 1; i < argv.length; i += 2) {
    const opt = argv[i]!.toLowerCase(), val = argv[i + 1]!;
    switch (opt) {
      case "listening-port": {
        const port = parseIntArg(val);
        if (port === null) {
          c.error(ERR.notInt);
          return;
        }
        master.linkOf(c).listeningPort = port;
        break;
      }
      case "ip-address":
        if (val.length >= 256) {
          c.error(
            `ERR REPLCONF ip-address provided by replica instance is too long: ${val.length} bytes`,
          );
          return;
        }
        master.linkOf(c).announcedIp = val;
        break;
      case "capa":
        master.capa(master.linkOf(c), val);
        break;
      case "main-ch-client-id": {
        const id = parseIntArg(val);
        if (id === null || id <= 0) {
          c.error("ERR Invalid main channel client id");
          return;
        }
        master.linkOf(c).mainChannelId = id;
        break;
      }
      case "ack": {
        // Sent by a replica within the stream: never answered.
        const off = parseIntArg(val);
        if (c.replicaLink && c.kind === "replica" && off !== null) master.ack(c.replicaLink, off);
        return;
      }
      case "getack":
        // Our master asks where we are: answered on the link, not as a reply.
        if (c.kind === "master") s.replication.replica.sendAck();
        return;
      case "rdb-only": {
        const v = parseIntArg(val);
        if (v !== 0 && v !== 1) {
          c.error(ERR.syntax);
          return;
        }
        master.linkOf(c).rdbOnly = v === 1;
        break;
      }
      case "rdb-filter-only": {
        // What the RDB includes: nothing but what is listed, and "functions" is all there is.
        const parts = splitArgs(val);
        if (parts === null) {
          c.error("ERR Missing rdb-filter-only values");
          return;
        }
        const filter = { excludeData: true, excludeFunctions: true };
        for (const p of parts) {
          if (p.toLowerCase() !== "functions") {
            c.error(`ERR Unsupported rdb-filter-only option: ${p}`);
            return;
          }
          filter.excludeFunctions = false;
        }
        master.linkOf(c).rdbFilter = filter;
        break;
      }
      default:
        c.error(`ERR Unrecognized REPLCONF option: ${argv[i]}`);
        return;
    }
  }
  c.out.ok();
}

function wait(s: Engine, c: ClientState, argv: string[]): void | Promise<void> {
  if (s.replication.replica.active) {
    c.error(
      "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.",
    );
    return;
  }
  // Any 64-bit count (one past 2^53 asks as much as 2^53 does).
  const n = parseIndex(argv[1]!);
  if (n === null) {
    c.error(ERR.notInt);
    return;
  }
  const t = parseMsTimeout(argv[2]!, s.nowMs);
  if (typeof t === "string") {
    c.error(t);
    return;
  }
  // A deadline past INT64_MAX never comes in Redis: WAIT then waits as with 0.
  const r = s.replication.master.wait(c, n, t.wraps ? 0 : t.ms);
  if (typeof r === "number") {
    c.out.int(r);
    return;
  }
  return r.then((acked) => {
    if (!c.closing) c.out.int(acked);
  });
}

/** FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms]. */
function failover(s: Engine, c: ClientState, argv: string[]): void {
  let target: { host: string; port: number } | null = null;
  let force = false, abort = false, timeoutMs = 0;
  for (let i = 1; i < argv.length; i++) {
    const opt = argv[i]!.toLowerCase();
    const left = argv.length - i - 1;
    if (opt === "to" && left >= 2 && !target) {
      const port = parseIntArg(argv[i + 2]!);
      if (port === null) {
        c.error(ERR.notInt);
        return;
      }
      target = { host: argv[i + 1]!, port };
      i += 2;
    } else if (opt === "timeout" && left >= 1 && !timeoutMs) {
      const t = parseIntArg(argv[i + 1]!);
      if (t === null) {
        c.error(ERR.notInt);
        return;
      }
      if (t <= 0) {
        c.error("ERR FAILOVER timeout must be greater than 0");
        return;
      }
      timeoutMs = t;
      i++;
    } else if (opt === "force" && !force) {
      force = true;
    } else if (opt === "abort" && !abort) {
      abort = true;
    } else {
      c.error(ERR.syntax);
      return;
    }
  }
  if (abort) {
    if (target || force || timeoutMs) {
      // ABORT is only accepted alone, as in Redis.
      c.error(ERR.syntax);
      return;
    }
    const err = s.replication.abortFailover();
    if (err) c.error(err);
    else c.out.ok();
    return;
  }
  const err = s.replication.startFailover({ target, force, timeoutMs });
  if (err) c.error(err);
  else c.out.ok();
}

export const REPLICATION_COMMANDS = [
  cmd("replicaof", 3, "admin noscript stale no_async_loading", null, "server", replicaof, {
    summary: "Make the server a replica of another instance, or promote it as master.",
    since: "5.0.0",
  }),
  cmd("slaveof", 3, "admin noscript stale no_async_loading", null, "server", replicaof, {
    summary: "Make the server a replica of another instance, or promote it as master.",
  }),
  cmd("role", 1, "noscript loading stale fast", null, "server", role, {
    summary: "Returns the replication role.",
    since: "2.8.12",
    acl: ["admin", "dangerous"],
  }),
  cmd("sync", 1, "admin noscript no_async_loading no_multi", null, "server", sync, {
    summary: "Internal command used for replication",
  }),
  cmd("psync", -3, "admin noscript no_async_loading no_multi", null, "server", psync, {
    summary: "Internal command used for replication",
    since: "2.8.0",
  }),
  cmd("replconf", -1, "admin noscript loading stale allow_busy", null, "server", replconf, {
    summary: "An internal command for configuring the replication stream",
    since: "3.0.0",
  }),
  cmd("failover", -1, "admin noscript stale", null, "server", failover, {
    summary: "Start a coordinated failover between this server and one of its replicas.",
    since: "6.2.0",
  }),
  cmd("wait", 3, "noscript", null, "generic", wait, {
    summary:
      "Wait for the synchronous replication of all the write commands sent in the context of the current connection",
    since: "3.0.0",
    acl: ["-keyspace", "connection"],
  }),
];
