/**
 * The sentinel's core: monitoring (PING, INFO, hello), subjective and objective down, the
 * leader election by epochs, and the failover state machine, as Redis Sentinel 7.0 runs them.
 *
 * It owns the state (state.ts) and no socket: time comes from an injected clock, randomness from
 * an injected source, and everything it does to the world goes through `Effects` (send a command
 * on an instance's link, emit an event, save the config). The runtime feeds it ticks and the
 * messages its links receive; scenario tests drive it with a fake clock and fake effects.
 */
import { type Clock, ctime } from "../shared/clock.ts";
import type { RespValue } from "../shared/resp/mod.ts";
import { RespError } from "../shared/resp/mod.ts";
import {
  DEFAULT_DOWN_AFTER_MS,
  DEFAULT_FAILOVER_TIMEOUT_MS,
  type MasterConfig,
  newMasterConfig,
  type SentinelConfig,
} from "./config.ts";
import {
  describe,
  type FailoverState,
  type Instance,
  type Master,
  newInstance,
  newMaster,
  shownAddr,
} from "./state.ts";

/** Redis Sentinel's periods and timeouts (milliseconds), which SENTINEL DEBUG changes. */
export interface Timing {
  infoPeriod: number;
  pingPeriod: number;
  askPeriod: number;
  publishPeriod: number;
  /** down-after-milliseconds of a master added without one. */
  defaultDownAfter: number;
  /** failover-timeout of a master added without one. */
  defaultFailoverTimeout: number;
  tiltTrigger: number;
  tiltPeriod: number;
  slaveReconfTimeout: number;
  minLinkReconnectPeriod: number;
  electionTimeout: number;
  scriptMaxRuntime: number;
  scriptRetryDelay: number;
}

export function defaultTiming(): Timing {
  return {
    infoPeriod: 10_000,
    pingPeriod: 1_000,
    askPeriod: 1_000,
    publishPeriod: 2_000,
    defaultDownAfter: DEFAULT_DOWN_AFTER_MS,
    defaultFailoverTimeout: DEFAULT_FAILOVER_TIMEOUT_MS,
    tiltTrigger: 2_000,
    tiltPeriod: 30_000,
    slaveReconfTimeout: 10_000,
    minLinkReconnectPeriod: 15_000,
    electionTimeout: 10_000,
    scriptMaxRuntime: 60_000,
    scriptRetryDelay: 30_000,
  };
}

/** SENTINEL DEBUG's parameter names, in the order redis-sentinel lists them. */
export const TIMING_PARAMS: [string, keyof Timing][] = [
  ["info-period", "infoPeriod"],
  ["ping-period", "pingPeriod"],
  ["ask-period", "askPeriod"],
  ["publish-period", "publishPeriod"],
  ["default-down-after", "defaultDownAfter"],
  ["default-failover-timeout", "defaultFailoverTimeout"],
  ["tilt-trigger", "tiltTrigger"],
  ["tilt-period", "tiltPeriod"],
  ["slave-reconf-timeout", "slaveReconfTimeout"],
  ["min-link-reconnect-period", "minLinkReconnectPeriod"],
  ["election-timeout", "electionTimeout"],
  ["script-max-runtime", "scriptMaxRuntime"],
  ["script-retry-delay", "scriptRetryDelay"],
];
export const MAX_DESYNC = 1_000;
export const MAX_PENDING_COMMANDS = 100;
export const HELLO_CHANNEL = "__sentinel__:hello";

export type EventLevel = "debug" | "notice" | "warning";

export interface Effects {
  /** Sends a command on the instance's command link. */
  command(ri: Instance, argv: string[]): Promise<RespValue>;
  /** An event: logged, published on the channel named `type` to our subscribers. */
  event(level: EventLevel, type: string, message: string): void;
  /** The state changed in a way the config file records; false when writing it failed. */
  save(): boolean;
  /** Closes an instance's links (they reconnect). */
  dropLinks(ri: Instance): void;
}

/** The reply as a string (bulk or status), or null. */
function text(v: RespValue): string | null {
  if (typeof v === "string") return v;
  if (v !== null && typeof v === "object" && "value" in v && typeof v.value === "string") {
    return v.value;
  }
  return null;
}

export class Monitor {
  readonly masters = new Map<string, Master>();
  tilt = false;
  tiltStart = 0;
  private previousTime: number;
  simFailure = { crashAfterElection: false, crashAfterPromotion: false };
  readonly timing: Timing = defaultTiming();

  constructor(
    readonly cfg: SentinelConfig,
    private readonly clock: Clock,
    private readonly rand: () => number,
    private readonly fx: Effects,
  ) {
    this.previousTime = clock.nowMs();
    for (const m of cfg.masters.values()) this.addMaster(m);
  }

  get myid(): string {
    return this.cfg.myid;
  }

  get now(): number {
    return this.clock.nowMs();
  }

