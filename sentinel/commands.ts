/**
 * SENTINEL <subcommand>: the replies and errors of redis-sentinel 7.0. Instances are described
 * as field/value lists (a map in RESP3, a flat array in RESP2) with Redis's field names.
 */
import { globMatch } from "../shared/glob.ts";
import { isExecutable } from "../shared/fs.ts";
import type { SentinelClient, SentinelServer } from "./server.ts";
import { flagsOf, type Instance, type Master, shownAddr } from "./state.ts";
import { type Monitor, TIMING_PARAMS } from "./monitor.ts";

const HELP = [
  "SENTINEL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "CKQUORUM <master-name>",
  "    Check if the current Sentinel configuration is able to reach the quorum needed",
  "    to failover a master and the majority needed to authorize the failover.",
  "CONFIG SET <param> <value>",
  "    Set a global Sentinel configuration parameter.",
  "CONFIG GET <param>",
  "    Get global Sentinel configuration parameter.",
  "DEBUG [<param> <value> ...]",
  "    Show a list of configurable time parameters and their values (milliseconds).",
  "    Or update current configurable parameters values (one or more).",
  "GET-MASTER-ADDR-BY-NAME <master-name>",
  "    Return the ip and port number of the master with that name.",
  "FAILOVER <master-name>",
  "    Manually failover a master node without asking for agreement from other",
  "    Sentinels",
  "FLUSHCONFIG",
  "    Force Sentinel to rewrite its configuration on disk, including the current",
  "    Sentinel state.",
  "INFO-CACHE <master-name>",
  "    Return last cached INFO output from masters and all its replicas.",
  "IS-MASTER-DOWN-BY-ADDR <ip> <port> <current-epoch> <runid>",
  "    Check if the master specified by ip:port is down from current Sentinel's",
  "    point of view.",
  "MASTER <master-name>",
  "    Show the state and info of the specified master.",
  "MASTERS",
  "    Show a list of monitored masters and their state.",
  "MONITOR <name> <ip> <port> <quorum>",
  "    Start monitoring a new master with the specified name, ip, port and quorum.",
  "MYID",
  "    Return the ID of the Sentinel instance.",
  "PENDING-SCRIPTS",
  "    Get pending scripts information.",
  "REMOVE <master-name>",
  "    Remove master from Sentinel's monitor list.",
  "REPLICAS <master-name>",
  "    Show a list of replicas for this master and their state.",
  "RESET <pattern>",
  "    Reset masters for specific master name matching this pattern.",
  "SENTINELS <master-name>",
  "    Show a list of Sentinel instances for this master and their state.",
  "SET <master-name> <option> <value> [<option> <value> ...]",
  "    Set configuration parameters for certain masters.",
  "SIMULATE-FAILURE [CRASH-AFTER-ELECTION] [CRASH-AFTER-PROMOTION] [HELP]",
  "    Simulate a Sentinel crash.",
  "HELP",
  "    Print this help.",
];

function replyFields(c: SentinelClient, fields: [string, string | number][]): void {
  if (c.proto === 3) c.out.map(fields.length);
  else c.out.array(fields.length * 2);
  for (const [k, v] of fields) {
    c.out.bulk(k);
    c.out.bulk(String(v));
  }
}

