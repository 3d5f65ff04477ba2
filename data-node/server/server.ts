/**
 * The data node's server: listeners, clients, databases, and the timers (the "cron").
 * Commands run synchronously on this one event loop, like Redis; the only awaits are socket
 * reads and writes, and waits between commands (blocking commands, CLIENT PAUSE).
 */
import type { Config } from "../../shared/config/schema.ts";
import { ProtocolError } from "../../shared/resp/mod.ts";
import { getLogger } from "../../shared/log.ts";
import { Database, KeyspaceHooks } from "../store/database.ts";
import { Client, REPLY_CHUNK_BYTES, REPLY_MIN_BYTES } from "./client.ts";
import { PubSub } from "./pubsub.ts";
import { Stats } from "./stats.ts";
import type { CommandDef } from "../commands/types.ts";
import { processCommand } from "./dispatch.ts";
import { lookupCommand } from "../engine/call.ts";
import { unwatchAll } from "../engine/transaction.ts";
import { BlockingRegistry } from "./blocking.ts";
import { activeExpireCycle } from "../store/expire.ts";
import { ReplicaKeysWithExpire } from "../store/replica_expire.ts";
import type { OutputLimits } from "../config.ts";
import type { Persistence } from "../persistence/snapshot.ts";
import type { Aof } from "../persistence/aof.ts";
import { pickVictim, type Policy } from "../store/evict.ts";
import { type MemoryStats, memoryStats, usedMemoryEstimate } from "./memory.ts";
import { IdleCollector } from "./idle_gc.ts";
import { infoText } from "./info.ts";
import { clientInfoLine, clientMemory } from "./client_info.ts";
import type { Engine } from "../engine/types.ts";
import { Propagation } from "../engine/propagation.ts";
import { Scripting } from "../scripting/scripting.ts";
import { Notifier, NOTIFY } from "../engine/notify.ts";
import { Tracking } from "./tracking.ts";
import { ReplicationStream } from "../replication/backlog.ts";
import { Replication } from "../replication/replication.ts";
import type { Cluster } from "../cluster/cluster.ts";
import { type Clock, systemClock } from "../../shared/clock.ts";
import { isLocalAddress } from "../../shared/net.ts";
import { BIND_FAILED, LISTEN_FAILED } from "../../shared/errors.ts";
import { Acl, AclLog, type User } from "../acl/acl.ts";
import {
  aclLoad,
  aclSave,
  disconnectSubscribers,
  disconnectUser,
  wireRequirepass,
} from "./acl_shell.ts";

import { subcommandSyntaxError } from "../commands/define.ts";
import { ERR } from "../../shared/errors.ts";
import { parseI64 } from "../../shared/int64.ts";
import { OOM_FAILED, OomScore } from "./oom.ts";

/** Redis's default for how often a reply buffer's peak restarts (DEBUG REPLYBUFFER). */
const REPLY_BUFFER_PEAK_RESET_MS = 5000;
const log = getLogger(["data-node", "server"]);