  /** SENTINEL MONITOR or a config line: a master to watch, with its known replicas and peers. */
  addMaster(mc: MasterConfig): Master {
    const now = this.now;
    const m = newMaster(mc, now);
    for (const r of mc.knownReplicas) {
      const ri = newInstance("slave", r.host, r.port, m, now);
      m.replicas.set(ri.name, ri);
    }
    for (const p of mc.knownSentinels) {
      const si = newInstance("sentinel", p.host, p.port, m, now);
      si.runid = p.runid;
      m.sentinels.set(si.name, si);
    }
    this.masters.set(mc.name, m);
    return m;
  }

  /** Keeps the config's view of a master (addresses, epochs, replicas, peers) current. */
  syncConfig(m: Master): void {
    const c = m.config;
    c.host = m.host;
    c.port = m.port;
    c.configEpoch = m.configEpoch;
    c.leaderEpoch = m.leaderEpoch;
    c.knownReplicas = [...m.replicas.values()].map((r) => ({ host: r.host, port: r.port }));
    c.knownSentinels = [...m.sentinels.values()].filter((s) => s.runid !== null).map((s) => ({
      host: s.host,
      port: s.port,
      runid: s.runid!,
    }));
  }

  /** Whether the last config rewrite succeeded (SENTINEL SET, CONFIG SET... report it). */
  lastSaveOk = true;

  save(): boolean {
    for (const m of this.masters.values()) this.syncConfig(m);
    this.lastSaveOk = this.fx.save();
    return this.lastSaveOk;
  }

  private event(level: EventLevel, type: string, ri: Instance | null, extra = ""): void {
    const msg = ri ? describe(ri, this.cfg.announceHostnames) + (extra ? ` ${extra}` : "") : extra;
    this.fx.event(level, type, msg);
  }

  // ---------------------------------------------------------------------------------------
  // The timer

  /** One turn of the timer (the runtime calls it about ten times a second). */
  tick(): void {
    const now = this.now;
    this.checkTilt(now);
    for (const m of [...this.masters.values()]) {
      this.handleInstance(m, m);
      for (const r of m.replicas.values()) this.handleInstance(r, m);
      for (const s of m.sentinels.values()) this.handleInstance(s, m);
      if (m.failoverState === "update_config") this.switchToPromoted(m);
    }
  }

  private checkTilt(now: number): void {
    const delta = now - this.previousTime;
    if (delta < 0 || delta > this.timing.tiltTrigger) {
      this.tilt = true;
      this.tiltStart = now;
      this.event("warning", "+tilt", null, "#tilt mode entered");
    }
    this.previousTime = now;
  }

  private handleInstance(ri: Instance, m: Master): void {
    const now = this.now;
    this.sendPeriodicCommands(ri, m, now);
    if (this.tilt) {
      if (now - this.tiltStart < this.timing.tiltPeriod) return;
      this.tilt = false;
      this.event("warning", "-tilt", null, "#tilt mode exited");
    }
    this.checkSubjectivelyDown(ri, m, now);
    if (ri.kind === "master") {
      this.checkObjectivelyDown(m);
      if (this.startFailoverIfNeeded(m)) this.askMasterState(m, true);
      this.failoverStateMachine(m);
      this.askMasterState(m, false);
    }
  }

  private sendPeriodicCommands(ri: Instance, m: Master, now: number): void {
    if (!ri.link.connected) return;
    if (ri.link.pendingCommands >= MAX_PENDING_COMMANDS) return;
    const infoPeriod = ri.kind === "slave" &&
        (m.odown || m.failoverState !== "none" || ri.masterLinkDownTime !== 0)
      ? 1000
      : this.timing.infoPeriod;
    const pingPeriod = Math.min(m.config.downAfterMs, this.timing.pingPeriod);
    if (ri.kind !== "sentinel" && (ri.infoRefresh === 0 || now - ri.infoRefresh > infoPeriod)) {
      this.send(ri, ["INFO"], (r) => this.refreshFromInfo(ri, m, r));
    }
    if (now - ri.link.lastPongTime > pingPeriod && now - ri.link.lastPingTime > pingPeriod / 2) {
      this.sendPing(ri);
    }
    if (now - ri.lastPubTime > this.timing.publishPeriod) this.sendHello(ri, m);
  }

  /** Sends a command; the reply (or its failure, as a RespError) goes to `then`. */
  private send(ri: Instance, argv: string[], then?: (r: RespValue | RespError) => void): void {
    const m = ri.kind === "master" ? ri as Master : ri.master;
    const renamed = m?.config.renamedCommands.get(argv[0]!.toLowerCase());
    const cmd = renamed ? [renamed, ...argv.slice(1)] : argv;
    ri.link.pendingCommands++;
    this.fx.command(ri, cmd).then(
      (r) => {
        ri.link.pendingCommands--;
        then?.(r);
      },
      (e) => {
        ri.link.pendingCommands--;
        then?.(e instanceof RespError ? e : new RespError(`ERR ${(e as Error).message}`));
      },
    );
  }

