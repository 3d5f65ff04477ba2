/**
 * Replication as a whole: the master side (replica links) and the replica side (the master
 * link) of one node, the role changes between them, and what ROLE and INFO replication show.
 *
 * Role changes follow Redis 7.0. Becoming a replica (REPLICAOF host port) caches this node's
 * own replication ID and offset as what it has, so that it can PSYNC with its new master (a
 * former replica of its own continues partially); replicas of its own are disconnected so that
 * they resync through it. Becoming a master (REPLICAOF NO ONE) keeps the dataset, moves the
 * master's ID to replid2 with second_repl_offset = offset + 1 (PSYNC2: the old master's other
 * replicas can continue partially with the promoted one) and takes a new ID.
 */
import { getLogger } from "../../shared/log.ts";
import type { Server } from "../server/server.ts";
import type { Client } from "../server/client.ts";
import { MasterSide } from "./master.ts";
import { type CachedMaster, ReplicaSide } from "./replica.ts";

/** What a client blocked on keys gets when its node turns replica. */
const STATE_CHANGED =
  "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)";

const log = getLogger(["data-node", "replication"]);

export type FailoverState = "no-failover" | "waiting-for-sync" | "failover-in-progress";

export interface FailoverRequest {
  target: { host: string; port: number } | null;
  force: boolean;
  /** 0 = no timeout. */
  timeoutMs: number;
}

export class Replication {
  readonly master: MasterSide;
  readonly replica: ReplicaSide;
  private ticks = 0;
  /** FAILOVER: where it stands, its target, and its deadline (0 = none). */
  failoverState: FailoverState = "no-failover";
  private failover: FailoverRequest & { endMs: number } | null = null;

  constructor(private readonly s: Server) {
    this.master = new MasterSide(s);
    this.replica = new ReplicaSide(s);
  }

  /**
   * REPLICAOF host port; the reply text ("OK", or that nothing changed). `resume` is what a
   * node starting as a replica has (from its RDB), or null when it has nothing to continue.
   */
  replicaOf(host: string, port: number, resume?: CachedMaster | null): string {
    const s = this.s;
    const r = this.replica;
    if (r.active && r.host === host && r.port === port) {
      log.info(
        "REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.",
      );
      return "OK Already connected to specified master";
    }
    const wasMaster = !r.active;
    // Leaving a master we are connected to: what we have of it is what we continue from.
    if (r.master) r.cached = { replId: s.replId, offset: s.replOffset, db: r.master.db.id };
    r.stop();
    s.setRole("replica");
    // Clients blocked on keys were waiting for writes that can now only come from the master:
    // woken with Redis's error and disconnected once it is written.
    for (const c of s.clients.values()) {
      if (c.blocked && c.kind === "normal" && s.blocking.unblock(c, "error", STATE_CHANGED)) {
        c.closeAfterReply = true;
      }
    }
    // Our own replicas stay: they may continue with us once we continue with the new master.
    // They are dropped when our replication ID changes (a partial resync that brings a new
    // one) or when a full sync's dataset replaces ours, as in Redis 7.0.
    if (resume !== undefined) {
      r.cached = resume;
    } else if (wasMaster) {
      // What this node has is what it can ask its new master to continue from.
      r.cached = { replId: s.replId, offset: s.replOffset, db: 0 };
    }
    r.start(host, port);
    log.info("REPLICAOF {host}:{port} enabled", { host, port });
    return "OK";
  }

  /** REPLICAOF NO ONE: this node becomes a master, keeping its data. */
  promote(): void {
    if (!this.replica.active) return;
    this.unsetMaster();
    log.info("MASTER MODE enabled (user request from 'id=...')");
  }

  /**
   * No longer a replica (REPLICAOF NO ONE, an aborted FAILOVER): a new replication ID, and our
   * replicas reconnect to learn it (they continue, PSYNC2 keeps the old one as the second ID).
   */
  private unsetMaster(): void {
    const s = this.s;
    const r = this.replica;
    r.stop();
    r.cached = null;
    s.replId2 = s.replId;
    s.secondReplOffset = s.replOffset + 1;
    s.changeReplicationId();
    s.setRole("master");
    s.replStream?.forgetSelectedDb();
    this.master.disconnectAll();
  }

