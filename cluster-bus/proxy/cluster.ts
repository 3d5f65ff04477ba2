/**
 * The proxy's shell towards the cluster: the slot map (refreshed from the seeds and known nodes
 * with CLUSTER SLOTS, on MOVED, on node failure and periodically), the command table (COMMAND),
 * one pooled connection per node and protocol, and running one command with MOVED, ASK and
 * TRYAGAIN followed within bounds.
 */
import {
  type Arg,
  ConnectionClosedError,
  QueueFullError,
  RedisClient,
  TimeoutError,
} from "../../shared/client.ts";
import { RespError, type RespValue } from "../../shared/resp/mod.ts";
import { getLogger } from "../../shared/log.ts";
import { type CommandTable, parseCommandTable } from "./commands.ts";
import {
  type Addr,
  applyMoved,
  emptySlotMap,
  mastersOf,
  nodesOf,
  parseClusterSlots,
  parseRedirect,
  type SlotMap,
  splitAddr,
} from "./slot_map.ts";

const log = getLogger(["cluster-bus", "proxy"]);

/** Redirections followed for one command before its last error goes to the client. */
export const MAX_REDIRECTS = 5;
/** TRYAGAIN retries (during a multi-key migration), with doubling delays from this one. */
export const MAX_TRYAGAIN = 5;
export const TRYAGAIN_BASE_MS = 25;
/** Pending commands per pooled node connection before QueueFull. */
export const MAX_NODE_PENDING = 10000;
/** A refresh at most this often when triggered by MOVED or failures. */
export const MIN_REFRESH_GAP_MS = 100;

export interface ClusterOptions {
  seeds: Addr[];
  password?: string;
  /** Per command to a node; also the connect timeout. */
  timeoutMs: number;
  refreshIntervalMs: number;
}

export interface Counters {
  requests: number;
  moved: number;
  ask: number;
  tryagain: number;
  errors: number;
  refreshes: number;
  refreshFailures: number;
}

/** A command's reply, with errors as values; throws only when the node could not be reached. */
export type Target = { slot: number | null } | { addr: Addr };

export class Cluster {
  map: SlotMap = emptySlotMap();
  table: CommandTable = new Map();
  /** Epoch ms of the last successful refresh (0: never). */
  refreshedAt = 0;
  readonly counters: Counters = {
    requests: 0,
    moved: 0,
    ask: 0,
    tryagain: 0,
    errors: 0,
    refreshes: 0,
    refreshFailures: 0,
  };
  private readonly pool = new Map<string, Promise<RedisClient>>();
  private refreshing: Promise<boolean> | null = null;
  private lastRefreshAt = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private closed = false;

  constructor(readonly opts: ClusterOptions) {}

  start(): void {
    if (this.opts.refreshIntervalMs > 0) {
      this.timer = setInterval(() => void this.refresh(), this.opts.refreshIntervalMs);
    }
  }

  /** Connections open per node (for metrics). */
  connections(): Map<Addr, number> {
    const out = new Map<Addr, number>();
    for (const key of this.pool.keys()) {
      const addr = key.slice(0, key.lastIndexOf("/"));
      out.set(addr, (out.get(addr) ?? 0) + 1);
    }
    return out;
  }