  /** A command link just came up: it is PINGed at once, as Redis does. */
  linkUp(ri: Instance): void {
    this.sendPing(ri);
  }

  private sendPing(ri: Instance): void {
    const now = this.now;
    ri.link.lastPingTime = now;
    if (ri.link.actPingTime === 0) ri.link.actPingTime = now;
    this.send(ri, ["PING"], (r) => {
      const t = this.now;
      const s = r instanceof RespError ? r.message : text(r) ?? "";
      if (
        s === "PONG" || s.startsWith("LOADING") || s.startsWith("MASTERDOWN")
      ) {
        ri.link.lastAvailTime = t;
        ri.link.actPingTime = 0;
        // A rebooted master that answers PONG has finished loading: it is no longer suspect.
        if (ri.kind === "master" && s === "PONG") (ri as Master).rebootSince = 0;
      } else if (s.startsWith("BUSY") && ri.sdown) {
        this.send(ri, ["SCRIPT", "KILL"]);
      }
      ri.link.lastPongTime = t;
    });
  }

  /** The hello this sentinel publishes about `m` on every instance of it. */
  helloPayload(m: Master, ri: Instance): string {
    const ip = this.cfg.announceIp || ri.link.localIp || "127.0.0.1";
    const port = this.cfg.announcePort || this.cfg.port;
    const a = this.currentMasterAddress(m);
    return `${ip},${port},${this.myid},${this.cfg.currentEpoch},${m.name},${
      this.addr(a)
    },${a.port},${m.configEpoch}`;
  }

  /** An instance's address as shown: its hostname with announce-hostnames, else its IP. */
  addr(ri: Instance): string {
    return shownAddr(ri, this.cfg.announceHostnames);
  }

  /** Whether a host a replica reports (its master_host) names `ri`: its hostname or its IP. */
  private isAddrOf(ri: Instance, host: string): boolean {
    const h = host.toLowerCase();
    return h === ri.host.toLowerCase() || h === ri.ip.toLowerCase();
  }

  /**
   * The master's address as announced: once a failover reconfigures the replicas, the promoted
   * one's (its epoch is already the new configuration's), as Redis's
   * sentinelGetCurrentMasterAddress.
   */
  currentMasterAddress(m: Master): Instance {
    const p = m.promotedReplica;
    if (p && (m.failoverState === "reconf_slaves" || m.failoverState === "update_config")) {
      return p;
    }
    return m;
  }

  private sendHello(ri: Instance, m: Master): void {
    if (!ri.link.connected) return;
    ri.lastPubTime = this.now;
    this.send(ri, ["PUBLISH", HELLO_CHANNEL, this.helloPayload(m, ri)]);
  }

  // ---------------------------------------------------------------------------------------
  // INFO

