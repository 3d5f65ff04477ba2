/**
 * Cluster mode of a data node (`cluster-enabled yes`): the node's view of the cluster
 * (state.ts), kept in nodes.conf (nodes_conf.ts), the routing of every command with keys to the
 * node that serves its slot (MOVED, ASK, TRYAGAIN, CROSSSLOT, CLUSTERDOWN, as Redis 7.0), and
 * the slot assignment commands. The cluster bus (gossip with the other nodes) is bus.ts.
 */
import { getLogger } from "../../shared/log.ts";
import { ConfigError } from "../../shared/config/parse.ts";
import { CLUSTER_SLOTS, keyHashSlot } from "../../shared/slots.ts";
import { ERR } from "../../shared/errors.ts";
import { parseI64 } from "../../shared/int64.ts";
import { subcommandSyntaxError } from "../commands/define.ts";
import { effectiveCommandBits } from "../commands/scripting.ts";
import { type CommandDef, commandKeys, F_WRITE } from "../commands/types.ts";
import type { Client } from "../server/client.ts";
import type { Server } from "../server/server.ts";
import { parseNodesConf, saveNodesConf } from "./nodes_conf.ts";
import {
  type ClusterNode,
  ClusterState,
  F,
  isMaster,
  newNode,
  nodeLine,
  randomName,
  slotRanges,
} from "./state.ts";

const log = getLogger(["data-node", "cluster"]);

const SHARD_COMMANDS = new Set(["ssubscribe", "sunsubscribe", "spublish"]);
const NO_KEYS = -1;
const CROSS_SLOT = -2;
const CROSSSLOT = "CROSSSLOT Keys in request don't hash to the same slot";

/**
 * The hash slot of one call's keys: NO_KEYS when it has none, CROSS_SLOT when they differ.
 * Commands with a fixed key range (most) are read in place, without building a key list.
 */
export function callSlot(def: CommandDef, argv: string[]): number {
  const range = def.keys;
  if (
    range !== undefined && def.numkeys === undefined && def.findKeys === undefined &&
    def.name !== "migrate"
  ) {
    const [first, last, step] = range;
    if (first === 0) return NO_KEYS;
    const lastIdx = last < 0 ? argv.length + last : last;
    let slot = NO_KEYS;
    for (let i = first; i <= lastIdx && i < argv.length; i += step) {
      const ks = keyHashSlot(argv[i]!);
      if (slot === NO_KEYS) slot = ks;
      else if (ks !== slot) return CROSS_SLOT;
    }
    return slot;
  }
  let slot = NO_KEYS;
  for (const i of commandKeys(def, argv)) {
    const ks = keyHashSlot(argv[i]!);
    if (slot === NO_KEYS) slot = ks;
    else if (ks !== slot) return CROSS_SLOT;
  }
  return slot;
}

/** The keys of the calls (needed only while their slot is migrating or importing). */
function keysOf(calls: [CommandDef, string[]][]): string[] {
  const out: string[] = [];
  for (const [d, a] of calls) for (const i of commandKeys(d, a)) out.push(a[i]!);
  return out;
}

/**
 * How many of the keys this node does not hold: an expired key counts as missing (it is not
 * deleted here), so a migrating slot's expired key is asked for at the target, as in Redis.
 */
function missing(c: Client, keys: string[]): number {
  let m = 0;
  for (const k of keys) if (c.db.peek(k) === undefined || c.db.keyIsExpired(k)) m++;
  return m;
}

/** One bus link as CLUSTER LINKS shows it. */
export interface BusLinkInfo {
  node: ClusterNode;
  outbound: boolean;
  createdMs: number;
  /** Bytes waiting to be written, and the most that ever waited. */
  queued: number;
  peak: number;
}

export class Cluster {
  st: ClusterState;
  /** Where nodes.conf is (relative to `dir`). */
  readonly file: string;
  private saveQueued = false;
  /** Whether the queued save fsyncs (any change that asked for it since the last save). */
  private fsyncQueued = false;
  /** A save with fsync is queued ahead of the replies. */
  private durableSaveQueued = false;
  /** Bus hooks, set by the bus once it runs (MEET, broadcasts after a change). */
  bus: {
    meet(ip: string, port: number, cport: number): void;
    broadcastPong(): void;
    forget(name: string): void;
    publish(channel: string, message: string): void;
    publishShard(channel: string, message: string): void;
    killLinks(node: ClusterNode, to: boolean, from: boolean): void;
    failover(how: "default" | "force" | "takeover"): void;
    links(): BusLinkInfo[];
  } | null = null;
  readonly stats = { sent: new Map<string, number>(), received: new Map<string, number>() };
  /** Bus links closed for a send buffer over cluster-link-sendbuf-limit. */
  linksBufferLimitExceeded = 0;
  /** DEBUG DROP-CLUSTER-PACKET-FILTER: bus messages of this type are dropped (-1: none). */
  dropPacketType = -1;