/** An instance's fields, in the order redis-sentinel lists them. */
function instanceFields(
  ri: Instance,
  now: number,
  announceHostnames: boolean,
): [string, string | number][] {
  const master = ri.kind === "master" ? ri as Master : ri.master!;
  const f: [string, string | number][] = [
    ["name", ri.name],
    ["ip", shownAddr(ri, announceHostnames)],
    ["port", ri.port],
    ["runid", ri.runid ?? ""],
    ["flags", flagsOf(ri)],
    ["link-pending-commands", ri.link.pendingCommands],
    ["link-refcount", 1],
  ];
  if (ri.kind === "master" && (ri as Master).failoverState !== "none") {
    f.push(["failover-state", (ri as Master).failoverState]);
  }
  f.push(
    ["last-ping-sent", ri.link.actPingTime ? now - ri.link.actPingTime : 0],
    ["last-ok-ping-reply", now - ri.link.lastAvailTime],
    ["last-ping-reply", now - ri.link.lastPongTime],
  );
  if (ri.sdown) f.push(["s-down-time", now - ri.sdownSince]);
  if (ri.kind === "master" && (ri as Master).odown) {
    f.push(["o-down-time", now - (ri as Master).odownSince]);
  }
  f.push(["down-after-milliseconds", master.config.downAfterMs]);
  if (ri.kind !== "sentinel") {
    f.push(
      ["info-refresh", ri.infoRefresh === 0 ? 0 : now - ri.infoRefresh],
      ["role-reported", ri.roleReported],
      ["role-reported-time", now - ri.roleReportedTime],
    );
  }
  if (ri.kind === "master") {
    const m = ri as Master;
    f.push(
      ["config-epoch", m.configEpoch],
      ["num-slaves", m.replicas.size],
      ["num-other-sentinels", m.sentinels.size],
      ["quorum", m.config.quorum],
      ["failover-timeout", m.config.failoverTimeoutMs],
      ["parallel-syncs", m.config.parallelSyncs],
    );
    if (m.config.notificationScript) f.push(["notification-script", m.config.notificationScript]);
    if (m.config.clientReconfigScript) {
      f.push(["client-reconfig-script", m.config.clientReconfigScript]);
    }
  }
  if (ri.kind === "slave") {
    f.push(
      ["master-link-down-time", ri.masterLinkDownTime],
      ["master-link-status", ri.slaveMasterLinkUp ? "ok" : "err"],
      ["master-host", ri.slaveMasterHost || "?"],
      ["master-port", ri.slaveMasterPort],
      ["slave-priority", ri.slavePriority],
      ["slave-repl-offset", ri.slaveReplOffset],
      ["replica-announced", ri.replicaAnnounced ? 1 : 0],
    );
  }
  if (ri.kind === "sentinel") {
    f.push(
      ["last-hello-message", now - ri.lastHelloTime],
      ["voted-leader", ri.leader ?? "?"],
      ["voted-leader-epoch", ri.leaderEpoch],
    );
  }
  return f;
}

function replyInstances(c: SentinelClient, list: Instance[], announceHostnames: boolean): void {
  const now = Date.now();
  c.out.array(list.length);
  for (const ri of list) replyFields(c, instanceFields(ri, now, announceHostnames));
}

function parseInt(s: string): number | null {
  return /^-?\d+$/.test(s) ? Number(s) : null;
}