  /**
   * FAILOVER [TO host port [FORCE]] [TIMEOUT ms], as Redis 6.2: writes are paused, and once
   * the target (or, without one, any replica) has acknowledged everything this master has,
   * this node becomes its replica with `PSYNC <replid> <offset> FAILOVER`, which makes the
   * target a master that continues the stream. Null when started, else the error.
   */
  startFailover(req: FailoverRequest): string | null {
    const s = this.s;
    if (s.clusterEnabled) return "ERR FAILOVER not allowed in cluster mode.";
    if (this.replica.active) return "ERR FAILOVER is not valid when server is a replica.";
    if (this.master.links.size === 0) return "ERR FAILOVER requires connected replicas.";
    if (this.failoverState !== "no-failover") return "ERR FAILOVER already in progress.";
    if (req.force && (!req.timeoutMs || !req.target)) {
      return "ERR FAILOVER with force option requires both a timeout and target HOST and IP.";
    }
    if (req.target) {
      const l = this.master.find(req.target.host, req.target.port);
      if (!l) return "ERR FAILOVER target HOST and PORT is not a replica.";
      if (l.reportedState !== "online") return "ERR FAILOVER target replica is not online.";
      log.info("FAILOVER requested to {host}:{port}.", req.target);
    } else {
      log.info("FAILOVER requested to any replica.");
    }
    const now = s.clock.nowMs();
    this.failover = { ...req, endMs: req.timeoutMs ? now + req.timeoutMs : 0 };
    this.failoverState = "waiting-for-sync";
    // Writes wait; the replicas' own ACKs (one a second) tell when they have caught up.
    s.pause = s.pause
      ? { ...s.pause, untilMs: Infinity }
      : { untilMs: Infinity, all: false, waiters: [] };
    return null;
  }

  /** FAILOVER ABORT; null when aborted, else the error. */
  abortFailover(reason = "Failover manually aborted"): string | null {
    if (this.failoverState === "no-failover") return "ERR No failover in progress.";
    const t = this.failover?.target;
    log.info("FAILOVER to {to} aborted: {reason}", {
      to: t ? `${t.host}:${t.port}` : "any replica",
      reason,
    });
    if (this.failoverState === "failover-in-progress") {
      // We had started to follow the target: we are the master again.
      this.unsetMaster();
      this.s.config.setInternal("replicaof", null);
    }
    this.clearFailover();
    return null;
  }

  private clearFailover(): void {
    this.failover = null;
    this.failoverState = "no-failover";
    this.replica.failoverPsync = false;
    this.s.unpause();
  }

  /** The FAILOVER target's PSYNC was answered: the handover is done (or failed). */
  failoverPsyncDone(accepted: boolean): void {
    if (this.failoverState !== "failover-in-progress") return;
    if (accepted) {
      log.info("Failover target accepted the PSYNC request; failover complete.");
      this.clearFailover();
    } else {
      this.abortFailover("Failover target rejected psync request");
    }
  }

  /** Moves a failover on: called on every ACK and from the cron. */
  checkFailover(): void {
    const f = this.failover;
    if (!f || this.failoverState !== "waiting-for-sync") return;
    const s = this.s;
    if (f.endMs && s.clock.nowMs() >= f.endMs) {
      if (!f.force || !f.target) {
        this.abortFailover("Replica never caught up before timeout");
        return;
      }
      log.info("FAILOVER to {host}:{port} time out exceeded, failing over.", f.target);
      this.handOver(f.target);
      return;
    }
    const target = f.target ? this.master.find(f.target.host, f.target.port) : null;
    const candidates = target ? [target] : [...this.master.links];
    const ready = candidates.find((l) =>
      l.reportedState === "online" && l.ackOffset === s.replOffset
    );
    if (!ready) return;
    this.handOver({ host: ready.ip, port: ready.listeningPort });
  }

  private handOver(to: { host: string; port: number }): void {
    log.info("Failover target {host}:{port} is synced, failing over.", to);
    this.failoverState = "failover-in-progress";
    // The target gets repl-timeout to answer the PSYNC (a forced handover comes after the
    // request's own deadline, which cannot be the handshake's too).
    if (this.failover?.endMs) {
      this.failover.endMs = this.s.clock.nowMs() +
        this.s.config.get<number>("repl-timeout") * 1000;
    }
    this.replica.failoverPsync = true;
    this.replicaOf(to.host, to.port);
    this.s.config.setInternal("replicaof", to);
  }

  /** A client is being freed: the links it held are gone. */
  clientFreed(c: Client): void {
    if (c.replicaLink) this.master.removed(c);
    if (c.kind === "master") this.replica.masterClientClosed(c);
  }

  /** The ROLE reply. */
  role(c: Client): void {
    const s = this.s;
    const r = this.replica;
    if (r.active) {
      c.out.array(5);
      c.out.bulk("slave");
      c.out.bulk(r.host);
      c.out.int(r.port);
      c.out.bulk(r.state === "sync" ? "sync" : r.state);
      c.out.int(r.state === "connected" ? s.replOffset : -1);
      return;
    }
    const online = [...this.master.links].filter((l) => l.reportedState === "online");
    c.out.array(3);
    c.out.bulk("master");
    c.out.int(s.replOffset);
    c.out.array(online.length);
    for (const l of online) {
      c.out.array(3);
      c.out.bulk(l.ip);
      c.out.bulk(String(l.listeningPort));
      c.out.bulk(String(l.ackOffset));
    }
  }