  constructor(private readonly s: Server) {
    this.file = s.config.getString("cluster-config-file");
    lockNodesConf(this.file);
    const now = s.clock.nowMs();
    let st: ClusterState | null = null;
    let text = "";
    try {
      text = Deno.readTextFileSync(this.file);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    st = parseNodesConf(text, this.file, now);
    if (!st) {
      const me = newNode(randomName(), F.MYSELF | F.MASTER, now);
      st = new ClusterState(me);
      log.info("No cluster configuration found, I'm {name}", { name: me.name });
    } else {
      log.info("Node configuration loaded, I'm {name}", { name: st.myself.name });
    }
    this.st = st;
    st.onShardSlotLost = (slot) => s.pubsub.dropShardSlot(slot);
    this.applyAnnounced();
    const ip = s.config.getString("cluster-announce-ip");
    if (ip) st.myself.ip = ip;
    // What this node announces follows CONFIG SET at once, as in Redis.
    for (
      const name of [
        "cluster-announce-port",
        "cluster-announce-tls-port",
        "cluster-announce-bus-port",
        "cluster-announce-hostname",
      ]
    ) {
      s.config.onChange(name, () => {
        this.applyAnnounced();
        this.changed();
      });
    }
    // cluster-replica-no-failover is our NOFAILOVER flag, which our messages carry.
    const noFailover = () => {
      const me = this.st.myself;
      const before = me.flags;
      if (s.config.get<boolean>("cluster-replica-no-failover")) me.flags |= F.NOFAILOVER;
      else me.flags &= ~F.NOFAILOVER;
      if (me.flags !== before) this.changed();
    };
    noFailover();
    s.config.onChange("cluster-replica-no-failover", noFailover);
    s.config.onChange("cluster-announce-ip", (v) => {
      // Cleared: our address is learned again from the next message of a peer.
      this.st.myself.ip = String(v);
      this.changed();
    });
    this.updateState();
    this.saveNow();
    // DEBUG DROP-CLUSTER-PACKET-FILTER <type>: received bus messages of that type are ignored
    // (tests of partial connectivity), -1 to stop.
    s.debugExtensions.set("drop-cluster-packet-filter", (_e, c, argv) => {
      if (argv.length !== 3) return subcommandSyntaxError(c, argv, "DEBUG");
      const t = parseI64(argv[2]!);
      if (t === null) return c.error(ERR.notInt);
      this.dropPacketType = t >= -1n && t <= 0xffffn ? Number(t) : -2;
      c.out.ok();
    });
    // DEBUG CLUSTERLINK KILL <to|from|all> <node-id>: closes bus links (they reconnect).
    s.debugExtensions.set("clusterlink", (_e, c, argv) => {
      if (argv.length !== 5 || argv[2]!.toLowerCase() !== "kill") {
        return subcommandSyntaxError(c, argv, "DEBUG");
      }
      const node = this.st.nodes.get(argv[4]!);
      if (!node) return c.error(`ERR Unknown node ${argv[4]}`);
      const dir = argv[3]!.toLowerCase();
      if (dir !== "to" && dir !== "from" && dir !== "all") {
        return c.error(`ERR Unknown direction ${argv[3]}`);
      }
      this.bus?.killLinks(node, dir !== "from", dir !== "to");
      c.out.ok();
    });
  }

  /** Our announced ports and hostname, from the configuration (Redis's deriveAnnouncedPorts). */
  private applyAnnounced(): void {
    const me = this.st.myself;
    const c = this.s.config;
    me.port = c.get<number>("cluster-announce-port") || c.get<number>("port");
    me.cport = c.get<number>("cluster-announce-bus-port") || this.busPort();
    me.hostname = c.getString("cluster-announce-hostname");
  }

  /** The port of the cluster bus: cluster-port, else the data port + 10000. */
  busPort(): number {
    return this.s.config.get<number>("cluster-port") || this.s.config.get<number>("port") + 10000;
  }

  get myself(): ClusterNode {
    return this.st.myself;
  }

  /** Writes nodes.conf now (a failure is logged: Redis would exit, we keep serving). */
  saveNow(fsync = true): void {
    try {
      saveNodesConf(this.file, this.st, fsync);
    } catch (e) {
      log.warn("Could not save the cluster config file {file}: {err}", {
        file: this.file,
        err: String(e),
      });
    }
  }

  /**
   * Saves and re-evaluates the state once the current work is done: one save for all the
   * changes of a batch of commands or bus messages. The save fsyncs unless every change of the
   * batch passed `fsync: false` (Redis's CLUSTER SETSLOT saves without fsync; epochs, roles,
   * nodes, failure states and slots learned from other nodes are fsynced). A change that must be
   * durable is saved before the replies of the batch are written and before the bus sends what
   * it queued meanwhile (a vote), as Redis saves before it writes; a SETSLOT's save waits until
   * its reply is out.
   */
  changed(fsync = true): void {
    this.updateState();
    if (fsync) {
      this.fsyncQueued = true;
      if (this.durableSaveQueued) return;
      this.durableSaveQueued = true;
      queueMicrotask(() => this.savePending());
      return;
    }
    if (this.saveQueued) return;
    this.saveQueued = true;
    this.s.afterReplies(() => this.savePending());
  }

  /** The queued save, unless another queued one already made it. */
  private savePending(): void {
    if (!this.saveQueued && !this.durableSaveQueued) return;
    const sync = this.fsyncQueued;
    this.saveQueued = false;
    this.durableSaveQueued = false;
    this.fsyncQueued = false;
    this.saveNow(sync);
  }

  updateState(): void {
    const before = this.st.state;
    this.st.updateState(this.s.config.get<boolean>("cluster-require-full-coverage"));
    if (before !== this.st.state) {
      log.info("Cluster state changed: {state}", { state: this.st.state });
    }
  }

  /** The address clients are redirected to for a node (cluster-preferred-endpoint-type). */
  endpoint(n: ClusterNode): string {
    return `${this.preferredEndpoint(n)}:${n.port}`;
  }

  /** Redis's getPreferredEndpoint: the IP, the hostname ("?" when it has none), or "". */
  preferredEndpoint(n: ClusterNode): string {
    const type = this.s.config.getString("cluster-preferred-endpoint-type");
    if (type === "hostname") return n.hostname || "?";
    if (type === "unknown-endpoint") return "";
    return n.ip;
  }

  /** SPUBLISH in cluster mode: the other nodes of this shard get it (through the bus). */
  publishShard(channel: string, message: string): void {
    this.bus?.publishShard(channel, message);
  }

  /** PUBLISH in cluster mode: every node's subscribers get it (through the bus). */
  publish(channel: string, message: string): void {
    this.bus?.publish(channel, message);
  }

  // ---------------------------------------------------------------------------------------
  // Routing

  /**
   * Where a command must run: null when here, else the error that redirects or refuses it
   * (Redis's getNodeByQuery). `queued` are the commands of a transaction being EXECuted.
   */
  route(c: Client, def: CommandDef, argv: string[], queued?: string[][]): string | null {
    const st = this.st;
    const me = st.myself;
    let calls: [CommandDef, string[]][] | null = null;
    let slot = -1;
    let writes = false;
    if (queued) {
      calls = [];
      for (const q of queued) {
        const d = this.s.commands.get(q[0]!.toLowerCase());
        if (d) {
          calls.push([
            d.subcommands?.find((x) => x.name.endsWith("|" + (q[1] ?? "").toLowerCase())) ?? d,
            q,
          ]);
        }
      }
      for (const [d, a] of calls) {
        const ks = callSlot(d, a);
        if (ks === NO_KEYS) continue;
        if (ks === CROSS_SLOT || (slot !== -1 && ks !== slot)) return CROSSSLOT;
        if (effectiveCommandBits(this.s, d, a) & F_WRITE) writes = true;
        slot = ks;
      }
    } else {
      slot = callSlot(def, argv);
      if (slot === CROSS_SLOT) return CROSSSLOT;
      // A script that may write (a shebang without no-writes) is a write, as in Redis.
      writes = (effectiveCommandBits(this.s, def, argv) & F_WRITE) !== 0;
    }
    if (slot === -1) return null;
    // Shard channels (SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH) are served by every node of the
    // slot's shard, replicas included, and by the source of a slot being migrated until the
    // slot moves, whatever keys are where; while the cluster is down they follow their own
    // setting.
    const shard = !queued && SHARD_COMMANDS.has(def.name);
    const owner = st.owner[slot] ?? null;
    const asking = c.asking || def.name === "restore-asking";
    // A slot that no node serves is reported before the cluster's state, as Redis does.
    if (!owner) {
      if (!(asking && st.importing.has(slot))) return "CLUSTERDOWN Hash slot not served";
    }
    if (st.state !== "ok") {
      if (shard) {
        if (!this.s.config.get<boolean>("cluster-allow-pubsubshard-when-down")) {
          return "CLUSTERDOWN The cluster is down";
        }
      } else if (!this.s.config.get<boolean>("cluster-allow-reads-when-down")) {
        return "CLUSTERDOWN The cluster is down";
      } else if (writes) return "CLUSTERDOWN The cluster is down and only accepts read commands";
    }
    if (owner === me) {
      const target = st.migrating.get(slot);
      if (target && !shard) {
        const keys = keysOf(calls ?? [[def, argv]]);
        const m = missing(c, keys);
        if (m > 0 && m < keys.length) {
          return "TRYAGAIN Multiple keys request during rehashing of slot";
        }
        if (m > 0) return `ASK ${slot} ${this.endpoint(target)}`;
      }
      return null;
    }
    if (asking && st.importing.has(slot)) {
      const keys = keysOf(calls ?? [[def, argv]]);
      // A single key is served whether it is here yet or not (RESTORE-ASKING of MIGRATE).
      if (!shard && keys.length > 1 && missing(c, keys) > 0) {
        return "TRYAGAIN Multiple keys request during rehashing of slot";
      }
      return null;
    }
    // A READONLY client reads from the replica of the slot's master (shard channels need no
    // READONLY).
    if (
      owner && (c.readonlyCluster || shard) && !writes && me.slaveof === owner.name
    ) return null;
    return `MOVED ${slot} ${owner ? this.endpoint(owner) : ""}`;
  }

  /**
   * The error that ends a client's wait on `key` (Redis's clusterRedirectBlockedClientIfNeeded):
   * CLUSTERDOWN while the cluster is down, MOVED once its slot is served elsewhere and not
   * being imported here, null while it may wait on.
   */
  blockedRedirect(c: Client, key: string): string | null {
    const st = this.st;
    if (st.state !== "ok") return "CLUSTERDOWN The cluster is down";
    const slot = keyHashSlot(key);
    const owner = st.owner[slot] ?? null;
    if (owner === st.myself || st.importing.has(slot)) return null;
    // XREAD is the one blocking read: a READONLY client may wait for it on its master's replica.
    const read = c.blockedCall?.argv[0]?.toLowerCase() === "xread";
    if (owner && read && c.readonlyCluster && st.myself.slaveof === owner.name) return null;
    return owner ? `MOVED ${slot} ${this.endpoint(owner)}` : "CLUSTERDOWN Hash slot not served";
  }

  // ---------------------------------------------------------------------------------------
  // Slots

  /**
   * After the startup load, as Redis's verifyClusterConfigWithData: a master's keys must be in
   * db 0 (false otherwise: the node cannot start), and a slot it holds keys of is made to make
   * sense: an unassigned one becomes ours, one that another node serves is marked importing from
   * it (`redis-cli --cluster fix` settles it). A replica is left alone: its master's stream rules.
   */
  verifyWithData(): boolean {
    const st = this.st;
    const me = st.myself;
    if (!isMaster(me)) return true;
    const dbs = this.s.dbs;
    for (let i = 1; i < dbs.length; i++) if (dbs[i]!.size > 0) return false;
    const db = dbs[0]!;
    if (db.size === 0) return true;
    let fixed = 0;
    for (let slot = 0; slot < CLUSTER_SLOTS; slot++) {
      const owner = st.owner[slot];
      if (owner === me || st.importing.has(slot) || db.countKeysInSlot(slot) === 0) continue;
      fixed++;
      if (!owner) {
        log.warn("I have keys for unassigned slot {slot}. Taking responsibility for it.", { slot });
        st.addSlot(me, slot);
      } else {
        log.warn(
          "I have keys for slot {slot}, but the slot is assigned to another node. Setting it to importing state.",
          { slot },
        );
        st.importing.set(slot, owner);
      }
    }
    if (fixed > 0) {
      this.updateState();
      this.saveNow();
    }
    return true;
  }

  /** CLUSTER ADDSLOTS / ADDSLOTSRANGE: null, or the error. */
  addSlots(slots: number[]): string | null {
    const seen = new Set<number>();
    for (const s of slots) {
      if (this.st.owner[s]) return `ERR Slot ${s} is already busy`;
      if (seen.has(s)) return `ERR Slot ${s} specified multiple times`;
      seen.add(s);
    }
    for (const s of slots) {
      // A slot we were importing is ours now: the import is over.
      this.st.importing.delete(s);
      this.st.addSlot(this.st.myself, s);
    }
    this.changed();
    return null;
  }

  delSlots(slots: number[]): string | null {
    const seen = new Set<number>();
    for (const s of slots) {
      if (!this.st.owner[s]) return `ERR Slot ${s} is already unassigned`;
      if (seen.has(s)) return `ERR Slot ${s} specified multiple times`;
      seen.add(s);
    }
    for (const s of slots) this.st.delSlot(s);
    this.changed();
    return null;
  }

  /** CLUSTER FLUSHSLOTS: only when the node holds no keys. */
  flushSlots(): string | null {
    if (this.s.dbs[0]!.size !== 0) return "ERR DB must be empty to perform CLUSTER FLUSHSLOTS.";
    for (let s = 0; s < CLUSTER_SLOTS; s++) {
      if (this.st.owner[s] === this.st.myself) this.st.delSlot(s);
    }
    this.changed();
    return null;
  }

  /** CLUSTER SETSLOT slot IMPORTING|MIGRATING|STABLE|NODE [id]. */
  setSlot(slot: number, how: string, id: string | undefined): string | null {
    const st = this.st;
    const me = st.myself;
    if (!isMaster(me)) return "ERR Please use SETSLOT only with masters.";
    const node = id === undefined ? undefined : st.nodes.get(id);
    switch (how) {
      case "migrating":
        if (st.owner[slot] !== me) return `ERR I'm not the owner of hash slot ${slot}`;
        if (!node) return `ERR I don't know about node ${id}`;
        if (!isMaster(node)) return "ERR Target node is not a master";
        st.migrating.set(slot, node);
        break;
      case "importing":
        if (st.owner[slot] === me) return `ERR I'm already the owner of hash slot ${slot}`;
        if (!node) return `ERR I don't know about node ${id}`;
        if (!isMaster(node)) return "ERR Target node is not a master";
        st.importing.set(slot, node);
        break;
      case "stable":
        st.migrating.delete(slot);
        st.importing.delete(slot);
        break;
      case "node": {
        if (!node) return `ERR Unknown node ${id}`;
        if (!isMaster(node)) return "ERR Target node is not a master";
        if (st.owner[slot] === me && node !== me && this.s.dbs[0]!.countKeysInSlot(slot) > 0) {
          return `ERR Can't assign hashslot ${slot} to a different node while I still hold keys for this hash slot.`;
        }
        // A migration is over once no key of the slot is left here (whoever owns it now: the
        // new owner's PONG may have arrived before this command).
        if (st.migrating.has(slot) && this.s.dbs[0]!.countKeysInSlot(slot) === 0) {
          st.migrating.delete(slot);
        }
        const wasMine = st.owner[slot] === me;
        st.moveSlot(slot, node);
        // A master that gave away its last slot follows the new owner as its replica (Redis
        // 7.0, when cluster-allow-replica-migration is yes).
        if (
          wasMine && node !== me && me.numSlots === 0 &&
          this.s.config.get<boolean>("cluster-allow-replica-migration")
        ) {
          log.warn("Configuration change detected. Reconfiguring myself as a replica of {name}", {
            name: node.name,
          });
          this.replicate(node);
          return null;
        }
        // The end of an import: the slot is ours, with an epoch above every other node's so
        // the others follow (bumped only when ours is not already the largest, alone, as
        // Redis's clusterBumpConfigEpochWithoutConsensus), and everyone is told at once.
        if (node === me && st.importing.has(slot)) {
          st.importing.delete(slot);
          this.bumpEpoch();
          this.changed(false);
          this.bus?.broadcastPong();
          return null;
        }
        break;
      }
      default:
        return "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP";
    }
    // As Redis: saved without fsync, and no broadcast (PINGs carry the change).
    this.changed(false);
    return null;
  }

  /**
   * CLUSTER BUMPEPOCH (or the end of an import): a new configEpoch unless ours is already the
   * largest and no other node has it too.
   */
  bumpEpoch(): "BUMPED" | "STILL" {
    const st = this.st;
    let max = 0n;
    for (const n of st.nodes.values()) if (n.configEpoch > max) max = n.configEpoch;
    if (st.myself.configEpoch !== 0n && st.myself.configEpoch === max) {
      let dup = false;
      for (const n of st.nodes.values()) {
        if (n !== st.myself && n.configEpoch === max) dup = true;
      }
      if (!dup) return "STILL";
    }
    st.currentEpoch++;
    st.myself.configEpoch = st.currentEpoch;
    this.changed();
    return "BUMPED";
  }

  // ---------------------------------------------------------------------------------------
  // Replies

  nodeLine(n: ClusterNode): string {
    return nodeLine(this.st, n, this.s.clock.nowMs(), false);
  }

  nodesText(): string {
    return [...this.st.nodes.values()].map((n) => this.nodeLine(n) + "\n").join("");
  }

  infoText(): string {
    const st = this.st;
    const counts = st.slotCounts();
    const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
    const lines: [string, string | number | bigint][] = [
      ["cluster_state", st.state],
      ["cluster_slots_assigned", counts.assigned],
      ["cluster_slots_ok", counts.ok],
      ["cluster_slots_pfail", counts.pfail],
      ["cluster_slots_fail", counts.fail],
      ["cluster_known_nodes", st.nodes.size],
      ["cluster_size", st.size],
      ["cluster_current_epoch", st.currentEpoch],
      ["cluster_my_epoch", this.myEpoch()],
    ];
    for (const [type, n] of this.stats.sent) lines.push([`cluster_stats_messages_${type}_sent`, n]);
    lines.push(["cluster_stats_messages_sent", sum(this.stats.sent)]);
    for (const [type, n] of this.stats.received) {
      lines.push([`cluster_stats_messages_${type}_received`, n]);
    }
    lines.push(["cluster_stats_messages_received", sum(this.stats.received)]);
    lines.push(["total_cluster_links_buffer_limit_exceeded", this.linksBufferLimitExceeded]);
    return lines.map(([k, v]) => `${k}:${v}\r\n`).join("");
  }

  /** A replica's epoch is its master's, as CLUSTER INFO shows it. */
  private myEpoch(): bigint {
    const me = this.st.myself;
    const m = this.st.masterOf(me);
    return m ? m.configEpoch : me.configEpoch;
  }

  /**
   * A node in CLUSTER SLOTS: the preferred endpoint (null for unknown-endpoint), port and name,
   * then what else is known of its address (the IP unless that is the endpoint, the hostname
   * unless that is), as Redis 7.0.
   */
  private writeNode(c: Client, n: ClusterNode): void {
    const type = this.s.config.getString("cluster-preferred-endpoint-type");
    c.out.array(4);
    if (type === "unknown-endpoint") c.out.nullBulk();
    else c.out.bulk(this.preferredEndpoint(n));
    c.out.int(n.port);
    c.out.bulk(n.name);
    const ip = type !== "ip";
    const host = type !== "hostname" && n.hostname !== "";
    c.out.map((ip ? 1 : 0) + (host ? 1 : 0));
    if (ip) {
      c.out.bulk("ip");
      c.out.bulk(n.ip);
    }
    if (host) {
      c.out.bulk("hostname");
      c.out.bulk(n.hostname);
    }
  }

  /** CLUSTER SLOTS: each contiguous range of a master, with the master then its replicas. */
  replySlots(c: Client): void {
    const ranges: { start: number; end: number; node: ClusterNode }[] = [];
    let cur: { start: number; end: number; node: ClusterNode } | null = null;
    for (let s = 0; s < CLUSTER_SLOTS; s++) {
      const o = this.st.owner[s];
      if (cur && o === cur.node && s === cur.end + 1) {
        cur.end = s;
        continue;
      }
      if (cur) ranges.push(cur);
      cur = o ? { start: s, end: s, node: o } : null;
    }
    if (cur) ranges.push(cur);
    c.out.array(ranges.length);
    for (const r of ranges) {
      const replicas = this.st.replicasOf(r.node).filter((x) => this.replicaAvailable(x));
      c.out.array(3 + replicas.length);
      c.out.int(r.start);
      c.out.int(r.end);
      this.writeNode(c, r.node);
      for (const x of replicas) this.writeNode(c, x);
    }
  }

  /**
   * A node's replication offset as this node knows it: its own (a replica's is what it has
   * processed of its master's stream), or the one the node last announced on the bus.
   */
  private offsetOf(n: ClusterNode): number {
    return n === this.st.myself ? this.myOffset() : Number(n.replOffset);
  }

  /**
   * This node's replication offset as the cluster bus announces it: a master's stream offset;
   * for a replica what it has applied of its master's stream, or, with no master link, what it
   * kept to continue from, else 0, as Redis 7.0's replicationGetSlaveOffset. While a full sync
   * loads (here as its payload arrives) it is 0 too: Redis drops its cached master when the
   * load starts. The master of a loading replica thus sees it at 0 ("loading" in CLUSTER
   * SHARDS, left out of CLUSTER SLOTS).
   */
  myOffset(): number {
    if (!this.st.myself.slaveof) return this.s.replOffset;
    const r = this.s.replication.replica;
    if (!r.active) return 0;
    if (r.master) return r.offset;
    if (r.state === "sync") return 0;
    return r.cached ? r.cached.offset : 0;
  }

  /**
   * A replica CLUSTER SLOTS lists: not failed, and with some data (an offset of 0 means it has
   * not synced anything yet), as Redis 7.0 decides.
   */
  private replicaAvailable(n: ClusterNode): boolean {
    return !(n.flags & F.FAIL) && this.offsetOf(n) !== 0;
  }

  /** CLUSTER SHARDS (7.0): per master, its slot ranges and its nodes. */
  replyShards(c: Client): void {
    const masters = [...this.st.nodes.values()].filter((n) =>
      isMaster(n) && !(n.flags & F.HANDSHAKE)
    );
    c.out.array(masters.length);
    for (const m of masters) {
      c.out.map(2);
      c.out.bulk("slots");
      const ranges: number[] = [];
      for (const [a, b] of slotRangesOf(m)) ranges.push(a, b);
      c.out.array(ranges.length);
      for (const x of ranges) c.out.int(x);
      c.out.bulk("nodes");
      const nodes = [m, ...this.st.replicasOf(m)];
      c.out.array(nodes.length);
      for (const n of nodes) {
        const fields: [string, string | number][] = [
          ["id", n.name],
          ["port", n.port],
          ["ip", n.ip],
          ["endpoint", this.preferredEndpoint(n)],
          ...(n.hostname ? [["hostname", n.hostname] as [string, string]] : []),
          ["role", isMaster(n) ? "master" : "replica"],
          ["replication-offset", this.offsetOf(n)],
          // Only a node agreed failed is "fail" (a suspicion, PFAIL, is not), and a replica
          // that has synced nothing yet is "loading", as in Redis 7.0.
          [
            "health",
            n.flags & F.FAIL
              ? "fail"
              : !isMaster(n) && this.offsetOf(n) === 0
              ? "loading"
              : "online",
          ],
        ];
        c.out.map(fields.length);
        for (const [k, v] of fields) {
          c.out.bulk(k);
          if (typeof v === "number") c.out.int(v);
          else c.out.bulk(v);
        }
      }
    }
  }

  replyLinks(c: Client): void {
    const links = this.bus?.links() ?? [];
    c.out.array(links.length);
    for (const l of links) {
      c.out.map(6);
      c.out.bulk("direction");
      c.out.bulk(l.outbound ? "to" : "from");
      c.out.bulk("node");
      c.out.bulk(l.node.name);
      c.out.bulk("create-time");
      c.out.int(l.createdMs);
      c.out.bulk("events");
      c.out.bulk(l.queued > 0 ? "rw" : "r");
      c.out.bulk("send-buffer-allocated");
      c.out.int(l.peak);
      c.out.bulk("send-buffer-used");
      c.out.int(l.queued);
    }
  }

  /** CLUSTER MEET / FORGET / REPLICATE / RESET / FAILOVER; an error or null. */
  command(c: Client, sub: string, argv: string[]): string | null {
    const st = this.st;
    const n = argv.length;
    const wrong = `ERR unknown subcommand or wrong number of arguments for '${
      argv[1]
    }'. Try CLUSTER HELP.`;
    switch (sub) {
      case "meet": {
        if (n !== 4 && n !== 5) return wrong;
        const port = Number(argv[3]);
        if (!/^\d+$/.test(argv[3]!) || port > 65535) {
          return `ERR Invalid base port specified: ${argv[3]}`;
        }
        const cport = n === 5 ? Number(argv[4]) : port + 10000;
        if (n === 5 && (!/^\d+$/.test(argv[4]!) || cport > 65535)) {
          return `ERR Invalid bus port specified: ${argv[4]}`;
        }
        if (!/^[0-9a-fA-F.:]+$/.test(argv[2]!)) {
          return `ERR Invalid node address specified: ${argv[2]}:${argv[3]}`;
        }
        if (!this.bus) return "ERR the cluster bus is not running";
        this.bus.meet(argv[2]!, port, cport);
        c.out.ok();
        return null;
      }
      case "forget": {
        if (n !== 3) return wrong;
        const node = st.nodes.get(argv[2]!);
        if (!node) return `ERR Unknown node ${argv[2]}`;
        if (node === st.myself) return "ERR I tried hard but I can't forget myself...";
        if (st.myself.slaveof === node.name) return "ERR Can't forget my master!";
        st.delNode(node);
        this.bus?.forget(node.name);
        this.changed();
        c.out.ok();
        return null;
      }
      case "replicate": {
        if (n !== 3) return wrong;
        const node = st.nodes.get(argv[2]!);
        if (!node) return `ERR Unknown node ${argv[2]}`;
        if (node === st.myself) return "ERR Can't replicate myself";
        if (!isMaster(node)) return "ERR I can only replicate a master, not a replica.";
        const me = st.myself;
        if (isMaster(me) && (me.numSlots > 0 || this.s.dbs[0]!.size > 0)) {
          return "ERR To set a master the node must be empty and without assigned slots.";
        }
        this.replicate(node);
        c.out.ok();
        return null;
      }
      case "reset": {
        if (n > 3) return wrong;
        const hard = n === 3 && argv[2]!.toLowerCase() === "hard";
        if (n === 3 && !hard && argv[2]!.toLowerCase() !== "soft") return ERR_SYNTAX;
        if (isMaster(st.myself) && this.s.dbs[0]!.size > 0) {
          return "ERR CLUSTER RESET can't be called with master nodes containing keys";
        }
        this.reset(hard);
        c.out.ok();
        return null;
      }
      case "failover": {
        if (n > 3) return wrong;
        const how = n === 3 ? argv[2]!.toLowerCase() : "default";
        if (how !== "force" && how !== "takeover" && how !== "default") return ERR_SYNTAX;
        const me = st.myself;
        if (!me.slaveof) return "ERR You should send CLUSTER FAILOVER to a replica";
        const master = st.nodes.get(me.slaveof);
        if (!master) return "ERR I'm a replica but my master is unknown to me";
        if (how === "default" && (master.flags & (F.FAIL | F.PFAIL) || !master.linkUp)) {
          return "ERR Master is down or failed, please use CLUSTER FAILOVER FORCE";
        }
        this.bus?.failover(how);
        c.out.ok();
        return null;
      }
    }
    return wrong;
  }

  /** Follows `master` as its replica (CLUSTER REPLICATE, or a failover elsewhere). */
  replicate(master: ClusterNode): void {
    const me = this.st.myself;
    for (let s = 0; s < CLUSTER_SLOTS; s++) if (this.st.owner[s] === me) this.st.delSlot(s);
    // A master turning replica closes every slot it was migrating or importing.
    if (isMaster(me)) {
      this.st.migrating.clear();
      this.st.importing.clear();
    }
    this.st.setRole(me, master);
    this.s.replication.replicaOf(master.ip, master.port);
    this.changed();
    this.bus?.broadcastPong();
  }

  /** CLUSTER RESET: forget every other node and the slots; HARD also takes a new name. */
  reset(hard: boolean): void {
    const st = this.st;
    if (st.myself.slaveof) {
      this.s.replication.promote();
      st.setRole(st.myself, null);
    }
    this.s.dbs[0]!.clear();
    for (let s = 0; s < CLUSTER_SLOTS; s++) st.delSlot(s);
    st.migrating.clear();
    st.importing.clear();
    // The others are dropped with their links, not blacklisted as CLUSTER FORGET does: a node
    // reset and met again learns them from gossip at once, as in Redis.
    for (const n of [...st.nodes.values()]) {
      if (n === st.myself) continue;
      this.bus?.killLinks(n, true, true);
      st.delNode(n);
    }
    if (hard) {
      st.currentEpoch = 0n;
      st.lastVoteEpoch = 0n;
      st.myself.configEpoch = 0n;
      st.rename(st.myself, randomName());
    }
    this.changed();
  }
}

const ERR_SYNTAX = "ERR syntax error";

/**
 * One node per nodes.conf: a `<file>.lock` holding the owner's pid. A lock whose process is
 * gone is taken over; a live one stops this node's startup with Redis's reason.
 */
function lockNodesConf(file: string): void {
  const lock = `${file}.lock`;
  try {
    const pid = Number(Deno.readTextFileSync(lock).trim());
    if (pid > 0 && pid !== Deno.pid && processAlive(pid)) {
      throw new ConfigError(
        file,
        0,
        `Sorry, the cluster configuration file ${file} is already used by a different Redis ` +
          "Cluster node. Please make sure that different nodes use different cluster " +
          "configuration files.",
      );
    }
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    // No lock yet (or an unreadable one): ours from now on.
  }
  Deno.writeTextFileSync(lock, `${Deno.pid}\n`);
}

function processAlive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

function slotRangesOf(n: ClusterNode): [number, number][] {
  return slotRanges(n.slots);
}