  private refreshFromInfo(ri: Instance, m: Master, r: RespValue | RespError): void {
    if (r instanceof RespError) return;
    const info = text(r);
    if (info === null) return;
    const now = this.now;
    const fields = new Map<string, string>();
    const slaves: { ip: string; port: number }[] = [];
    for (const line of info.split("\r\n")) {
      const i = line.indexOf(":");
      if (i < 0) continue;
      const k = line.slice(0, i), v = line.slice(i + 1);
      fields.set(k, v);
      if (ri.kind === "master" && /^slave\d+$/.test(k)) {
        const kv = new Map(v.split(",").map((p) => p.split("=") as [string, string]));
        const ip = kv.get("ip"), port = Number(kv.get("port"));
        if (ip && Number.isInteger(port) && port > 0) slaves.push({ ip, port });
      }
    }
    ri.infoRefresh = now;
    const runid = fields.get("run_id");
    if (runid) {
      if (ri.runid !== null && ri.runid !== runid) {
        this.event("notice", "+reboot", ri);
        if (ri.kind === "master" && m.config.masterRebootDownAfterMs > 0) m.rebootSince = now;
      }
      ri.runid = runid;
    }
    // The replicas a master lists become known replicas.
    if (ri.kind === "master") {
      for (const s of slaves) {
        const name = `${s.ip.includes(":") ? `[${s.ip}]` : s.ip}:${s.port}`;
        if (!m.replicas.has(name)) {
          const nr = newInstance("slave", s.ip, s.port, m, now);
          m.replicas.set(name, nr);
          this.event("notice", "+slave", nr);
          this.save();
        }
      }
    }
    const role = fields.get("role") === "master" ? "master" : "slave";
    if (role !== ri.roleReported) {
      ri.roleReported = role;
      ri.roleReportedTime = now;
    }
    if (role === "slave") {
      const down = Number(fields.get("master_link_down_since_seconds") ?? "0");
      ri.masterLinkDownTime = Number.isFinite(down) && down > 0 ? down * 1000 : 0;
      const host = fields.get("master_host") ?? "", port = Number(fields.get("master_port") ?? 0);
      if (host !== ri.slaveMasterHost || port !== ri.slaveMasterPort) {
        ri.slaveMasterHost = host;
        ri.slaveMasterPort = port;
        ri.slaveConfChangeTime = now;
      }
      ri.slaveMasterLinkUp = fields.get("master_link_status") === "up";
      ri.slavePriority = Number(fields.get("slave_priority") ?? "100");
      ri.slaveReplOffset = Number(fields.get("slave_repl_offset") ?? "0");
      ri.replicaAnnounced = fields.get("replica_announced") !== "0";
    }
    if (this.tilt) return;

    // A replica promoted by our failover now reports itself as master.
    if (ri.kind === "slave" && role === "master") {
      if (ri.promoted && m.failoverState === "wait_promotion") {
        m.configEpoch = m.failoverEpoch;
        this.setFailoverState(m, "reconf_slaves");
        this.event("warning", "+promoted-slave", ri);
        if (this.simFailure.crashAfterPromotion) Deno.exit(99);
        this.event("warning", "+failover-state-reconf-slaves", m);
        this.save();
        // The other replicas are refreshed sooner: they are reconfigured next.
        for (const r of m.replicas.values()) if (r !== ri) r.infoRefresh = 0;
      } else if (!ri.promoted) {
        // A replica that turned master on its own (the old master, restarted): ours wins.
        const wait = this.timing.publishPeriod * 4;
        if (
          this.masterLooksSane(m) && this.noDownFor(ri, wait) && now - ri.roleReportedTime > wait
        ) {
          // As Redis: the event tells the commands went out, not that they succeeded (a
          // node still loading its data refuses them, and is sent them again next INFO).
          if (this.sendSlaveOf(ri, this.addr(m), m.port)) {
            this.event("notice", "+convert-to-slave", ri);
          }
        }
      }
    }
    // A replica following the wrong master is pointed at ours.
    if (
      ri.kind === "slave" && role === "slave" &&
      (ri.slaveMasterPort !== m.port || !this.isAddrOf(m, ri.slaveMasterHost))
    ) {
      const wait = this.timing.publishPeriod * 4;
      if (
        m.failoverState === "none" && !ri.reconfSent && !ri.reconfInprog && !ri.promoted &&
        this.masterLooksSane(m) && this.noDownFor(ri, wait) && now - ri.slaveConfChangeTime > wait
      ) {
        if (this.sendSlaveOf(ri, this.addr(m), m.port)) {
          this.event("notice", "+fix-slave-config", ri);
        }
      }
    }
    // Progress of replicas being reconfigured by our failover.
    const p = m.promotedReplica;
    if (ri.kind === "slave" && p && (ri.reconfSent || ri.reconfInprog)) {
      if (ri.reconfSent && this.isAddrOf(p, ri.slaveMasterHost) && ri.slaveMasterPort === p.port) {
        ri.reconfSent = false;
        ri.reconfInprog = true;
        this.event("notice", "+slave-reconf-inprog", ri);
      }
      if (ri.reconfInprog && ri.slaveMasterLinkUp) {
        ri.reconfInprog = false;
        ri.reconfDone = true;
        this.event("notice", "+slave-reconf-done", ri);
      }
    }
  }

  private masterLooksSane(m: Master): boolean {
    return m.roleReported === "master" && !m.sdown && !m.odown &&
      this.now - m.infoRefresh < this.timing.infoPeriod * 2;
  }

  private noDownFor(ri: Instance, ms: number): boolean {
    let recent = ri.sdownSince;
    if (ri.kind === "master" && (ri as Master).odownSince > recent) {
      recent = (ri as Master).odownSince;
    }
    return recent === 0 || this.now - recent > ms;
  }

  // ---------------------------------------------------------------------------------------
  // Hello

  /** A hello from another sentinel (on an instance's pub/sub link, or PUBLISHed to us). */
  processHello(payload: string): void {
    const t = payload.split(",");
    if (t.length !== 8) return;
    const [ip, portS, runid, epochS, name, mip, mportS, mepochS] = t as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    if (runid === this.myid) return;
    const m = this.masters.get(name);
    if (!m) return;
    const now = this.now;
    const port = Number(portS), epoch = Number(epochS), mport = Number(mportS);
    const mepoch = Number(mepochS);
    if (![port, epoch, mport, mepoch].every(Number.isFinite)) return;
    const key = `${ip.includes(":") ? `[${ip}]` : ip}:${port}`;
    let si = m.sentinels.get(key);
    if (!si || si.runid !== runid) {
      // The same sentinel at a new address, or a new sentinel at a known address: replaced.
      for (const [k, s] of m.sentinels) {
        if (s.runid === runid && k !== key) {
          this.event("notice", "-dup-sentinel", s, "#duplicate of " + key + " or " + runid);
          this.fx.dropLinks(s);
          m.sentinels.delete(k);
        }
      }
      if (si) {
        this.fx.dropLinks(si);
        m.sentinels.delete(key);
      }
      si = newInstance("sentinel", ip, port, m, now);
      si.runid = runid;
      m.sentinels.set(key, si);
      this.event("notice", "+sentinel", si);
      this.save();
    }
    if (epoch > this.cfg.currentEpoch) {
      this.cfg.currentEpoch = epoch;
      this.save();
      this.event("warning", "+new-epoch", null, String(epoch));
    }
    if (m.configEpoch < mepoch) {
      m.configEpoch = mepoch;
      if (m.host !== mip || m.port !== mport) {
        this.event("notice", "+config-update-from", si);
        this.event(
          "warning",
          "+switch-master",
          null,
          `${m.name} ${this.addr(m)} ${m.port} ${mip} ${mport}`,
        );
        this.resetMasterAndChangeAddress(m, mip, mport);
      }
      this.save();
    }
    si.lastHelloTime = now;
  }