  /** Re-reads the slot map; concurrent callers share one refresh. True when it succeeded. */
  refresh(): Promise<boolean> {
    this.refreshing ??= this.doRefresh().finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  /** A refresh unless one ran within MIN_REFRESH_GAP_MS (MOVED storms ask for many). */
  refreshSoon(): Promise<boolean> {
    if (Date.now() - this.lastRefreshAt < MIN_REFRESH_GAP_MS) {
      return this.refreshing ?? Promise.resolve(true);
    }
    return this.refresh();
  }

  private async doRefresh(): Promise<boolean> {
    this.lastRefreshAt = Date.now();
    this.counters.refreshes++;
    // Known nodes first (they follow failovers), then the seeds.
    const candidates = [...new Set([...nodesOf(this.map), ...this.opts.seeds])];
    for (const addr of candidates) {
      try {
        const reply = await this.send(addr, 2, ["CLUSTER", "SLOTS"]);
        const map = parseClusterSlots(reply, splitAddr(addr)?.host ?? "127.0.0.1");
        if (typeof map === "string") throw new Error(map);
        if (map.ranges.length === 0) throw new Error("the node serves no slots yet");
        if (this.table.size === 0) {
          this.table = parseCommandTable(await this.send(addr, 2, ["COMMAND"]));
        }
        this.map = map;
        this.refreshedAt = Date.now();
        this.dropStale();
        return true;
      } catch (e) {
        log.debug("refresh from {addr} failed: {err}", { addr, err: (e as Error).message });
      }
    }
    this.counters.refreshFailures++;
    return false;
  }

  /** Closes pooled connections to nodes the map no longer names. */
  private dropStale(): void {
    const known = new Set([...nodesOf(this.map), ...this.opts.seeds]);
    for (const [key, p] of this.pool) {
      if (known.has(key.slice(0, key.lastIndexOf("/")))) continue;
      this.pool.delete(key);
      void p.then((c) => c.close(), () => {});
    }
  }

  /** The pooled connection to a node in a protocol, connected on first use. */
  private client(addr: Addr, proto: 2 | 3): Promise<RedisClient> {
    const key = `${addr}/${proto}`;
    let p = this.pool.get(key);
    if (!p) {
      p = this.connect(addr, proto, true);
      this.pool.set(key, p);
      p.then((c) => {
        // A lost connection leaves the pool: the next command dials again and fails fast.
        c.on("close", () => {
          if (this.pool.get(key) === p) this.pool.delete(key);
          void c.close();
        });
      }, () => {
        if (this.pool.get(key) === p) this.pool.delete(key);
      });
    }
    return p;
  }

  /** A connection to a node; pooled ones time out commands, dedicated ones (blocking) do not. */
  connect(addr: Addr, proto: 2 | 3, pooled: boolean): Promise<RedisClient> {
    const a = splitAddr(addr);
    if (!a) return Promise.reject(new Error(`bad node address ${addr}`));
    return RedisClient.connect({
      host: a.host,
      port: a.port,
      protocol: proto,
      connectTimeoutMs: this.opts.timeoutMs,
      commandTimeoutMs: pooled ? this.opts.timeoutMs : 0,
      maxPending: MAX_NODE_PENDING,
      reconnect: { enabled: false },
      ...(this.opts.password ? { password: this.opts.password } : {}),
    });
  }

  /** One command to one node, errors as values. */
  async send(addr: Addr, proto: 2 | 3, argv: readonly Arg[], asking = false): Promise<RespValue> {
    const c = await this.client(addr, proto);
    if (!asking) return (await c.pipeline([argv]))[0]!;
    return (await c.pipeline([["ASKING"], argv]))[1]!;
  }

  /** Any node able to answer a keyless command: a master, else a seed. */
  anyNode(): Addr | null {
    const masters = mastersOf(this.map);
    if (masters.length > 0) return masters[Math.floor(Math.random() * masters.length)]!;
    return this.opts.seeds[0] ?? null;
  }

  private addrFor(target: Target): Addr | null {
    if ("addr" in target) return target.addr;
    return target.slot === null ? this.anyNode() : this.map.owners[target.slot] ?? null;
  }

  /**
   * Runs argv where `target` says, following MOVED/ASK (MAX_REDIRECTS), TRYAGAIN (bounded
   * backoff) and, once, a lost node (refresh, then retry). `via` supplies a dedicated
   * connection for blocking commands.
   */
  async execute(
    target: Target,
    argv: readonly Arg[],
    proto: 2 | 3,
    via?: (addr: Addr) => Promise<RedisClient>,
  ): Promise<RespValue> {
    this.counters.requests++;
    let addr = this.addrFor(target);
    if (addr === null && (await this.refreshSoon())) addr = this.addrFor(target);
    if (addr === null) return this.fail("CLUSTERDOWN Hash slot not served");
    let asking = false;
    let lost = 0;
    let tryagain = 0;
    let last: RespValue = null;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      try {
        last = via ? await viaSend(await via(addr), argv, asking) : await this.send(
          addr,
          proto,
          argv,
          asking,
        );
      } catch (e) {
        if (e instanceof QueueFullError) return this.fail(`ERR proxy: node ${addr} is overloaded`);
        if (lost++ >= 1 || this.closed) {
          return this.fail(`ERR proxy: node ${addr} unreachable: ${(e as Error).message}`);
        }
        if (!(e instanceof ConnectionClosedError || e instanceof TimeoutError)) {
          log.debug("node {addr}: {err}", { addr, err: (e as Error).message });
        }
        await this.refresh();
        addr = this.addrFor(target) ?? addr;
        asking = false;
        hop--;
        continue;
      }
      const r = parseRedirect(last);
      if (r === null) {
        if (last instanceof RespError && last.code === "TRYAGAIN" && tryagain < MAX_TRYAGAIN) {
          this.counters.tryagain++;
          await sleep(TRYAGAIN_BASE_MS * 2 ** tryagain++);
          hop--;
          continue;
        }
        if (last instanceof RespError) this.counters.errors++;
        return last;
      }
      if (r.kind === "MOVED") {
        this.counters.moved++;
        applyMoved(this.map, r.slot, r.addr);
        void this.refreshSoon();
        asking = false;
      } else {
        this.counters.ask++;
        asking = true;
      }
      addr = r.addr;
    }
    this.counters.errors++;
    return last;
  }

  private fail(message: string): RespError {
    this.counters.errors++;
    return new RespError(message);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    const all = [...this.pool.values()];
    this.pool.clear();
    await Promise.all(all.map((p) => p.then((c) => c.close(), () => {})));
  }
}

async function viaSend(c: RedisClient, argv: readonly Arg[], asking: boolean): Promise<RespValue> {
  if (!asking) return (await c.pipeline([argv]))[0]!;
  return (await c.pipeline([["ASKING"], argv]))[1]!;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