export function sentinelCommand(srv: SentinelServer, c: SentinelClient, argv: string[]): void {
  const mon = srv.rt.monitor;
  const sub = argv[1]!.toLowerCase();
  const n = argv.length;
  // A known subcommand with wrong arguments, and an unknown one, get Redis's two texts.
  const wrongArgs = () => c.error(`ERR wrong number of arguments for 'sentinel|${sub}' command`);
  const master = (name: string): Master | null => {
    const m = mon.masters.get(name);
    if (!m) c.error("ERR No such master with that name");
    return m ?? null;
  };
  switch (sub) {
    case "masters":
      if (n !== 2) return wrongArgs();
      return replyInstances(c, [...mon.masters.values()], srv.rt.cfg.announceHostnames);
    case "master": {
      if (n !== 3) return wrongArgs();
      const m = master(argv[2]!);
      if (m) replyFields(c, instanceFields(m, Date.now(), srv.rt.cfg.announceHostnames));
      return;
    }
    case "slaves":
    case "replicas": {
      if (n !== 3) return wrongArgs();
      const m = master(argv[2]!);
      if (m) {
        replyInstances(
          c,
          [...m.replicas.values()].filter((r) => r.replicaAnnounced),
          srv.rt.cfg.announceHostnames,
        );
      }
      return;
    }
    case "sentinels": {
      if (n !== 3) return wrongArgs();
      const m = master(argv[2]!);
      if (m) replyInstances(c, [...m.sentinels.values()], srv.rt.cfg.announceHostnames);
      return;
    }
    case "get-master-addr-by-name": {
      if (n !== 3) return wrongArgs();
      const m = mon.masters.get(argv[2]!);
      if (!m) {
        if (c.proto === 3) c.out.nullBulk();
        else c.out.nullArray();
        return;
      }
      const p = m.failoverState === "reconf_slaves" && m.promotedReplica ? m.promotedReplica : m;
      c.out.array(2);
      c.out.bulk(mon.addr(p));
      c.out.bulk(String(p.port));
      return;
    }
    case "is-master-down-by-addr": {
      if (n !== 6) return wrongArgs();
      const port = parseInt(argv[3]!), epoch = parseInt(argv[4]!);
      if (port === null || epoch === null) {
        c.error("ERR value is not an integer or out of range");
        return;
      }
      const m = mon.masterByAddr(argv[2]!, port);
      const down = !mon.tilt && m !== undefined && m.sdown;
      let leader: string | null = null, leaderEpoch = 0;
      if (m && argv[5] !== "*") {
        const v = mon.voteLeader(m, epoch, argv[5]!);
        leader = v.leader;
        leaderEpoch = v.epoch;
      }
      c.out.array(3);
      c.out.int(down ? 1 : 0);
      c.out.bulk(leader ?? "*");
      c.out.int(leaderEpoch);
      return;
    }
    case "reset": {
      if (n !== 3) return wrongArgs();
      let count = 0;
      for (const m of [...mon.masters.values()]) {
        if (globMatch(argv[2]!, m.name)) {
          mon.reset(m);
          count++;
        }
      }
      c.out.int(count);
      return;
    }
    case "failover": {
      if (n !== 3) return wrongArgs();
      const m = master(argv[2]!);
      if (!m) return;
      const err = mon.forceFailover(m);
      if (err) c.out.error(err.slice(1));
      else c.out.ok();
      return;
    }
    case "ckquorum": {
      if (n !== 3) return wrongArgs();
      const m = master(argv[2]!);
      if (!m) return;
      let usable = 1;
      for (const s of m.sentinels.values()) if (!s.sdown) usable++;
      const voters = m.sentinels.size + 1;
      if (usable < m.config.quorum) {
        c.error(
          `NOQUORUM ${usable} usable Sentinels. Not enough available Sentinels to reach the specified quorum for this master`,
        );
      } else if (usable < Math.floor(voters / 2) + 1) {
        c.error(
          `NOQUORUM ${usable} usable Sentinels. Not enough available Sentinels to reach the majority and authorize a failover`,
        );
      } else {
        c.out.simple(
          `OK ${usable} usable Sentinels. Quorum and failover authorization can be reached`,
        );
      }
      return;
    }
    case "flushconfig":
      if (n !== 2) return wrongArgs();
      mon.save();
      savedReply(mon, c);
      return;
    case "myid":
      if (n !== 2) return wrongArgs();
      c.out.bulk(mon.myid);
      return;
    case "monitor": {
      if (n !== 6) return wrongArgs();
      const port = parseInt(argv[4]!), quorum = parseInt(argv[5]!);
      if (port === null) {
        c.error("ERR Invalid port");
        return;
      }
      if (quorum === null) {
        c.error("ERR Invalid quorum");
        return;
      }
      if (quorum <= 0) {
        c.error("ERR Quorum must be 1 or greater.");
        return;
      }
      if (port <= 0 || port > 65535) {
        c.error("ERR Invalid port number.");
        return;
      }
      if (mon.masters.has(argv[2]!)) {
        c.error("ERR Duplicate master name.");
        return;
      }
      if (!/^[0-9a-fA-F.:]+$/.test(argv[3]!) && !srv.rt.cfg.resolveHostnames) {
        c.error("ERR Invalid IP address or hostname specified");
        return;
      }
      mon.monitor(argv[2]!, argv[3]!, port, quorum);
      savedReply(mon, c);
      return;
    }
    case "remove": {
      if (n !== 3) return wrongArgs();
      const m = master(argv[2]!);
      if (!m) return;
      mon.remove(m);
      savedReply(mon, c);
      return;
    }
    case "set":
      return sentinelSet(srv, c, argv);
    case "config":
      return sentinelConfig(srv, c, argv);
    case "pending-scripts":
      c.out.array(srv.rt.scriptQueue.length);
      for (const j of srv.rt.scriptQueue) {
        replyFields(c, [["argv", [j.script, ...j.args].join(" ")], ["flags", "scheduled"]]);
      }
      return;
    case "info-cache": {
      if (n < 3) return wrongArgs();
      c.out.array(0);
      return;
    }
    case "simulate-failure": {
      for (const a of argv.slice(2)) {
        const x = a.toLowerCase();
        if (x === "crash-after-election") mon.simFailure.crashAfterElection = true;
        else if (x === "crash-after-promotion") mon.simFailure.crashAfterPromotion = true;
        else if (x === "help") {
          c.out.array(2);
          c.out.bulk("crash-after-election");
          c.out.bulk("crash-after-promotion");
          return;
        } else {
          c.error("ERR Unknown failure simulation specified");
          return;
        }
      }
      c.out.ok();
      return;
    }
    case "debug": {
      const timing = srv.rt.monitor.timing;
      if (n === 2) {
        replyFields(c, TIMING_PARAMS.map(([name, key]) => [name.toUpperCase(), timing[key]]));
        return;
      }
      // Each pair is applied as it is read, as in redis-sentinel: an error leaves the earlier ones.
      for (let j = 2; j < n; j++) {
        const option = argv[j]!;
        const param = TIMING_PARAMS.find(([name]) => name === option.toLowerCase());
        if (!param || j + 1 >= n) {
          c.error(`ERR Unknown option or number of arguments for SENTINEL DEBUG '${option}'`);
          return;
        }
        const raw = argv[++j]!;
        const v = /^-?\d+$/.test(raw) ? Number(raw) : NaN;
        if (!Number.isSafeInteger(v) || v <= 0) {
          c.error(`ERR Invalid argument '${raw}' for SENTINEL DEBUG '${option}'`);
          return;
        }
        timing[param[1]] = v;
      }
      c.out.ok();
      return;
    }
    case "help":
      c.out.array(HELP.length);
      for (const l of HELP) c.out.simple(l);
      return;
    default:
      c.error(`ERR unknown subcommand '${argv[1]}'. Try SENTINEL HELP.`);
      return;
  }
}