  // ---------------------------------------------------------------------------------------
  // Down states

  private checkSubjectivelyDown(ri: Instance, m: Master, now: number): void {
    const link = ri.link;
    const downAfter = m.config.downAfterMs;
    let elapsed = 0;
    if (link.actPingTime) elapsed = now - link.actPingTime;
    else if (!link.connected) elapsed = now - link.lastAvailTime;
    // A link that answers nothing for half the down-after period is reconnected.
    if (
      link.connected && now - link.connectedSince >= this.timing.minLinkReconnectPeriod &&
      link.actPingTime && now - link.actPingTime > downAfter / 2 &&
      now - link.lastPongTime > downAfter / 2
    ) {
      this.fx.dropLinks(ri);
    }
    // A master seen restarting (a new run_id) that still has not answered PONG (it is loading)
    // once master-reboot-down-after-period has passed since.
    const rebootDown = ri.kind === "master" && m.rebootSince !== 0 &&
      now - m.rebootSince > m.config.masterRebootDownAfterMs;
    const down = elapsed > downAfter ||
      (ri.kind === "master" && ri.roleReported === "slave" &&
        now - ri.roleReportedTime > downAfter + this.timing.infoPeriod * 2) ||
      rebootDown;
    if (down && !ri.sdown) {
      ri.sdown = true;
      ri.sdownSince = now;
      this.event("warning", "+sdown", ri);
    } else if (!down && ri.sdown) {
      ri.sdown = false;
      ri.sdownSince = 0;
      this.event("warning", "-sdown", ri);
    }
  }

  private checkObjectivelyDown(m: Master): void {
    let votes = 0;
    let odown = false;
    if (m.sdown) {
      votes = 1;
      for (const s of m.sentinels.values()) if (s.masterDown) votes++;
      if (votes >= m.config.quorum) odown = true;
    }
    if (odown && !m.odown) {
      m.odown = true;
      m.odownSince = this.now;
      this.event("warning", "+odown", m, `#quorum ${votes}/${m.config.quorum}`);
    } else if (!odown && m.odown) {
      m.odown = false;
      m.odownSince = 0;
      this.event("warning", "-odown", m);
    }
  }

  /** SENTINEL IS-MASTER-DOWN-BY-ADDR to the other sentinels, once a second while SDOWN. */
  private askMasterState(m: Master, force: boolean): void {
    const now = this.now;
    for (const s of m.sentinels.values()) {
      const elapsed = now - s.lastMasterDownReplyTime;
      if (elapsed > this.timing.askPeriod * 5) {
        s.masterDown = false;
        s.leader = null;
      }
      if (!m.sdown || !s.link.connected) continue;
      if (!force && elapsed < this.timing.askPeriod) continue;
      const argv = [
        "SENTINEL",
        "is-master-down-by-addr",
        m.host,
        String(m.port),
        String(this.cfg.currentEpoch),
        m.failoverState !== "none" ? this.myid : "*",
      ];
      this.send(s, argv, (r) => {
        if (!Array.isArray(r) || r.length !== 3) return;
        const [down, leader, epoch] = r;
        if (typeof down !== "number" && typeof down !== "bigint") return;
        s.lastMasterDownReplyTime = this.now;
        s.masterDown = Number(down) === 1;
        const l = text(leader as RespValue);
        if (l !== null && l !== "*") {
          s.leader = l;
          s.leaderEpoch = Number(epoch);
        }
      });
    }
  }

  // ---------------------------------------------------------------------------------------
  // Election

