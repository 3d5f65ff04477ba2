/**
 * What a sentinel knows: the masters it monitors, their replicas and the other sentinels that
 * monitor them, as Redis Sentinel's instances. Plain data: the monitor (monitor.ts) changes it,
 * the runtime (runtime.ts) keeps each instance's `link` figures current.
 */
import type { MasterConfig } from "./config.ts";

export type InstanceKind = "master" | "slave" | "sentinel";

/** The connection figures of an instance (Redis's instanceLink). */
export interface LinkState {
  /** The command connection is up (AUTH was sent; a refusal shows in the replies after it). */
  connected: boolean;
  /** The pub/sub connection is up (masters and replicas only). */
  pubsubConnected: boolean;
  /** When the command connection was (re)established, 0 while down. */
  connectedSince: number;
  /** When the oldest unanswered PING was sent, 0 when none is pending. */
  actPingTime: number;
  lastPingTime: number;
  lastPongTime: number;
  /** Last valid reply to PING (PONG, LOADING, MASTERDOWN). */
  lastAvailTime: number;
  /** Last message on the pub/sub connection. */
  lastPubsubTime: number;
  pendingCommands: number;
  /** This side's address of the command connection (what hello announces by default). */
  localIp: string;
}

export function newLink(now: number): LinkState {
  return {
    connected: false,
    pubsubConnected: false,
    connectedSince: 0,
    actPingTime: now,
    lastPingTime: 0,
    lastPongTime: now,
    lastAvailTime: now,
    lastPubsubTime: now,
    pendingCommands: 0,
    localIp: "",
  };
}

export interface Instance {
  kind: InstanceKind;
  /** A master's name; "ip:port" for replicas and sentinels. */
  name: string;
  /** The address as configured or learned (a hostname where resolve-hostnames allows one). */
  host: string;
  /**
   * The IP address `host` resolved to when the command link last connected (`host` itself
   * until then). Replies and events show it unless announce-hostnames is on.
   */
  ip: string;
  port: number;
  runid: string | null;
  link: LinkState;
  sdown: boolean;
  sdownSince: number;
  /** Last INFO reply (0: none yet). */
  infoRefresh: number;
  roleReported: "master" | "slave";
  roleReportedTime: number;
  lastPubTime: number;
  /** The master this replica or sentinel belongs to (null for masters). */
  master: Master | null;

  // Replicas, from their INFO.
  masterLinkDownTime: number;
  slaveMasterHost: string;
  slaveMasterPort: number;
  slaveMasterLinkUp: boolean;
  slavePriority: number;
  slaveReplOffset: number;
  replicaAnnounced: boolean;
  /** When the replica's master_host/port last changed. */
  slaveConfChangeTime: number;
  promoted: boolean;
  reconfSent: boolean;
  reconfInprog: boolean;
  reconfDone: boolean;
  reconfSentTime: number;

  // Sentinels.
  lastHelloTime: number;
  /** The sentinel said the master is down (IS-MASTER-DOWN-BY-ADDR). */
  masterDown: boolean;
  lastMasterDownReplyTime: number;
  /** Its vote (leader run id and epoch), from IS-MASTER-DOWN-BY-ADDR. */
  leader: string | null;
  leaderEpoch: number;
}

export type FailoverState =
  | "none"
  | "wait_start"
  | "select_slave"
  | "send_slaveof_noone"
  | "wait_promotion"
  | "reconf_slaves"
  | "update_config";

export interface Master extends Instance {
  kind: "master";
  config: MasterConfig;
  replicas: Map<string, Instance>;
  sentinels: Map<string, Instance>;
  odown: boolean;
  odownSince: number;
  configEpoch: number;
  /** This sentinel's vote for the failover of this master: whom and in which epoch. */
  leader: string | null;
  leaderEpoch: number;
  failoverState: FailoverState;
  failoverEpoch: number;
  failoverStateChangeTime: number;
  failoverStartTime: number;
  failoverDelayLogged: number;
  promotedReplica: Instance | null;
  forceFailover: boolean;
  /**
   * When INFO showed the master restarted (a new run_id) with master-reboot-down-after-period
   * set; 0 once it answers PONG (or the master is reset).
   */
  rebootSince: number;
}

export function newInstance(
  kind: InstanceKind,
  host: string,
  port: number,
  master: Master | null,
  now: number,
): Instance {
  return {
    kind,
    name: `${host.includes(":") ? `[${host}]` : host}:${port}`,
    host,
    ip: host,
    port,
    runid: null,
    link: newLink(now),
    sdown: false,
    sdownSince: 0,
    infoRefresh: 0,
    roleReported: kind === "master" ? "master" : "slave",
    roleReportedTime: now,
    lastPubTime: now,
    master,
    masterLinkDownTime: 0,
    slaveMasterHost: "",
    slaveMasterPort: 0,
    slaveMasterLinkUp: false,
    slavePriority: 100,
    slaveReplOffset: 0,
    replicaAnnounced: true,
    slaveConfChangeTime: now,
    promoted: false,
    reconfSent: false,
    reconfInprog: false,
    reconfDone: false,
    reconfSentTime: 0,
    lastHelloTime: now,
    masterDown: false,
    lastMasterDownReplyTime: now,
    leader: null,
    leaderEpoch: 0,
  };
}

export function newMaster(config: MasterConfig, now: number): Master {
  const base = newInstance("master", config.host, config.port, null, now);
  return {
    ...base,
    kind: "master",
    name: config.name,
    config,
    replicas: new Map(),
    sentinels: new Map(),
    odown: false,
    odownSince: 0,
    configEpoch: config.configEpoch,
    leader: null,
    leaderEpoch: config.leaderEpoch,
    failoverState: "none",
    failoverEpoch: 0,
    failoverStateChangeTime: 0,
    failoverStartTime: 0,
    failoverDelayLogged: 0,
    promotedReplica: null,
    forceFailover: false,
    rebootSince: 0,
  };
}

/** The flags field of SENTINEL MASTERS/REPLICAS/SENTINELS, as Redis lists them. */
export function flagsOf(ri: Instance): string {
  const f: string[] = [];
  if (ri.sdown) f.push("s_down");
  const m = ri.kind === "master" ? ri as Master : null;
  if (m?.odown) f.push("o_down");
  f.push(ri.kind);
  // As Redis's link state: a data node's link counts as up only while both its command and
  // its pub/sub connections are.
  const up = ri.link.connected && (ri.kind === "sentinel" || ri.link.pubsubConnected);
  if (!up) f.push("disconnected");
  if (ri.kind === "sentinel" && ri.masterDown) f.push("master_down");
  if (m && m.failoverState !== "none") f.push("failover_in_progress");
  if (ri.promoted) f.push("promoted");
  if (ri.reconfSent) f.push("reconf_sent");
  if (ri.reconfInprog) f.push("reconf_inprog");
  if (ri.reconfDone) f.push("reconf_done");
  return f.join(",");
}

/** The address replies, events and hellos show: the hostname or the IP it resolved to. */
export function shownAddr(ri: Instance, announceHostnames: boolean): string {
  return announceHostnames ? ri.host : ri.ip;
}

/** "master mymaster 127.0.0.1 6379", or "slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster ...". */
export function describe(ri: Instance, announceHostnames = false): string {
  const head = `${ri.kind} ${ri.name} ${shownAddr(ri, announceHostnames)} ${ri.port}`;
  if (ri.kind === "master" || !ri.master) return head;
  const m = ri.master;
  return `${head} @ ${m.name} ${shownAddr(m, announceHostnames)} ${m.port}`;
}