  /** The fields of INFO replication, in Redis's order. */
  info(): [string, string | number][] {
    const s = this.s;
    const r = this.replica;
    const now = s.clock.nowMs();
    const out: [string, string | number][] = [];
    if (!r.active) {
      out.push(["role", "master"]);
    } else {
      out.push(["role", "slave"]);
      out.push(["master_host", r.host]);
      out.push(["master_port", r.port]);
      out.push(["master_link_status", r.state === "connected" ? "up" : "down"]);
      out.push([
        "master_last_io_seconds_ago",
        r.master ? Math.floor((now - r.lastIoMs) / 1000) : -1,
      ]);
      out.push(["master_sync_in_progress", r.state === "sync" ? 1 : 0]);
      out.push(["slave_read_repl_offset", s.replOffset + r.unapplied]);
      out.push(["slave_repl_offset", s.replOffset]);
      if (r.state === "sync") {
        const t = r.transfer;
        out.push(["master_sync_total_bytes", t.size]);
        out.push(["master_sync_read_bytes", t.read]);
        out.push(["master_sync_left_bytes", t.size - t.read]);
        out.push([
          "master_sync_perc",
          (t.size > 0 ? (t.read * 100) / t.size : 0).toFixed(2),
        ]);
        out.push(["master_sync_last_io_seconds_ago", Math.floor((now - t.lastIoMs) / 1000)]);
      }
      if (r.state !== "connected") {
        out.push([
          "master_link_down_since_seconds",
          r.downSinceMs ? Math.floor((now - r.downSinceMs) / 1000) : -1,
        ]);
      }
      out.push(["slave_priority", s.config.get<number>("replica-priority")]);
      out.push(["slave_read_only", s.config.get<boolean>("replica-read-only") ? 1 : 0]);
      out.push(["replica_announced", s.config.get<boolean>("replica-announced") ? 1 : 0]);
    }
    // A replica syncing over an RDB channel is one replica: its second connection is not listed.
    const links = [...this.master.links].filter((l) => l.mainChannelId === 0);
    out.push(["connected_slaves", links.length]);
    const want = s.config.get<number>("min-replicas-to-write");
    const lag = s.config.get<number>("min-replicas-max-lag");
    if (want > 0 && lag > 0) out.push(["min_slaves_good_slaves", this.master.goodReplicas(lag)]);
    links.forEach((l, i) => {
      const lagSec = Math.floor((now - l.ackMs) / 1000);
      out.push([
        `slave${i}`,
        `ip=${l.ip},port=${l.listeningPort},state=${l.reportedState},offset=${l.ackOffset},lag=${lagSec}`,
      ]);
    });
    const st = s.replStream;
    out.push(
      ["master_failover_state", this.failoverState],
      ["master_replid", s.replId],
      ["master_replid2", s.replId2],
      ["master_repl_offset", s.replOffset],
      ["second_repl_offset", s.secondReplOffset],
      ["repl_backlog_active", st ? 1 : 0],
      ["repl_backlog_size", st?.capacity ?? s.config.get<number>("repl-backlog-size")],
      ["repl_backlog_first_byte_offset", st ? st.firstByteOffset : 0],
      ["repl_backlog_histlen", st?.histlen ?? 0],
    );
    return out;
  }

  /**
   * Called by the server's cron; does its work once a second, and the replica side's and the
   * failover's every 100 ms while a failover runs (as Redis runs its replication cron faster
   * then), so that a FAILOVER TIMEOUT and the handshake with the target are not held back.
   */
  cron(nowMs: number, hz: number): void {
    const perSecond = Math.max(1, hz);
    const wholeSecond = ++this.ticks % perSecond === 0;
    const failingOver = this.failoverState !== "no-failover" &&
      this.ticks % Math.max(1, Math.round(perSecond / 10)) === 0;
    if (!wholeSecond && !failingOver) return;
    this.replica.cron(nowMs);
    if (wholeSecond) this.master.cron(nowMs, Math.floor(this.ticks / perSecond));
    this.checkFailover();
    // A failover that never got its PSYNC answered gives up at its deadline.
    const f = this.failover;
    if (this.failoverState === "failover-in-progress" && f?.endMs && nowMs >= f.endMs) {
      this.abortFailover("Failover target never answered the PSYNC request");
    }
  }
}