  /**
   * A vote request (IS-MASTER-DOWN-BY-ADDR with a run id): one vote per epoch, for the first
   * that asks. Returns whom this sentinel voted for in the epoch, and the epoch.
   */
  voteLeader(
    m: Master,
    reqEpoch: number,
    reqRunid: string,
  ): { leader: string | null; epoch: number } {
    if (reqEpoch > this.cfg.currentEpoch) {
      this.cfg.currentEpoch = reqEpoch;
      this.save();
      this.event("warning", "+new-epoch", null, String(reqEpoch));
    }
    if (m.leaderEpoch < reqEpoch && this.cfg.currentEpoch <= reqEpoch) {
      m.leader = reqRunid;
      m.leaderEpoch = this.cfg.currentEpoch;
      this.save();
      this.event("warning", "+vote-for-leader", null, `${reqRunid} ${m.leaderEpoch}`);
      // Having voted for another, this sentinel does not start its own failover too soon.
      if (reqRunid !== this.myid) {
        m.failoverStartTime = this.now + Math.floor(this.rand() * MAX_DESYNC);
      }
    }
    return { leader: m.leader, epoch: m.leaderEpoch };
  }

  /** The winner of the election for `epoch`, if any has a majority and the quorum. */
  private getLeader(m: Master, epoch: number): string | null {
    const counts = new Map<string, number>();
    const voters = m.sentinels.size + 1;
    for (const s of m.sentinels.values()) {
      if (s.leader !== null && s.leaderEpoch === epoch) {
        counts.set(s.leader, (counts.get(s.leader) ?? 0) + 1);
      }
    }
    const best = () => {
      let winner: string | null = null, max = 0;
      for (const [id, n] of counts) {
        if (n > max || (n === max && winner !== null && id < winner)) {
          winner = id;
          max = n;
        }
      }
      return { winner, max };
    };
    let { winner } = best();
    const mine = this.voteLeader(m, epoch, winner ?? this.myid);
    if (mine.leader !== null && mine.epoch === epoch) {
      counts.set(mine.leader, (counts.get(mine.leader) ?? 0) + 1);
    }
    const r = best();
    winner = r.winner;
    const majority = Math.floor(voters / 2) + 1;
    if (winner !== null && (r.max < majority || r.max < m.config.quorum)) winner = null;
    return winner;
  }

  // ---------------------------------------------------------------------------------------
  // Failover

  private setFailoverState(m: Master, st: FailoverState): void {
    m.failoverState = st;
    m.failoverStateChangeTime = this.now;
  }

  private startFailoverIfNeeded(m: Master): boolean {
    if (!m.odown || m.failoverState !== "none") return false;
    const now = this.now;
    if (now - m.failoverStartTime < m.config.failoverTimeoutMs * 2) {
      if (m.failoverDelayLogged !== m.failoverStartTime) {
        m.failoverDelayLogged = m.failoverStartTime;
        const at = ctime(m.failoverStartTime + m.config.failoverTimeoutMs * 2);
        this.fx.event(
          "warning",
          "failover-delay",
          `Next failover delay: I will not start a failover before ${at}`,
        );
      }
      return false;
    }
    this.startFailover(m);
    return true;
  }

  private startFailover(m: Master): void {
    this.setFailoverState(m, "wait_start");
    this.cfg.currentEpoch++;
    m.failoverEpoch = this.cfg.currentEpoch;
    this.event("warning", "+new-epoch", null, String(this.cfg.currentEpoch));
    this.event("warning", "+try-failover", m);
    m.failoverStartTime = this.now + Math.floor(this.rand() * MAX_DESYNC);
    m.failoverStateChangeTime = this.now;
    this.save();
  }

  /** SENTINEL FAILOVER: starts a failover without agreement; an error text or null. */
  forceFailover(m: Master): string | null {
    if (m.failoverState !== "none") return "-INPROG Failover already in progress";
    if (!this.selectReplica(m)) return "-NOGOODSLAVE No suitable replica to promote";
    this.startFailover(m);
    m.forceFailover = true;
    return null;
  }

  private failoverStateMachine(m: Master): void {
    switch (m.failoverState) {
      case "wait_start":
        return this.failoverWaitStart(m);
      case "select_slave":
        return this.failoverSelectSlave(m);
      case "send_slaveof_noone":
        return this.failoverSendSlaveOfNoOne(m);
      case "wait_promotion":
        return this.failoverWaitPromotion(m);
      case "reconf_slaves":
        return this.failoverReconfNextSlave(m);
      default:
        return;
    }
  }

  private failoverWaitStart(m: Master): void {
    const leader = this.getLeader(m, m.failoverEpoch);
    const isLeader = leader === this.myid;
    if (!isLeader && !m.forceFailover) {
      const timeout = Math.min(this.timing.electionTimeout, m.config.failoverTimeoutMs);
      if (this.now - m.failoverStartTime > timeout) {
        this.event("warning", "-failover-abort-not-elected", m);
        this.abortFailover(m);
      }
      return;
    }
    this.event("warning", "+elected-leader", m);
    if (this.simFailure.crashAfterElection) Deno.exit(99);
    this.setFailoverState(m, "select_slave");
    this.event("warning", "+failover-state-select-slave", m);
  }