function sentinelSet(srv: SentinelServer, c: SentinelClient, argv: string[]): void {
  const mon = srv.rt.monitor;
  const m = mon.masters.get(argv[2]!);
  if (!m) {
    c.error("ERR No such master with that name");
    return;
  }
  const cfg = m.config;
  // As Redis: options apply one by one; an error stops there, the earlier ones stay (and are
  // saved), and each applied option is logged as a +set event.
  let changes = 0;
  const finish = (error: string | null) => {
    if (changes > 0) mon.save();
    if (error !== null) c.error(error);
    else if (changes > 0) savedReply(mon, c);
  };
  for (let i = 3; i < argv.length; i++) {
    const opt = argv[i]!.toLowerCase(), more = argv.length - 1 - i;
    const first = i;
    let redacted = false;
    const number = (min: number): number | string => {
      const v = argv[++i]!;
      const n = parseInt(v);
      return n === null || n < min ? `ERR Invalid argument '${v}' for SENTINEL SET '${opt}'` : n;
    };
    let err: string | null = null;
    if (more < 1 || (opt === "rename-command" && more < 2)) {
      err = `ERR Unknown option or number of arguments for SENTINEL SET '${argv[i]}'`;
    } else {
      switch (opt) {
        case "down-after-milliseconds":
        case "failover-timeout":
        case "parallel-syncs":
        case "quorum":
        case "master-reboot-down-after-period": {
          const n = number(opt === "master-reboot-down-after-period" ? 0 : 1);
          if (typeof n === "string") err = n;
          else if (opt === "down-after-milliseconds") cfg.downAfterMs = n;
          else if (opt === "failover-timeout") cfg.failoverTimeoutMs = n;
          else if (opt === "parallel-syncs") cfg.parallelSyncs = n;
          else if (opt === "quorum") cfg.quorum = n;
          else cfg.masterRebootDownAfterMs = n;
          break;
        }
        case "auth-pass":
        case "auth-user":
          if (opt === "auth-pass") cfg.authPass = argv[++i]!;
          else cfg.authUser = argv[++i]!;
          redacted = opt === "auth-pass";
          // New credentials take effect on new connections to the master and its replicas.
          srv.rt.dropLinks(m);
          for (const r of m.replicas.values()) srv.rt.dropLinks(r);
          break;
        case "notification-script":
        case "client-reconfig-script": {
          if (srv.rt.cfg.denyScriptsReconfig) {
            err =
              "ERR Reconfiguration of scripts path is denied for security reasons. Check the deny-scripts-reconfig configuration directive in your Sentinel configuration";
            break;
          }
          const v = argv[++i]!;
          // An empty path removes the script; any other must name an executable file.
          if (v !== "" && !isExecutable(v)) {
            err = opt === "notification-script"
              ? "ERR Notification script seems non existing or non executable"
              : "ERR Client reconfiguration script seems non existing or non executable";
            break;
          }
          if (opt === "notification-script") cfg.notificationScript = v;
          else cfg.clientReconfigScript = v;
          break;
        }
        case "rename-command": {
          const from = argv[++i]!, to = argv[++i]!;
          if (from === "" || to === "") {
            err = `ERR Invalid argument '${from === "" ? from : to}' for SENTINEL SET '${opt}'`;
            break;
          }
          cfg.renamedCommands.delete(from.toLowerCase());
          if (from.toLowerCase() !== to.toLowerCase()) {
            cfg.renamedCommands.set(from.toLowerCase(), to);
          }
          break;
        }
        default:
          err = `ERR Unknown option or number of arguments for SENTINEL SET '${argv[i]}'`;
      }
    }
    if (err !== null) return finish(err);
    changes++;
    const shown = argv.slice(first, i + 1);
    if (redacted) shown[1] = "******";
    srv.rt.event("warning", "+set", `master ${m.name} ${mon.addr(m)} ${m.port} ${shown.join(" ")}`);
  }
  finish(null);
}