function randomHex40(): string {
  const b = new Uint8Array(20);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

export const PROTECTED_MODE_ERROR = "DENIED Redis is running in protected mode because " +
  "protected mode is enabled and no password is set for the default user. In this mode " +
  "connections are only accepted from the loopback interface. If you want to connect from " +
  "external computers to Redis you may adopt one of the following solutions: 1) Just disable " +
  "protected mode sending the command 'CONFIG SET protected-mode no' from the loopback " +
  "interface by connecting to Redis from the same host the server is running, however MAKE " +
  "SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to " +
  "make this change permanent. 2) Alternatively you can just disable the protected mode by " +
  "editing the Redis configuration file, and setting the protected mode option to 'no', and " +
  "then restarting the server. 3) If you started the server manually just for testing, " +
  "restart it with the '--protected-mode no' option. 4) Set up an authentication password " +
  "for the default user. NOTE: You only need to do one of the above things in order for the " +
  "server to start accepting connections from the outside.";

/** Seconds over which INFO reports the largest client buffers, as Redis does. */
const PEAK_SLOTS = 8;
/** The size of a read made while a client waits, and how many such buffers are kept. */
const SIDE_BUFFER_BYTES = 16 * 1024;
const SIDE_BUFFERS_KEPT = 16;

/** How far a load has come (INFO persistence's loading_* fields while loading:1). */
export interface LoadingProgress {
  /** Unix time (seconds) when it began. */
  startSec: number;
  totalBytes: number;
  loadedBytes: number;
  /** The file's used-mem aux field once read (0 until then). */
  usedMem: number;
}

export class Server {
  readonly dbs: Database[];
  readonly clients = new Map<number, Client>();
  readonly stats = new Stats();
  readonly pubsub = new PubSub();
  /** Client-side caching: who caches which keys (server/tracking.ts). */
  readonly tracking: Tracking;
  /** Keyspace notifications (engine/notify.ts). */
  readonly notifier = new Notifier(this.pubsub);
  readonly monitors = new Set<Client>();
  /** Effects of writes, per execution unit, to the AOF and the replication stream. */
  readonly propagation = new Propagation();
  /** The Lua VM, the EVAL script cache and the function libraries. */
  readonly scripting = new Scripting();
  /** The replication stream and its backlog; null until the first replica asks for one. */
  replStream: ReplicationStream | null = null;
  readonly blocking = new BlockingRegistry();
  readonly acl: Acl;
  readonly aclLog = new AclLog();
  readonly runId = randomHex40();
  replId = randomHex40();
  /** The previous master's replication ID and the first offset it is not valid for (PSYNC2). */
  replId2 = "0".repeat(40);
  secondReplOffset = -1;
  /** Both sides of replication: replica links, and the link to a master. */
  readonly replication: Replication;
  /** master_repl_offset while there is no replication stream (kept across restarts). */
  private replOffsetBase = 0;
  readonly startMs: number;
  /**
   * The time commands see: read from the clock once per top-level command (and per timer
   * tick) instead of once per lookup, as Redis takes a time snapshot per command.
   */
  nowMs: number;
  /** True while a batch runs on the time read at its start (commands skip the clock). */
  batchTime = false;
  /** Clients whose output grew outside their own read loop, written out once per tick. */
  private readonly pendingOutput = new Set<Client>();
  /**
   * Buffers for the reads made while a client waits (readWhileWaiting), given back once their
   * bytes are in the query buffer: a MIGRATE waits on every call, and a reshard sends thousands.
   */
  private readonly sideBuffers: Uint8Array[] = [];
  private flushScheduled = false;
  /** client-query-buffer-limit, cached (checked on every read). */
  private queryBufferLimit = 0;
  /** Changes since the last successful save (the `save` rules count these). */
  dirty = 0;
  /**
   * An EXEC is running its queued commands (Redis's server.in_exec): a BGSAVE, BGREWRITEAOF or
   * `appendonly yes` among them is scheduled to start after it.
   */
  inExec = false;
  lastSaveSec: number;
  lastSaveOk = true;
  private nextClientId = 1;
  private listeners: Deno.Listener[] = [];
  private cron: ReturnType<typeof setInterval> | undefined;
  /** CLIENT PAUSE: until when, and whether only writes wait. */
  pause: { untilMs: number; all: boolean; waiters: (() => void)[] } | null = null;
  /**
   * Keys a MIGRATE is moving (with the number of MIGRATEs moving each), and the writers waiting
   * for them: Redis runs MIGRATE without serving anyone else, so no write lands on a key between
   * its copy to the target and its deletion here.
   */
  readonly migrating = new MigrateLocks();
  /** DEBUG SET-ACTIVE-EXPIRE. */
  activeExpire = true;
  /** Keys a writable replica's own clients gave a TTL: only this node can expire them. */
  readonly replicaKeysWithExpire = new ReplicaKeysWithExpire();
  /** Frees the garbage of a burst of writes once the node turns idle (idle_gc.ts). */
  readonly idleGc = new IdleCollector();
  shuttingDown = false;
  /**
   * A load is under way (at startup, or a replica's diskless full sync of another history):
   * commands not flagged `loading` are refused.
   */
  loading = false;
  /**
   * A replica's `swapdb` full sync of its own history: the old dataset is served meanwhile, and
   * commands flagged `no_async_loading` are refused.
   */
  asyncLoading = false;
  /** Progress of the load in progress, for INFO's loading_* fields (null when none is tracked). */
  loadingProgress: LoadingProgress | null = null;

  /** Starts INFO's loading_* figures for a load of `totalBytes` (cleared by the loader). */
  trackLoading(totalBytes: number): LoadingProgress {
    const startSec = Math.floor(this.clock.nowMs() / 1000);
    return this.loadingProgress = { startSec, totalBytes, loadedBytes: 0, usedMem: 0 };
  }
  role: "master" | "replica" = "master";
  /** RDB snapshots; null only in in-process tests that don't need them. */
  persistence: Persistence | null = null;
  aof: Aof | null = null;
  /** DEBUG subcommands added by other modules (persistence adds RELOAD). */
  private readonly oomScore = new OomScore();
  readonly debugExtensions = new Map<
    string,
    (s: Engine, c: Client, argv: string[]) => void | Promise<void>
  >();
  /** FLUSHALL hook (persistence saves when save rules exist, as Redis does). */
  afterFlushAll: (() => void) | null = null;
  /** Saves (per `save`: true, false, or null = as configured) before shutdown; false = refuse. */
  beforeShutdown: (save: boolean | null, force: boolean) => Promise<boolean> = () =>
    Promise.resolve(true);
  clusterEnabled = false;
  /** Cluster mode's state, routing and bus (null unless cluster-enabled). */
  cluster: Cluster | null = null;
  /** Exits the process; replaced in tests. */
  exit: (code: number) => void = (code) => Deno.exit(code);
  readonly hooks: KeyspaceHooks;
  cpuSample = {
    atMs: 0,
    ops: 0,
    opsPerSec: 0,
    inBytes: 0,
    outBytes: 0,
    inKbps: 0,
    outKbps: 0,
  };

  constructor(
    readonly config: Config,
    readonly commands: Map<string, CommandDef>,
    /** The only source of time for commands and the keyspace (a fake one in tests). */
    readonly clock: Clock = systemClock,
  ) {
    this.startMs = this.nowMs = this.cpuSample.atMs = clock.nowMs();
    this.lastSaveSec = Math.floor(this.startMs / 1000);
    this.hooks = {
      lruClock: () => Math.floor(this.nowMs / 1000),
      nowMs: () => this.nowMs,
      onExpired: (db, key) => {
        this.stats.expiredKeys++;
        this.notify(NOTIFY.EXPIRED, "expired", key, db.id);
        this.propagation.also(db.id, ["DEL", key]);
      },
      // While clients are paused nothing is expired (that would be a write): keys past their
      // TTL only look gone until the pause ends, as in Redis.
      expiryMode: () =>
        this.pause !== null && this.expiryMode === "delete" ? "hide" : this.expiryMode,
      keyModified: (db, key) => {
        this.blocking.keyModified(db, key);
        if (this.tracking.active) this.tracking.invalidate(key);
      },
      lfu: () => this.lfuMode,
      lfuParams: () => this.lfuParams,
      keyAdded: (db, key) => this.notify(NOTIFY.NEW, "new", key, db.id),
      // The master's stream runs with expiry mode "keep": only the replica's own clients count.
      expireSet: (db, key) => {
        if (
          this.role === "replica" && this.expiryMode !== "keep" &&
          !this.config.get<boolean>("replica-read-only")
        ) this.replicaKeysWithExpire.remember(db.id, key);
      },
    };
    this.acl = new Acl(commands);
    wireRequirepass(this);
    this.tracking = new Tracking(
      this.clients,
      (c) => this.wantsFlush(c),
      () => this.config.get<number>("tracking-table-max-keys"),
    );
    this.refreshMemoryConfig();
    this.notifier.flags = config.get<number>("notify-keyspace-events");
    config.onChange("notify-keyspace-events", (v) => {
      this.notifier.flags = v as number;
      return undefined;
    });
    this.queryBufferLimit = config.get<number>("client-query-buffer-limit");
    config.onChange("client-query-buffer-limit", (v) => {
      this.queryBufferLimit = v as number;
      return undefined;
    });
    for (
      const name of [
        "maxmemory",
        "maxmemory-policy",
        "lfu-log-factor",
        "lfu-decay-time",
        "maxmemory-clients",
      ]
    ) {
      config.onChange(name, () => {
        this.refreshMemoryConfig();
        // As Redis after CONFIG SET maxmemory: evictions start at once, not at the next command.
        if (name === "maxmemory" && this.maxmemory > 0) this.scheduleEvictions();
        return undefined;
      });
    }
    this.refreshMinReplicas();
    for (const name of ["min-replicas-to-write", "min-replicas-max-lag"]) {
      config.onChange(name, () => {
        this.refreshMinReplicas();
        return undefined;
      });
    }
    this.refreshLatencyConfig();
    this.applyOomScore();
    for (const name of ["oom-score-adj", "oom-score-adj-values"]) {
      config.onChange(name, () => this.applyOomScore() ? undefined : OOM_FAILED);
    }
    for (
      const name of [
        "slowlog-log-slower-than",
        "slowlog-max-len",
        "latency-monitor-threshold",
        "latency-tracking",
      ]
    ) {
      config.onChange(name, () => {
        this.refreshLatencyConfig();
        return undefined;
      });
    }
    config.overrideShow("dir", () => Deno.cwd());
    config.onChange("dir", (v) => {
      try {
        Deno.chdir(v as string);
      } catch (e) {
        return (e as Error).message;
      }
      return undefined;
    });
    this.pubsub.onOutput = (c) => this.wantsFlush(c);
    this.scripting.client = new Client(0, null, "lua", "", -1, this.startMs, false, {});
    // The errors of the commands a script runs count in INFO errorstats, as in Redis.
    this.scripting.client.onError = (m) => this.stats.error(m);
    this.blocking.onOutput = (c) => this.wantsFlush(c);
    this.debugExtensions.set("replybuffer", (_s, c, argv) => this.debugReplyBuffer(c, argv));
    // DEBUG PAUSE-CRON <0|1>: the timer's work stops (tests), as Redis's.
    this.debugExtensions.set("pause-cron", (_s, c, argv) => {
      if (argv.length !== 3) return subcommandSyntaxError(c, argv, "DEBUG");
      const n = parseInt(argv[2]!.trimStart(), 10);
      this.pauseCron = Number.isFinite(n) && n !== 0;
      c.out.ok();
    });
    // A served client's own invalidations follow its reply, as for any command it runs.
    this.blocking.onRetry = (c) => {
      const t = this.tracking;
      if (c !== null) {
        if (t.clientsOn !== 0) t.current = c;
      } else if (t.current !== null) t.commandDone(t.current);
    };
    this.blocking.onUnblocked = (c, served) => {
      const b = c.blockedCall;
      c.blockedCall = null;
      if (b === null || !served) return;
      // Woken with an error (NOGROUP, UNBLOCKED): a failed call, as Redis counts it.
      if (c.failed) b.stat.failedCalls++;
      // The command that served it (RPUSH...) is logged first, as in Redis.
      this.stats.settle(performance.now());
      this.stats.slowlogPush(b.stat, c, b.argv, b.us);
    };
    const n = config.get<number>("databases");
    // In cluster mode keys are kept per slot (counted, listed and dropped by slot).
    this.clusterEnabled = config.get<boolean>("cluster-enabled");
    this.dbs = Array.from(
      { length: n },
      (_, i) => new Database(i, this.hooks, { cluster: this.clusterEnabled }),
    );
    this.replication = new Replication(this);
    config.onChange("repl-backlog-size", (v) => {
      this.replStream?.resize(v as number);
      return undefined;
    });
  }

  /**
   * min-replicas-to-write and min-replicas-max-lag both set: writes are refused without enough
   * good replicas (cached: the dispatcher reads it for every write).
   */
  minReplicasOn = false;

  private refreshMinReplicas(): void {
    this.minReplicasOn = this.config.get<number>("min-replicas-to-write") !== 0 &&
      this.config.get<number>("min-replicas-max-lag") !== 0;
  }

  /** Copies the slow log and latency settings where the per-command accounting reads them. */
  private refreshLatencyConfig(): void {
    const st = this.stats, cfg = this.config;
    st.slowlogThreshold = cfg.get<number>("slowlog-log-slower-than");
    // A shorter slowlog-max-len trims the log at its next entry, as in Redis.
    st.slowlogMaxLen = cfg.get<number>("slowlog-max-len");
    st.latencyThreshold = cfg.get<number>("latency-monitor-threshold");
    st.latencyTracking = cfg.get<boolean>("latency-tracking");
  }

  get port(): number {
    return this.config.get<number>("port");
  }

  /** Listens on every `bind` address; `-` marks an address whose failure is tolerated. */
  listen(): void {
    // The heap as startup leaves it: growth from here on is what idle collections answer.
    this.idleGc.start();
    this.openListeners(this.config.get<number>("port"), this.bindAddresses());
    try {
      this.listenUnix();
    } catch (e) {
      this.closeListeners();
      throw e;
    }
    this.startCron();
    this.config.onChange("hz", () => {
      this.startCron();
      return undefined;
    });
    // CONFIG SET port and bind move the listeners, as in Redis; on failure the old ones return.
    this.config.onChange("port", (v) =>
      this.relisten(
        v as number,
        this.listening.binds,
        LISTEN_FAILED,
      ));
    this.config.onChange("bind", () =>
      this.relisten(
        this.listening.port,
        this.bindAddresses(),
        BIND_FAILED,
      ));
  }

  /** The `unixsocket` listener, when one is configured. */
  private unixListener: Deno.Listener | null = null;

  /** Listens on `unixsocket` (a stale file there is replaced), with `unixsocketperm`. */
  private listenUnix(): void {
    const path = this.config.getString("unixsocket");
    if (!path) return;
    try {
      Deno.removeSync(path);
    } catch { /* nothing there */ }
    try {
      this.unixListener = Deno.listen({ transport: "unix", path });
      const perm = this.config.get<number>("unixsocketperm");
      if (perm) Deno.chmodSync(path, perm);
    } catch (e) {
      this.unixListener?.close();
      this.unixListener = null;
      throw new Error(`Failed opening Unix socket: ${(e as Error).message}`);
    }
    void this.acceptLoop(this.unixListener);
  }

  /** Closes the Unix socket listener and removes its file, as Redis does on shutdown. */
  private closeUnix(): void {
    if (!this.unixListener) return;
    try {
      this.unixListener.close();
    } catch { /* already closed */ }
    this.unixListener = null;
    try {
      Deno.removeSync(this.config.getString("unixsocket"));
    } catch { /* already gone */ }
  }

  private bindAddresses(): string[] {
    return this.config.getString("bind").split(" ").filter(Boolean);
  }

  /** The port (the one bound when 0 was asked at startup) and addresses listened on. */
  private listening: { port: number; binds: string[] } = { port: 0, binds: [] };
  /** Counts moves of the listeners: a move still waiting for sockets gives way to a later one. */
  private moves = 0;

  /** Listens on `binds` at `port`, or throws why a required address failed (none stay open). */
  private openListeners(port: number, binds: string[]): void {
    const opened = this.tryListen(port, binds, () => false);
    if (typeof opened === "string") throw new Error(opened);
    this.adopt(port, binds, opened.map((o) => o.listener));
  }

  /**
   * Opens a listener per address (`-addr`: a failure is tolerated). On a required address's
   * failure closes what it opened and returns the reason, unless `deferrable(error)` says the
   * address is to be tried again later (it is then left out).
   */
  private tryListen(
    port: number,
    binds: string[],
    deferrable: (e: unknown) => boolean,
    reuse = new Map<string, Deno.Listener>(),
  ): { listener: Deno.Listener; fresh: boolean }[] | string | "deferred" {
    const out: { listener: Deno.Listener; fresh: boolean }[] = [];
    let deferred = false;
    for (const raw of binds) {
      const optional = raw.startsWith("-");
      const addr = optional ? raw.slice(1) : raw;
      const hostname = addr === "*" ? "0.0.0.0" : addr === "::*" ? "::" : addr;
      const kept = reuse.get(hostname);
      if (kept) {
        reuse.delete(hostname);
        out.push({ listener: kept, fresh: false });
        continue;
      }
      try {
        out.push({ listener: Deno.listen({ hostname, port, transport: "tcp" }), fresh: true });
      } catch (e) {
        if (deferrable(e)) {
          deferred = true;
        } else if (!optional) {
          for (const o of out) if (o.fresh) o.listener.close();
          return `Could not create server TCP listening socket ${addr}:${port}: ${
            (e as Error).message
          }`;
        } else {
          log.debug("optional bind {addr} skipped: {err}", { addr, err: String(e) });
        }
      }
    }
    if (deferred) {
      for (const o of out) if (o.fresh) o.listener.close();
      return "deferred";
    }
    return out;
  }

  /** Makes `listeners` the server's, accepting on those not accepted on yet. */
  private adopt(port: number, binds: string[], listeners: Deno.Listener[]): void {
    const before = new Set(this.listeners);
    this.listeners = listeners;
    const bound = (listeners[0]?.addr as Deno.NetAddr | undefined)?.port ?? port;
    this.listening = { port: bound, binds };
    for (const l of listeners) if (!before.has(l)) void this.acceptLoop(l);
  }

  private closeListeners(except = new Set<Deno.Listener>()): void {
    for (const l of this.listeners) {
      if (except.has(l)) continue;
      try {
        l.close();
      } catch { /* already closed */ }
    }
    this.listeners = this.listeners.filter((l) => except.has(l));
  }

  /**
   * CONFIG SET port/bind: moves the listeners (connected clients stay). The new ones are opened
   * before the old ones close, so a failure leaves the server where it was and `failure` is the
   * error. Port 0 closes them, as in Redis. Listeners on an unchanged address are kept.
   */
  private relisten(port: number, binds: string[], failure: string): string | undefined {
    const old = this.listening;
    if (port === old.port && binds.join(" ") === old.binds.join(" ")) return undefined;
    this.moves++;
    if (port === 0) {
      this.closeListeners();
      this.listening = { port: 0, binds };
      return undefined;
    }
    const samePort = port === old.port && this.listeners.length > 0;
    const reuse = new Map<string, Deno.Listener>();
    if (samePort) {
      for (const l of this.listeners) reuse.set((l.addr as Deno.NetAddr).hostname, l);
    }
    // On the same port a new address can collide with one of ours (a wildcard and a specific
    // address): that one must be closed first.
    const collides = (e: unknown) => samePort && e instanceof Deno.errors.AddrInUse;
    const opened = this.tryListen(port, binds, collides, reuse);
    if (typeof opened === "string" && opened !== "deferred") {
      log.warn("{err}", { err: opened });
      log.warn("Failed applying the new setting; still listening on the previous addresses.");
      return failure;
    }
    if (opened === "deferred") {
      this.replaceLater(port, binds, old);
      return undefined;
    }
    const kept = new Set(opened.filter((o) => !o.fresh).map((o) => o.listener));
    this.closeListeners(kept);
    this.adopt(port, binds, opened.map((o) => o.listener));
    return undefined;
  }

  /**
   * Closes every listener and opens the new ones once the sockets are released (a closed
   * listener frees its address only on a later turn of the event loop). A failure then is
   * logged and the previous addresses are listened on again.
   */
  private replaceLater(port: number, binds: string[], old: { port: number; binds: string[] }) {
    this.closeListeners();
    this.listening = { port, binds };
    const move = this.moves;
    const attempt = (p: number, b: string[], tries: number, onFail: () => void) => {
      setTimeout(() => {
        if (this.shuttingDown || move !== this.moves) return;
        const r = this.tryListen(p, b, (e) => tries > 0 && e instanceof Deno.errors.AddrInUse);
        if (r === "deferred") return attempt(p, b, tries - 1, onFail);
        if (typeof r === "string") {
          log.warn("{err}", { err: r });
          return onFail();
        }
        this.adopt(p, b, r.map((o) => o.listener));
      }, 10);
    };
    attempt(port, binds, 20, () => {
      log.warn("Failed applying the new setting; listening on the previous addresses again.");
      attempt(old.port, old.binds, 20, () => {});
    });
  }

  /** (Re)starts the timer at `hz` ticks per second. */
  private startCron(): void {
    clearInterval(this.cron);
    const ms = Math.floor(1000 / this.config.get<number>("hz"));
    this.cron = setInterval(() => this.serverCron(), ms);
  }

  /**
   * Queues a client with output to send (its replies, pub/sub messages, a blocked client served,
   * MONITOR lines): every such client gets one write once the current work is done, however
   * much reached it meanwhile. The reads that one turn of the event loop completed are all
   * processed before any reply leaves, and the replies then leave back to back, as Redis writes
   * them just before it waits for events again: a peer woken by the first reply is still awake
   * for the next, where a write after each client's batch would wake it once per client (a
   * wake-up costs more than the write; at -P 16 this took a quarter of the CPU per request).
   */
  wantsFlush(c: Client): void {
    this.pendingOutput.add(c);
    this.scheduleFlush();
  }

  /**
   * Runs `task` once the replies of the current work are written: the cluster bus sends its
   * messages after them, as Redis writes client replies before its bus links get their turn. A
   * SETSLOT's reply then leaves before the PONG announcing the change, and redis-cli's next
   * command to another node is not held behind that node's handling of the PONG.
   */
  afterReplies(task: () => void): void {
    this.afterFlush.push(task);
    this.scheduleFlush();
  }

  private readonly afterFlush: (() => void)[] = [];

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => this.flushPending());
  }

  private flushPending(): void {
    this.flushScheduled = false;
    // A flush never queues its client again, so the set can be walked, then emptied.
    for (const c of this.pendingOutput) {
      if (!c.closing) void c.flush().catch(() => c.close());
    }
    this.pendingOutput.clear();
    const tasks = this.afterFlush.splice(0);
    for (const t of tasks) t();
  }

  /** The INFO reply for these section arguments. */
  infoText(args: string[]): string {
    return infoText(this, args);
  }

  /** A client's CLIENT LIST / CLIENT INFO line. */
  clientInfoLine(c: Client): string {
    return clientInfoLine(this, c);
  }

  /** MEMORY STATS and the maxmemory figures. */
  memoryStats(): MemoryStats {
    return memoryStats(this);
  }

  /** The actual listening port (differs from config when port 0 was asked). */
  boundPort(): number {
    const a = this.listeners[0]?.addr as Deno.NetAddr | undefined;
    return a?.port ?? this.port;
  }

  private async acceptLoop(l: Deno.Listener): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await l.accept();
      } catch (e) {
        if (this.shuttingDown || e instanceof Deno.errors.BadResource) return;
        log.warn("accept failed: {err}", { err: String(e) });
        continue;
      }
      this.accept(conn);
    }
  }

  private accept(conn: Deno.Conn): void {
    // A Unix socket client is local by nature (no protected mode) and Redis shows the socket's
    // path as its address.
    const unix = conn.remoteAddr.transport === "unix";
    let addr: string, laddr: string;
    if (unix) addr = laddr = `${this.config.getString("unixsocket")}:0`;
    else {
      const r = conn.remoteAddr as Deno.NetAddr;
      addr = fmtAddr(r);
      laddr = fmtAddr(conn.localAddr as Deno.NetAddr);
      try {
        (conn as Deno.TcpConn).setNoDelay(true);
        (conn as Deno.TcpConn).setKeepAlive(true);
      } catch { /* not a TCP socket */ }
    }
    const deny = this.admissionError(unix ? null : (conn.remoteAddr as Deno.NetAddr).hostname);
    if (deny) {
      this.stats.rejectedConnections++;
      conn.write(new TextEncoder().encode(`-${deny}\r\n`)).catch(() => {}).finally(() =>
        conn.close()
      );
      return;
    }
    const c = this.newClient(conn, addr, laddr);
    c.unixSocket = unix;
    this.stats.totalConnections++;
    void this.serveClient(c);
  }

  /** Why a new connection is refused, if it is; `remoteHost` is null for the Unix socket. */
  private admissionError(remoteHost: string | null): string | null {
    if (this.clients.size >= this.config.get<number>("maxclients")) {
      return "ERR max number of clients reached";
    }
    if (
      remoteHost !== null && this.config.get<boolean>("protected-mode") &&
      !isLocalAddress(remoteHost) &&
      this.acl.defaultUser.nopass
    ) {
      return PROTECTED_MODE_ERROR;
    }
    return null;
  }

  newClient(conn: Deno.Conn | null, addr: string, laddr: string): Client {
    const id = this.nextClientId++;
    const c = new Client(id, conn, addr, laddr, 0, this.clock.nowMs(), this.requiresAuth(), {
      maxBulkLen: this.config.get<number>("proto-max-bulk-len"),
    });
    c.db = this.dbs[0]!;
    c.replyPeakResetMs = this.clock.nowMs();
    c.aclUser = this.acl.defaultUser;
    c.onError = (m) => this.stats.error(m);
    c.beforeWrite = () => this.aof?.flush();
    c.onWrite = () => this.stats.totalWrites++;
    c.checkOutput = () => this.enforceOutputLimit(c);
    this.clients.set(id, c);
    return c;
  }

  /** New connections must authenticate: the default user has a password or is off. */
  requiresAuth(): boolean {
    const d = this.acl.defaultUser;
    return !d.nopass || !d.enabled;
  }

  /** Closes the connections authenticated as a user (DELUSER, ACL LOAD). */
  aclDisconnect(u: User, self: Client | null): void {
    disconnectUser(this, u, self);
  }

  /** Closes a user's subscribers whose channels the user's new rules no longer allow. */
  aclDisconnectSubscribers(u: User, allowed: string[], self: Client | null): void {
    disconnectSubscribers(this, u, allowed, self);
  }

  aclSave(): string | null {
    return aclSave(this);
  }

  aclLoad(self: Client | null): string | null {
    return aclLoad(this, self);
  }

  /** The read → run → flush loop of one connection. */
  private async serveClient(c: Client): Promise<void> {
    const conn = c.conn!;
    // A read into a side buffer, started while the client waits (blocked or paused).
    let side: { buf: Uint8Array; read: Promise<number | null> } | null = null;
    try {
      while (!c.closing) {
        let n: number | null;
        if (side) {
          n = await side.read;
          if (n !== null) c.parser.feed(side.buf.subarray(0, n));
          this.giveBackSideBuffer(side.buf);
          side = null;
        } else {
          n = await conn.read(c.parser.readTarget());
          if (n !== null) c.parser.commit(n);
        }
        this.stats.totalReads++;
        if (n === null || !this.received(c, n)) break;
        // The time of the read is the batch's time (one clock read for both).
        const waiting = this.processInput(c, c.lastInteractionMs);
        if (waiting) {
          side = await this.readWhileWaiting(c, waiting);
          if (c.closing) break;
        }
        this.stats.netOutputBytes += c.out.len;
        if (this.clientEvictionLimit !== 0) this.evictClients();
        if (c.closeAfterReply) {
          await c.flush();
          break;
        }
        // Reading goes on while the replies are written, as in Redis: a client that sends a
        // long pipeline before it reads any reply must not wait on its own unread replies
        // (they queue in its output buffer, under client-output-buffer-limit).
        this.wantsFlush(c);
      }
    } catch (e) {
      if (
        !(e instanceof Deno.errors.BadResource || e instanceof Deno.errors.ConnectionReset ||
          e instanceof Deno.errors.BrokenPipe || e instanceof Deno.errors.Interrupted)
      ) {
        log.warn("client {addr} error: {err}", { addr: c.addr, err: String(e) });
      }
    } finally {
      this.freeClient(c);
    }
  }

  /** Accounts bytes just read; false when the client must go (query buffer limit). */
  private received(c: Client, n: number): boolean {
    this.stats.netInputBytes += n;
    c.lastInteractionMs = this.clock.nowMs();
    if (this.clientEvictionLimit !== 0) {
      this.evictClients();
      if (c.closing) return false;
    }
    if (c.parser.pending <= this.queryBufferLimit) return true;
    log.warn("closing client {addr}: query buffer limit reached", { addr: c.addr });
    return false;
  }

  /**
   * While a client waits (a blocking command, CLIENT PAUSE) its socket is still read, as Redis
   * does: a client that disconnects meanwhile is freed at once, so it can never take an element
   * from a list it is no longer there to receive. Bytes read meanwhile wait in the query
   * buffer. Returns a read still in flight when the wait ended (the caller finishes it).
   */
  private async readWhileWaiting(
    c: Client,
    waiting: Promise<void>,
  ): Promise<{ buf: Uint8Array; read: Promise<number | null> } | null> {
    const finished = waiting.then(() => "done" as const);
    const buf = this.sideBuffers.pop() ?? new Uint8Array(SIDE_BUFFER_BYTES);
    for (;;) {
      const read = c.conn!.read(buf);
      const r = await Promise.race([finished, read]);
      if (r === "done") return { buf, read };
      this.stats.totalReads++;
      if (r === null) {
        this.giveBackSideBuffer(buf);
        this.freeClient(c);
        return null;
      }
      c.parser.feed(buf.subarray(0, r));
      if (!this.received(c, r)) {
        this.giveBackSideBuffer(buf);
        this.freeClient(c);
        return null;
      }
    }
  }

  /** A side read's buffer, no longer read into, is kept for the next wait (a few at most). */
  private giveBackSideBuffer(buf: Uint8Array): void {
    if (this.sideBuffers.length < SIDE_BUFFERS_KEPT) this.sideBuffers.push(buf);
  }

  /**
   * Runs every complete command in the client's buffer. Returns a promise only when a command
   * made the client wait; the rest of the buffer is then processed after the wait.
   */
  processInput(c: Client, nowMs = this.clock.nowMs()): Promise<void> | undefined {
    this.stats.startBatch();
    this.nowMs = nowMs;
    this.batchTime = true;
    try {
      return this.processBatch(c);
    } finally {
      this.batchTime = false;
      this.stats.endBatch();
      c.parser.trim();
    }
  }

  private processBatch(c: Client): Promise<void> | undefined {
    for (;;) {
      if (c.closing || c.closeAfterReply) return undefined;
      let argv: string[] | null;
      try {
        argv = c.parser.next(c.authenticated);
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e;
        c.error(`ERR ${e.message}`);
        c.closeAfterReply = true;
        log.info("Protocol error from client {addr}: {err}", { addr: c.addr, err: e.message });
        return undefined;
      }
      if (argv === null) return undefined;
      if (argv.length === 0) continue;
      let p: void | Promise<void>;
      try {
        p = processCommand(this, c, argv);
      } catch (e) {
        // A bug in one command must not take the connection or the server down.
        log.error("command {cmd} failed: {err}", {
          cmd: argv[0]!,
          err: (e as Error).stack ?? String(e),
        });
        this.stats.unexpectedErrorReplies++;
        c.error(`ERR internal error: ${(e as Error).message}`);
        continue;
      }
      if (c.kind === "replica" && c.out.len > 0) {
        this.rogueReplica(c, argv);
        return undefined;
      }
      if (p) return p.then(() => this.processInput(c));
    }
  }

  /**
   * A replica's link sent a command that answered something (replicas only acknowledge): the
   * link is closed, as Redis does, after logging the command (and an error it got).
   */
  private rogueReplica(c: Client, argv: string[]): void {
    const def = lookupCommand(this.commands, argv);
    const name = typeof def === "string" ? "<unknown>" : def.name;
    const reply = c.out.buf.subarray(0, Math.min(c.out.len, 4096));
    if (reply[0] === 45) { // '-'
      const text = new TextDecoder("latin1").decode(reply).split("\r\n")[0]!.slice(1);
      this.stats.unexpectedErrorReplies++;
      log.warn(
        "== CRITICAL == This master is sending an error to its replica: '{err}' after processing the command '{cmd}'",
        { err: text, cmd: name },
      );
    }
    c.out.reset();
    log.warn("Replica generated a reply to command '{cmd}', disconnecting it: {client}", {
      cmd: name,
      client: this.clientInfoLine(c),
    });
    c.close();
  }

  /**
   * client-output-buffer-limit: a client whose pending output is over its class's hard limit,
   * or over the soft limit for longer than the soft seconds, is closed (a subscriber that stops
   * reading must not grow the server's memory without bound).
   */
  enforceOutputLimit(c: Client): boolean {
    if (c.closing) return false;
    const limits = this.config.get<OutputLimits>("client-output-buffer-limit");
    const cls = c.kind === "replica"
      ? limits.replica
      : c.subscriptionCount > 0 || c.monitor
      ? limits.pubsub
      : limits.normal;
    const used = c.outputPending;
    let over = cls.hard > 0 && used > cls.hard;
    if (cls.soft > 0 && used > cls.soft) {
      const now = this.clock.nowMs();
      if (c.softLimitSinceMs === 0) c.softLimitSinceMs = now;
      else if (now - c.softLimitSinceMs > cls.softSeconds * 1000) over = true;
    } else {
      c.softLimitSinceMs = 0;
    }
    if (!over) return true;
    log.warn("Client {addr} scheduled to be closed ASAP for overcoming of output buffer limits.", {
      addr: c.addr,
    });
    c.close();
    return false;
  }

  /**
   * Client eviction (maxmemory-clients): while the normal and pub/sub connections hold more than
   * the limit, the one holding the most that may be evicted (not CLIENT NO-EVICT) is closed,
   * logged and counted, as Redis's evictClients. Run after a client's read and after its batch
   * of commands; costs nothing while the limit is off.
   */
  evictClients(): void {
    const limit = this.clientEvictionLimit;
    if (limit === 0) return;
    let total = 0;
    const candidates: [number, Client][] = [];
    // A CLIENT NO-EVICT connection is neither weighed nor evicted (Redis refreshes its figure
    // only from the clients cron, when its buffers are usually back to their size).
    for (const c of this.clients.values()) {
      if (c.closing || c.noEvict || c.conn === null) continue;
      if (c.kind !== "normal" && c.kind !== "pubsub") continue;
      const mem = clientMemory(c);
      total += mem;
      candidates.push([mem, c]);
    }
    if (total < limit) return;
    candidates.sort((a, b) => b[0] - a[0]);
    for (const [mem, c] of candidates) {
      if (total < limit) return;
      log.info("Evicting client: {info}", { info: clientInfoLine(this, c) });
      this.freeClient(c);
      this.stats.evictedClients++;
      total -= mem;
    }
    log.warn("Over client maxmemory after evicting all evictable clients");
  }

  freeClient(c: Client): void {
    c.close();
    this.clients.delete(c.id);
    this.replication.clientFreed(c);
    this.pubsub.removeClient(c);
    this.monitors.delete(c);
    this.tracking.disable(c);
    unwatchAll(c);
    c.blocked?.unblock("error");
  }

  /**
   * Raises a keyspace event (engine/notify.ts): commands call this after changing a key, with
   * the event's class (NOTIFY.*), Redis's event name, the key and its database. Costs one
   * integer test while notify-keyspace-events is empty.
   */
  notify(type: number, event: string, key: string, dbId: number): void {
    if ((this.notifier.flags & type) !== 0) this.notifier.publish(event, key, dbId);
  }

  /** Cached memory settings: read on every command, changed only by CONFIG SET. */
  maxmemory = 0;
  lfuMode = false;
  lfuParams = { logFactor: 10, decayMinutes: 1 };

  /**
   * Client eviction's limit in bytes, 0 when off: maxmemory-clients, or its percentage of
   * maxmemory (off without maxmemory), never below 128 KB so that a bad setting cannot cut
   * every connection, as Redis's getClientEvictionLimit.
   */
  clientEvictionLimit = 0;

  private refreshMemoryConfig(): void {
    this.maxmemory = this.config.get<number>("maxmemory");
    const mc = this.config.get<number>("maxmemory-clients");
    const limit = mc < 0 ? (this.maxmemory > 0 ? Math.floor(this.maxmemory * -mc / 100) : 0) : mc;
    this.clientEvictionLimit = limit === 0 ? 0 : Math.max(limit, 128 * 1024);
    this.lfuMode = this.config.getString("maxmemory-policy").endsWith("-lfu");
    this.lfuParams = {
      logFactor: this.config.get<number>("lfu-log-factor"),
      decayMinutes: this.config.get<number>("lfu-decay-time"),
    };
  }

  /** Upper bound of the eviction rounds run in a row from a timer (each bounded in time). */
  private static readonly MAX_EVICTION_ROUNDS = 1000;

  /**
   * Evicts from a timer, round after round while each frees something, as Redis's eviction
   * timer does when a limit is lowered; each round is an execution unit whose DELs propagate
   * bare, never wrapped in MULTI/EXEC (Redis 7.0 propagates evictions so).
   */
  private scheduleEvictions(round = 0): void {
    setTimeout(() => {
      if (this.maxmemory === 0) return;
      const before = this.stats.evictedKeys;
      this.propagation.enter(true);
      let done: boolean;
      try {
        done = this.performEvictions();
      } finally {
        this.propagation.exit();
      }
      const progressed = this.stats.evictedKeys !== before;
      if (!done && progressed && round < Server.MAX_EVICTION_ROUNDS) {
        this.scheduleEvictions(round + 1);
      }
    }, 0);
  }

  /**
   * Frees memory per maxmemory-policy until the estimate is under maxmemory (bounded per call,
   * like Redis's eviction time limit). Returns false when still over the limit with nothing
   * left to evict. Out of time while keys are still being evicted, it returns true, as Redis's
   * EVICT_RUNNING lets the command run, and the timer goes on evicting.
   */
  performEvictions(): boolean {
    if (this.maxmemory === 0) return true;
    // A replica leaves evictions to its master (replica-ignore-maxmemory, on by default).
    if (this.role === "replica" && this.config.get<boolean>("replica-ignore-maxmemory")) {
      return true;
    }
    const policy = this.config.getString("maxmemory-policy") as Policy;
    const samples = this.config.get<number>("maxmemory-samples");
    const deadline = performance.now() + 5;
    let freed = 0;
    while (usedMemoryEstimate(this) > this.maxmemory) {
      const v = pickVictim(this.dbs, policy, samples, this.lfuParams.decayMinutes);
      if (!v) return false;
      v.db.delete(v.key);
      this.stats.evictedKeys++;
      this.notify(NOTIFY.EVICTED, "evicted", v.key, v.db.id);
      this.propagation.also(v.db.id, ["DEL", v.key]);
      // The clock is read every 16 keys, as Redis does: a few keys are always evicted in full.
      if (++freed % 16 === 0 && performance.now() > deadline) return true;
    }
    return true;
  }

  /** master_repl_offset: bytes of the replication stream so far. */
  get replOffset(): number {
    return this.replStream?.offset ?? this.replOffsetBase;
  }

  set replOffset(offset: number) {
    if (this.replStream) this.replStream.offset = offset;
    else this.replOffsetBase = offset;
  }

  /**
   * Creates the replication stream and its backlog (the first replica does, as in Redis);
   * from then on every propagated write moves master_repl_offset.
   */
  createReplicationStream(): ReplicationStream {
    if (this.replStream) return this.replStream;
    const stream = new ReplicationStream(
      this.replOffsetBase,
      this.config.get<number>("repl-backlog-size"),
    );
    this.replStream = stream;
    // A replica does not propagate its master's commands: it proxies the master's bytes.
    if (this.role === "master") this.propagation.repl = stream;
    this.replication.master.adopt(stream);
    return stream;
  }

  /** A replica keeps a backlog from its first sync on, so that it can serve replicas itself. */
  ensureReplicaStream(): void {
    this.createReplicationStream();
  }

  /**
   * A master restarted from an RDB that records its replication ID and offset (Redis 7.0's
   * PSYNC after a master restart): that history becomes replid2 up to the offset, and the
   * backlog (created before the load, holding the DELs of the keys it dropped) continues from
   * the offset, so the replicas it had continue with a partial resync. Without it the backlog
   * created for the load goes.
   */
  restoreMasterHistory(from: { replId: string; offset: number } | null): void {
    const stream = this.replStream;
    if (!stream) return;
    if (from === null) {
      this.dropReplicationStream();
      return;
    }
    this.replId2 = from.replId;
    this.secondReplOffset = from.offset + 1;
    stream.rebase(from.offset);
    this.replication.master.noReplicasSinceMs = this.clock.nowMs();
  }

  /** repl-backlog-ttl expired: the backlog goes, the offset stays. */
  dropReplicationStream(): void {
    if (!this.replStream) return;
    this.replOffsetBase = this.replStream.offset;
    this.replStream = null;
    this.propagation.repl = null;
  }

  /** A new replication ID (a master that starts a history of its own). */
  changeReplicationId(): void {
    this.replId = randomHex40();
  }

  clearReplicationId2(): void {
    this.replId2 = "0".repeat(40);
    this.secondReplOffset = -1;
  }

  /**
   * Master or replica: a replica's clients see expired keys as gone without deleting them
   * (only its master expires keys), it expires nothing actively, and its writes are not
   * propagated (its stream proxies the master's).
   */
  setRole(role: "master" | "replica"): void {
    const changed = role !== this.role;
    this.role = role;
    if (changed) this.applyOomScore();
    this.expiryMode = this.replicaExpiryMode();
    this.propagation.repl = role === "master" ? this.replStream : null;
  }

  /** oom-score-adj for this process's class (master or replica); false when it failed. */
  applyOomScore(): boolean {
    const c = this.config;
    return this.oomScore.apply(
      c.getString("oom-score-adj"),
      c.get<number[]>("oom-score-adj-values"),
      this.role === "replica",
    );
  }

  /** How a replica's own clients treat expired keys ("delete" on a master). */
  replicaExpiryMode(): "delete" | "hide" {
    return this.role === "replica" ? "hide" : "delete";
  }

  /** The database the stream last selected, as an RDB's repl-stream-db records it. */
  replStreamDb(): number {
    const master = this.replication.replica.master;
    if (master) return master.db.id;
    return Math.max(0, this.replStream?.streamDb ?? 0);
  }

  /** client-output-buffer-limit as configured. */
  outputLimits(): OutputLimits {
    return this.config.get<OutputLimits>("client-output-buffer-limit");
  }

  /**
   * How lookups treat keys whose TTL has passed: "delete" them (and propagate a DEL), "keep"
   * them as if alive (while loading, as Redis does, and for the master's own commands on a
   * replica), or "hide" them without deleting (a replica's clients: only the master expires).
   */
  expiryMode: "delete" | "keep" | "hide" = "delete";

  /** Feeds the latency monitor an event that took `ms`, if over latency-monitor-threshold. */
  latencySample(event: string, ms: number): void {
    const threshold = this.stats.latencyThreshold;
    if (threshold > 0 && ms >= threshold) {
      this.stats.latency.add(event, Math.floor(ms), Math.floor(Date.now() / 1000));
    }
  }

  /** 10 Hz by default: active expiry, client timeouts, pause expiry, sampled stats. */
  /** DEBUG PAUSE-CRON: the timer does nothing while set. */
  pauseCron = false;

  serverCron(): void {
    if (this.pauseCron) return;
    const now = this.nowMs = this.clock.nowMs();

    // Only a master expires keys actively; a replica waits for its master's DELs.
    // Not while a script runs in turns (past busy-reply-threshold): it sees one dataset.
    // Nor during CLIENT PAUSE, which holds every write, nor while the dataset loads (Redis runs
    // no timers then: the load only lets clients be served between its steps).
    const quiet = this.scripting.running !== null || this.pause !== null || this.loading;
    if (this.activeExpire && this.role === "master" && !quiet) {
      const budgetMs = Math.max(1, Math.floor(250 / this.config.get<number>("hz")));
      const t0 = performance.now();
      activeExpireCycle(this.dbs, now, budgetMs);
      this.latencySample("expire-cycle", performance.now() - t0);
    } else if (this.activeExpire && this.role === "replica" && !quiet) {
      // What the master cannot expire for us: keys written here on a writable replica.
      this.replicaKeysWithExpire.cycle(this.dbs, now, 1);
    }
    this.clientsCron(now);
    // Blocked clients whose keys' slot moved away (or whose cluster went down) get the error.
    if (this.cluster !== null && this.blocking.blockedCount > 0) {
      const cl = this.cluster;
      this.blocking.refuse((c, key) => cl.blockedRedirect(c, key));
    }
    // The tracking table is kept under its limit even when idle (after a CONFIG SET), as Redis.
    if (this.tracking.clientsOn !== 0) this.tracking.limitTableSize();
    if (this.pause && now >= this.pause.untilMs) this.unpause();
    this.sampleStats(now);
    this.replication.cron(now, this.config.get<number>("hz"));
    // Eviction cut short by its time limit goes on here, as Redis's eviction time event.
    if (this.maxmemory > 0 && !this.loading && usedMemoryEstimate(this) > this.maxmemory) {
      this.performEvictions();
    }
    this.idleGc.tick(now, this.stats.totalCommands);
  }

  /** The largest client input and output buffers seen in each of the last 8 seconds. */
  private readonly peakInput = new Array<number>(PEAK_SLOTS).fill(0);
  private readonly peakOutput = new Array<number>(PEAK_SLOTS).fill(0);

  /** INFO clients' client_recent_max_input_buffer and client_recent_max_output_buffer. */
  recentMaxBuffers(): { input: number; output: number } {
    return { input: Math.max(...this.peakInput), output: Math.max(...this.peakOutput) };
  }

  /**
   * One pass over the clients, as Redis's clientsCron: each one's buffers go into this second's
   * slot of the recent peaks (the oldest slot is cleared), clients over their output limits and
   * idle clients past `timeout` are closed (subscribers, replicas and blocked clients are exempt
   * from the timeout, as in Redis).
   */
  private clientsCron(now: number): void {
    const slot = Math.floor(now / 1000) % PEAK_SLOTS;
    const oldest = (slot + 1) % PEAK_SLOTS;
    this.peakInput[oldest] = this.peakOutput[oldest] = 0;
    let input = this.peakInput[slot]!, output = this.peakOutput[slot]!;
    const timeoutMs = this.config.get<number>("timeout") * 1000;
    for (const c of this.clients.values()) {
      c.parser.resizeCheck(Math.floor((now - c.lastInteractionMs) / 1000));
      this.resizeReplyBuffer(c, now);
      input = Math.max(input, c.parser.memory);
      output = Math.max(output, c.outputPending);
      // A soft output limit runs out also while nothing is written to the client.
      if (c.kind === "normal" && c.outputPending > 0 && !this.enforceOutputLimit(c)) continue;
      if (timeoutMs <= 0 || now - c.lastInteractionMs <= timeoutMs) continue;
      if (c.kind === "normal" && c.subscriptionCount === 0 && !c.blocked) {
        log.debug("closing idle client {addr}", { addr: c.addr });
        c.close();
      }
    }
    this.peakInput[slot] = input;
    this.peakOutput[slot] = output;
  }

  /** DEBUG REPLYBUFFER: how often a client's reply buffer peak restarts (-1: never), on/off. */
  replyBufferPeakResetMs = REPLY_BUFFER_PEAK_RESET_MS;
  replyBufferResizing = true;

  /** DEBUG REPLYBUFFER PEAK-RESET-TIME <ms|never|reset> | RESIZING <0|1>. */
  private debugReplyBuffer(c: Client, argv: string[]): void {
    if (argv.length !== 4) return subcommandSyntaxError(c, argv, "DEBUG");
    const what = argv[2]!.toLowerCase(), v = argv[3]!;
    if (what === "peak-reset-time") {
      const lv = v.toLowerCase();
      if (lv === "never") this.replyBufferPeakResetMs = -1;
      else if (lv === "reset") this.replyBufferPeakResetMs = REPLY_BUFFER_PEAK_RESET_MS;
      else {
        const n = parseI64(v);
        if (n === null) return c.error(ERR.notInt);
        this.replyBufferPeakResetMs = Number(n);
      }
    } else if (what === "resizing") {
      // Read as C's atoi reads it.
      const n = parseInt(v.trimStart(), 10);
      this.replyBufferResizing = Number.isFinite(n) && n !== 0;
    } else return subcommandSyntaxError(c, argv, "DEBUG");
    c.out.ok();
  }

  /**
   * Redis 7.0's reply buffer resizing: halved or more (down to the peak, at least 1 KB) when the
   * recent peak used less than half, doubled (up to 16 KB) when a batch filled it; the peak
   * then restarts every replyBufferPeakResetMs.
   */
  private resizeReplyBuffer(c: Client, now: number): void {
    if (!this.replyBufferResizing) return;
    const size = c.replyBufSize;
    let next = 0;
    if (size / 2 >= REPLY_MIN_BYTES && c.replyBufPeak < size / 2) {
      next = Math.max(REPLY_MIN_BYTES, c.replyBufPeak + 1);
      this.stats.replyBufferShrinks++;
    } else if (size * 2 < REPLY_CHUNK_BYTES * 2 && c.replyBufPeak === size) {
      next = Math.min(REPLY_CHUNK_BYTES, size * 2);
      this.stats.replyBufferExpands++;
    }
    const reset = this.replyBufferPeakResetMs;
    if (reset >= 0 && now - c.replyPeakResetMs >= reset) {
      c.replyBufPeak = Math.min(c.outputPending, c.replyBufSize);
      c.replyPeakResetMs = now;
    }
    if (next !== 0) c.replyBufSize = next;
  }

  private sampleStats(now: number): void {
    const s = this.cpuSample;
    const dt = now - s.atMs;
    if (dt < 1000) return;
    s.opsPerSec = Math.round((this.stats.totalCommands - s.ops) * 1000 / dt);
    s.inKbps = (this.stats.netInputBytes - s.inBytes) / 1024 / (dt / 1000);
    s.outKbps = (this.stats.netOutputBytes - s.outBytes) / 1024 / (dt / 1000);
    s.ops = this.stats.totalCommands;
    s.inBytes = this.stats.netInputBytes;
    s.outBytes = this.stats.netOutputBytes;
    s.atMs = now;
  }

  /** CLIENT UNPAUSE or pause expiry: wakes every waiting client. */
  unpause(): void {
    const p = this.pause;
    this.pause = null;
    if (p) { for (const w of p.waiters) w(); }
  }

  /**
   * The shutdown in progress while it waits for replicas (a second SHUTDOWN joins it, as in
   * Redis), with its deadline for INFO's shutdown_in_milliseconds and whether it was aborted.
   */
  private shutdownInProgress: {
    done: Promise<boolean>;
    deadlineMs: number;
    aborted: boolean;
  } | null = null;

  /** Milliseconds left before a shutdown stops waiting for its replicas; null when none waits. */
  shutdownInMs(): number | null {
    const w = this.shutdownInProgress;
    return w && w.deadlineMs > 0 ? Math.max(0, w.deadlineMs - this.clock.nowMs()) : null;
  }

  /** SHUTDOWN ABORT: false when no shutdown is waiting. */
  abortShutdown(): boolean {
    const w = this.shutdownInProgress;
    if (!w || w.aborted) return false;
    w.aborted = true;
    log.info("Shutdown manually aborted.");
    return true;
  }

  /**
   * SHUTDOWN: waits for lagging replicas (unless `now`), saves as asked, stops, exits.
   * Resolves false (and keeps serving) if it was aborted or saving failed.
   */
  shutdown(save: boolean | null, now = false, force = false): Promise<boolean> {
    if (this.shutdownInProgress) return this.shutdownInProgress.done;
    log.warn("User requested shutdown...");
    // A partial dataset is never saved over the file being loaded.
    if (this.loading) save = false;
    const w = { done: Promise.resolve(false), deadlineMs: 0, aborted: false };
    this.shutdownInProgress = w;
    w.done = this.runShutdown(w, save, now, force).finally(() => {
      if (this.shutdownInProgress === w) this.shutdownInProgress = null;
    });
    return w.done;
  }

  private async runShutdown(
    w: { deadlineMs: number; aborted: boolean },
    save: boolean | null,
    now: boolean,
    force: boolean,
  ): Promise<boolean> {
    // Writes stop while the replicas catch up, and stay stopped unless the shutdown fails.
    const pausedHere = !now && this.pause === null;
    if (!now) {
      this.pause ??= { untilMs: Infinity, all: false, waiters: [] };
      await this.replication.master.drainBeforeShutdown(w);
    }
    if (w.aborted) {
      if (pausedHere) this.unpause();
      return false;
    }
    this.replication.master.logShutdownSync();
    if (!(await this.beforeShutdown(save, force))) {
      log.warn("Errors trying to shut down the server. Check the logs for more information.");
      if (pausedHere) this.unpause();
      return false;
    }
    log.warn("Redis is now ready to exit, bye bye...");
    // The listening sockets close first, and are gone before any client sees its connection
    // close: the runtime releases a listener's socket only once its pending accept is dropped,
    // a turn of the event loop later. A client that reconnects at once is refused, as by Redis.
    this.closeListeners();
    this.closeUnix();
    await new Promise((r) => setTimeout(r, 0));
    this.close();
    this.onClosed?.();
    this.exit(0);
    return true;
  }

  /** Called after close() during SHUTDOWN (main stops the admin server). */
  onClosed: (() => void) | null = null;

  /** Stops listening and closes clients; the caller decides about saving and exiting. */
  close(): void {
    this.shuttingDown = true;
    clearInterval(this.cron);
    this.closeListeners();
    this.closeUnix();
    for (const c of this.clients.values()) c.close();
  }
}

/** ip:port, with IPv6 addresses in brackets, as Redis shows them. */
function fmtAddr(a: Deno.NetAddr): string {
  return a.hostname.includes(":") ? `[${a.hostname}]:${a.port}` : `${a.hostname}:${a.port}`;
}

/** Per-key locks held by MIGRATE while the target answers (see Server.migrating). */
export class MigrateLocks {
  readonly keys = new Map<string, number>();
  private waiters: (() => void)[] = [];

  lock(keys: string[]): void {
    for (const k of keys) this.keys.set(k, (this.keys.get(k) ?? 0) + 1);
  }

  unlock(keys: string[]): void {
    for (const k of keys) {
      const n = this.keys.get(k) ?? 0;
      if (n <= 1) this.keys.delete(k);
      else this.keys.set(k, n - 1);
    }
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves after the next unlock (the caller checks its keys again). */
  wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