  /** Redis's choice: usable replicas by priority, then replication offset, then run id. */
  selectReplica(m: Master): Instance | null {
    const now = this.now;
    const maxMasterDown = (m.sdown ? now - m.sdownSince : 0) + m.config.downAfterMs * 10;
    const infoValidity = m.sdown ? this.timing.pingPeriod * 5 : this.timing.infoPeriod * 3;
    const ok = [...m.replicas.values()].filter((r) =>
      !r.sdown && r.link.connected && now - r.link.lastAvailTime <= this.timing.pingPeriod * 5 &&
      r.slavePriority !== 0 && now - r.infoRefresh <= infoValidity &&
      r.masterLinkDownTime <= maxMasterDown
    );
    ok.sort((a, b) => {
      if (a.slavePriority !== b.slavePriority) return a.slavePriority - b.slavePriority;
      if (a.slaveReplOffset !== b.slaveReplOffset) return b.slaveReplOffset - a.slaveReplOffset;
      if (a.runid === null) return b.runid === null ? 0 : 1;
      if (b.runid === null) return -1;
      return a.runid < b.runid ? -1 : a.runid > b.runid ? 1 : 0;
    });
    return ok[0] ?? null;
  }

  private failoverSelectSlave(m: Master): void {
    const r = this.selectReplica(m);
    if (!r) {
      this.event("warning", "-failover-abort-no-good-slave", m);
      this.abortFailover(m);
      return;
    }
    this.event("warning", "+selected-slave", r);
    r.promoted = true;
    m.promotedReplica = r;
    this.setFailoverState(m, "send_slaveof_noone");
    this.event("notice", "+failover-state-send-slaveof-noone", r);
  }

  private failoverSendSlaveOfNoOne(m: Master): void {
    const r = m.promotedReplica!;
    if (!r.link.connected) {
      if (this.now - m.failoverStateChangeTime > m.config.failoverTimeoutMs) {
        this.event("warning", "-failover-abort-slave-timeout", m);
        this.abortFailover(m);
      }
      return;
    }
    this.sendSlaveOf(r, null, 0);
    this.event("notice", "+failover-state-wait-promotion", r);
    this.setFailoverState(m, "wait_promotion");
  }

  private failoverWaitPromotion(m: Master): void {
    if (this.now - m.failoverStateChangeTime > m.config.failoverTimeoutMs) {
      this.event("warning", "-failover-abort-slave-timeout", m);
      this.abortFailover(m);
    }
  }

  private failoverReconfNextSlave(m: Master): void {
    const p = m.promotedReplica!;
    const now = this.now;
    let inProgress = 0;
    for (const r of m.replicas.values()) if (r.reconfSent || r.reconfInprog) inProgress++;
    for (const r of m.replicas.values()) {
      if (inProgress >= m.config.parallelSyncs) break;
      if (r.promoted || r.reconfDone) continue;
      if (r.reconfSent && now - r.reconfSentTime > this.timing.slaveReconfTimeout) {
        this.event("notice", "-slave-reconf-sent-timeout", r);
        r.reconfSent = false;
        r.reconfDone = true;
        continue;
      }
      if (r.reconfSent || r.reconfInprog) continue;
      if (!r.link.connected) continue;
      this.sendSlaveOf(r, this.addr(p), p.port);
      r.reconfSent = true;
      r.reconfSentTime = now;
      this.event("notice", "+slave-reconf-sent", r);
      inProgress++;
    }
    this.failoverDetectEnd(m);
  }

  private failoverDetectEnd(m: Master): void {
    const p = m.promotedReplica;
    if (!p || p.sdown) return;
    let notReconfigured = 0;
    for (const r of m.replicas.values()) {
      if (r.promoted || r.reconfDone || r.sdown) continue;
      notReconfigured++;
    }
    let timeout = false;
    if (this.now - m.failoverStateChangeTime > m.config.failoverTimeoutMs) {
      notReconfigured = 0;
      timeout = true;
      this.event("warning", "+failover-end-for-timeout", m);
    }
    if (notReconfigured > 0) return;
    this.setFailoverState(m, "update_config");
    this.event("warning", "+failover-end", m);
    if (timeout) {
      // Best effort for the replicas that did not make it in time.
      for (const r of m.replicas.values()) {
        if (r.promoted || r.reconfDone || r.reconfSent || !r.link.connected) continue;
        this.sendSlaveOf(r, this.addr(p), p.port);
        r.reconfSent = true;
        this.event("notice", "+slave-reconf-sent-be", r);
      }
    }
  }

  private abortFailover(m: Master): void {
    this.setFailoverState(m, "none");
    m.forceFailover = false;
    const p = m.promotedReplica;
    if (p) {
      p.promoted = false;
      m.promotedReplica = null;
    }
    for (const r of m.replicas.values()) {
      r.reconfSent = r.reconfInprog = r.reconfDone = false;
    }
  }

  /** The failover is over: the promoted replica is the master now, the others its replicas. */
  private switchToPromoted(m: Master): void {
    const p = m.promotedReplica ?? null;
    if (!p) return;
    this.event(
      "warning",
      "+switch-master",
      null,
      `${m.name} ${this.addr(m)} ${m.port} ${this.addr(p)} ${p.port}`,
    );
    this.resetMasterAndChangeAddress(m, p.host, p.port, p.ip);
  }