/** OK after a change was written to the config file, or the error Redis gives when it was not. */
function savedReply(mon: Monitor, c: SentinelClient): void {
  if (mon.lastSaveOk) c.out.ok();
  else c.error("ERR Failed to save config file. Check server logs.");
}

function sentinelConfig(srv: SentinelServer, c: SentinelClient, argv: string[]): void {
  const cfg = srv.rt.cfg;
  const op = (argv[2] ?? "").toLowerCase();
  const params: Record<string, () => string> = {
    "resolve-hostnames": () => cfg.resolveHostnames ? "yes" : "no",
    "announce-hostnames": () => cfg.announceHostnames ? "yes" : "no",
    "announce-ip": () => cfg.announceIp,
    "announce-port": () => String(cfg.announcePort),
    "sentinel-user": () => cfg.sentinelUser,
    "sentinel-pass": () => cfg.sentinelPass,
  };
  if (op === "get" && argv.length === 4) {
    const out: [string, string][] = [];
    for (const [k, get] of Object.entries(params)) {
      if (globMatch(argv[3]!.toLowerCase(), k)) out.push([k, get()]);
    }
    if (c.proto === 3) c.out.map(out.length);
    else c.out.array(out.length * 2);
    for (const [k, v] of out) {
      c.out.bulk(k);
      c.out.bulk(v);
    }
    return;
  }
  if (op === "set" && argv.length === 5) {
    const k = argv[3]!.toLowerCase(), v = argv[4]!;
    const yn = () => {
      const x = v.toLowerCase();
      if (x !== "yes" && x !== "no") throw new Error("bad");
      return x === "yes";
    };
    try {
      switch (k) {
        case "resolve-hostnames":
          cfg.resolveHostnames = yn();
          break;
        case "announce-hostnames":
          cfg.announceHostnames = yn();
          break;
        case "announce-ip":
          cfg.announceIp = v;
          break;
        case "announce-port": {
          const p = parseInt(v);
          if (p === null || p < 0 || p > 65535) throw new Error("bad");
          cfg.announcePort = p;
          break;
        }
        case "sentinel-user":
          cfg.sentinelUser = v;
          break;
        case "sentinel-pass":
          cfg.sentinelPass = v;
          break;
        default:
          c.error(`ERR Invalid argument '${argv[3]}' to SENTINEL CONFIG SET`);
          return;
      }
    } catch {
      c.error(`ERR Invalid value '${v}' to SENTINEL CONFIG SET '${argv[3]}'`);
      return;
    }
    srv.rt.monitor.save();
    savedReply(srv.rt.monitor, c);
    // New credentials towards sentinels take effect on new links: the current ones are closed
    // and reconnect with them.
    if (k === "sentinel-user" || k === "sentinel-pass") {
      for (const m of srv.rt.monitor.masters.values()) {
        for (const s of m.sentinels.values()) srv.rt.dropLinks(s);
      }
    }
    return;
  }
  c.error(`ERR unknown subcommand or wrong number of arguments for 'config'. Try SENTINEL HELP.`);
}