  /**
   * The master moves to host:port: its replicas are the old ones (the new master excluded) plus
   * the old master's address; failover state and down flags are reset, peers kept.
   */
  resetMasterAndChangeAddress(m: Master, host: string, port: number, ip = host): void {
    const now = this.now;
    const keep: { host: string; port: number }[] = [];
    for (const r of m.replicas.values()) {
      if (r.host === host && r.port === port) continue;
      keep.push({ host: r.host, port: r.port });
    }
    if (
      !(m.host === host && m.port === port) &&
      !keep.some((r) => r.host === m.host && r.port === m.port)
    ) {
      keep.push({ host: m.host, port: m.port });
    }
    for (const r of m.replicas.values()) this.fx.dropLinks(r);
    this.fx.dropLinks(m);
    m.replicas.clear();
    m.host = host;
    m.ip = ip;
    m.port = port;
    m.name = m.config.name;
    m.runid = null;
    m.sdown = m.odown = false;
    m.sdownSince = m.odownSince = 0;
    m.infoRefresh = 0;
    m.roleReported = "master";
    m.roleReportedTime = now;
    m.link = { ...m.link, connected: false, pubsubConnected: false, actPingTime: now };
    m.link.lastPingTime = 0;
    m.link.lastAvailTime = now;
    m.link.lastPongTime = now;
    m.promotedReplica = null;
    m.forceFailover = false;
    m.rebootSince = 0;
    // As Redis's reset: no vote is remembered (its epoch is), and a failover may start again at
    // once, even if this sentinel voted for another's or ran one less than 2 failover-timeouts
    // ago: the master moved (or was reset), the earlier attempt is over.
    m.leader = null;
    m.failoverState = "none";
    m.failoverStateChangeTime = 0;
    m.failoverStartTime = 0;
    // Announced again, as Redis does (SENTINEL RESET has emptied the list first: none).
    for (const r of keep) {
      const ri = newInstance("slave", r.host, r.port, m, now);
      m.replicas.set(ri.name, ri);
      this.event("notice", "+slave", ri);
    }
    for (const s of m.sentinels.values()) {
      s.masterDown = false;
      s.leader = null;
    }
    this.save();
  }

  /**
   * SLAVEOF as Redis Sentinel sends it, in a transaction with CONFIG REWRITE and the killing of
   * normal and pub/sub clients, so that clients reconnect and find the new topology. False when
   * the link is down (nothing is sent).
   */
  private sendSlaveOf(ri: Instance, host: string | null, port: number): boolean {
    if (!ri.link.connected) return false;
    const target = host === null ? ["NO", "ONE"] : [host, String(port)];
    this.send(ri, ["MULTI"]);
    this.send(ri, ["SLAVEOF", ...target]);
    this.send(ri, ["CONFIG", "REWRITE"]);
    this.send(ri, ["CLIENT", "KILL", "TYPE", "normal"]);
    this.send(ri, ["CLIENT", "KILL", "TYPE", "pubsub"]);
    this.send(ri, ["EXEC"]);
    return true;
  }

  // ---------------------------------------------------------------------------------------
  // Commands that change the monitored set

  /** SENTINEL RESET pattern: forgets replicas, peers and failover state of matching masters. */
  reset(m: Master): void {
    for (const r of m.replicas.values()) this.fx.dropLinks(r);
    for (const s of m.sentinels.values()) this.fx.dropLinks(s);
    m.sentinels.clear();
    m.replicas.clear();
    this.resetMasterAndChangeAddress(m, m.host, m.port, m.ip);
    m.config.knownReplicas = [];
    m.config.knownSentinels = [];
    this.event("warning", "+reset-master", m);
    this.save();
  }

  remove(m: Master): void {
    for (const r of m.replicas.values()) this.fx.dropLinks(r);
    for (const s of m.sentinels.values()) this.fx.dropLinks(s);
    this.fx.dropLinks(m);
    this.masters.delete(m.name);
    this.cfg.masters.delete(m.name);
    this.event("warning", "-monitor", m);
    this.save();
  }

  monitor(name: string, host: string, port: number, quorum: number): Master {
    const mc = newMasterConfig(name, host, port, quorum);
    mc.downAfterMs = this.timing.defaultDownAfter;
    mc.failoverTimeoutMs = this.timing.defaultFailoverTimeout;
    this.cfg.masters.set(name, mc);
    const m = this.addMaster(mc);
    this.event("warning", "+monitor", m, `quorum ${quorum}`);
    this.save();
    return m;
  }

  /** The master a sentinel asks about by address (IS-MASTER-DOWN-BY-ADDR). */
  masterByAddr(host: string, port: number): Master | undefined {
    for (const m of this.masters.values()) if (m.host === host && m.port === port) return m;
    return undefined;
  }
}
