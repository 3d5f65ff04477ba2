/**
 * The sentinel's I/O shell: a command link and a pub/sub link per data node (one command link
 * per peer sentinel), the timer that drives the monitor ten times a second, the events (logged,
 * published to our subscribers, handed to the notification script), and the config file,
 * rewritten after every state change.
 *
 * Links are opened at most once a second per instance, authenticate with `auth-user`/`auth-pass`
 * towards data nodes and `sentinel-user`/`sentinel-pass` towards sentinels, and name themselves
 * `sentinel-<id>-cmd` / `-pubsub` as Redis's do.
 */
import { getLogger } from "../shared/log.ts";
import { RedisClient } from "../shared/client.ts";
import type { RespValue } from "../shared/resp/mod.ts";
import { RespError } from "../shared/resp/mod.ts";
import { ReplyError } from "../shared/client.ts";
import { type Clock, systemClock } from "../shared/clock.ts";
import { rewriteFile, type SentinelConfig } from "./config.ts";
import { type Effects, type EventLevel, HELLO_CHANNEL, Monitor } from "./monitor.ts";
import type { Instance, Master } from "./state.ts";

const log = getLogger(["sentinel"]);

const TICK_MS = 100;
/** Events kept for GET /events. */
export const EVENT_RING = 1000;

export interface SentinelEvent {
  /** Milliseconds since the epoch. */
  time: number;
  level: EventLevel;
  type: string;
  message: string;
}
const RECONNECT_MS = 1000;
/**
 * Scripts: how many run at once and how many may wait. How long one may run, and the delay
 * before a retry (times the attempt), are Timing's (SENTINEL DEBUG script-max-runtime,
 * script-retry-delay: 60 s and 30 s by default).
 */
const MAX_RUNNING_SCRIPTS = 16;
const MAX_QUEUED_SCRIPTS = 256;
/** A script that exits with 1 runs again, up to this many times. */
const SCRIPT_MAX_RETRIES = 10;

interface Links {
  cc: RedisClient | null;
  pc: RedisClient | null;
  connecting: boolean;
  lastAttempt: number;
}

export interface EventSink {
  /** Delivers an event to the sentinel's own subscribers (channel = event type). */
  publish(channel: string, message: string): void;
}

export class Runtime implements Effects {
  readonly monitor: Monitor;
  private readonly links = new Map<Instance, Links>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private scriptsRunning = 0;
  readonly scriptQueue: { script: string; args: string[]; retries: number }[] = [];
  private readonly retryTimers = new Set<ReturnType<typeof setTimeout>>();
  sink: EventSink = { publish: () => {} };
  /** The last EVENT_RING events, oldest first, and listeners of new ones (the SSE stream). */
  readonly events: SentinelEvent[] = [];
  readonly eventListeners = new Set<(e: SentinelEvent) => void>();
  /** Per master: switches seen and the duration of the last failover this sentinel led. */
  readonly failovers = new Map<string, { switches: number; lastDurationMs: number }>();
  /** Where the config is rewritten; null only in tests. */
  configPath: string | null;

  constructor(
    readonly cfg: SentinelConfig,
    configPath: string | null,
    readonly clock: Clock = systemClock,
    rand: () => number = Math.random,
  ) {
    this.configPath = configPath;
    this.monitor = new Monitor(cfg, clock, rand, this);
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    for (const t of this.retryTimers) clearTimeout(t);
    const all = [...this.links.values()];
    this.links.clear();
    await Promise.all(all.flatMap((l) => [l.cc?.close(), l.pc?.close()]));
  }

  private tick(): void {
    for (const m of this.monitor.masters.values()) {
      this.ensureLinks(m);
      for (const r of m.replicas.values()) this.ensureLinks(r);
      for (const s of m.sentinels.values()) this.ensureLinks(s);
    }
    this.monitor.tick();
  }

  // ---------------------------------------------------------------------------------------
  // Links

  private ensureLinks(ri: Instance): void {
    let l = this.links.get(ri);
    if (!l) {
      l = { cc: null, pc: null, connecting: false, lastAttempt: 0 };
      this.links.set(ri, l);
    }
    const now = this.clock.nowMs();
    const wantPc = ri.kind !== "sentinel";
    if (l.connecting || (l.cc && (!wantPc || l.pc)) || now - l.lastAttempt < RECONNECT_MS) return;
    l.lastAttempt = now;
    l.connecting = true;
    void this.connect(ri, l, wantPc).finally(() => l.connecting = false);
  }

  private auth(ri: Instance): { username?: string; password?: string } {
    if (ri.kind === "sentinel") {
      return this.cfg.sentinelPass
        ? {
          password: this.cfg.sentinelPass,
          ...(this.cfg.sentinelUser ? { username: this.cfg.sentinelUser } : {}),
        }
        : {};
    }
    const m = ri.kind === "master" ? ri as Master : ri.master!;
    const c = m.config;
    return c.authPass
      ? { password: c.authPass, ...(c.authUser ? { username: c.authUser } : {}) }
      : {};
  }

  /**
   * Sends AUTH on a new link when credentials are configured. As redis-sentinel, its reply is
   * not awaited and a refusal does not fail the link: a node whose default user needs no
   * password (after an ACL change, say) still serves the link, and one that does answer
   * NOAUTH to what follows (PING, SUBSCRIBE), which is what shows the link as unusable.
   */
  private login(ri: Instance, c: RedisClient): void {
    const a = this.auth(ri);
    if (a.password === undefined) return;
    const args = a.username === undefined ? [a.password] : [a.username, a.password];
    c.call("AUTH", ...args).catch(() => {});
  }

  private async connect(ri: Instance, l: Links, wantPc: boolean): Promise<void> {
    const base = {
      host: ri.host,
      port: ri.port,
      connectTimeoutMs: 1000,
      commandTimeoutMs: 0,
      reconnect: { enabled: false },
    };
    const id = this.cfg.myid.slice(0, 8);
    if (!l.cc) {
      try {
        const cc = await RedisClient.connect(base);
        this.login(ri, cc);
        // As redis-sentinel: the name is asked for and a refusal (a user without
        // +client|setname) ignored, so a restricted user still gets a working link.
        cc.call("CLIENT", "SETNAME", `sentinel-${id}-cmd`).catch(() => {});
        if (this.links.get(ri) !== l) {
          void cc.close();
          return;
        }
        l.cc = cc;
        const now = this.clock.nowMs();
        ri.link.connected = true;
        ri.link.connectedSince = now;
        ri.link.localIp = cc.localAddress;
        // What the address resolved to (an IP already, or a hostname under resolve-hostnames).
        if (cc.remoteAddress) ri.ip = cc.remoteAddress;
        this.monitor.linkUp(ri);
        cc.on("close", () => {
          if (l.cc !== cc) return;
          l.cc = null;
          ri.link.connected = false;
          ri.link.connectedSince = 0;
          ri.link.pendingCommands = 0;
        });
      } catch (e) {
        log.debug("link to {addr} failed: {err}", { addr: ri.name, err: String(e) });
        return;
      }
    }
    if (wantPc && !l.pc) {
      try {
        const pc = await RedisClient.connect(base);
        this.login(ri, pc);
        pc.call("CLIENT", "SETNAME", `sentinel-${id}-pubsub`).catch(() => {});
        if (this.links.get(ri) !== l) {
          void pc.close();
          return;
        }
        l.pc = pc;
        ri.link.pubsubConnected = true;
        ri.link.lastPubsubTime = this.clock.nowMs();
        pc.on("close", () => {
          if (l.pc !== pc) return;
          l.pc = null;
          ri.link.pubsubConnected = false;
        });
        try {
          await pc.subscribe([HELLO_CHANNEL], (_ch, msg) => {
            ri.link.lastPubsubTime = this.clock.nowMs();
            this.monitor.processHello(msg);
          });
        } catch (e) {
          // A refused SUBSCRIBE (NOAUTH, NOPERM) leaves no working pub/sub link: it is closed
          // and retried, so the instance shows as disconnected meanwhile, as with Redis.
          void pc.close();
          throw e;
        }
      } catch (e) {
        log.debug("pub/sub link to {addr} failed: {err}", { addr: ri.name, err: String(e) });
      }
    }
  }

  command(ri: Instance, argv: string[]): Promise<RespValue> {
    const cc = this.links.get(ri)?.cc;
    if (!cc) return Promise.reject(new RespError("ERR link down"));
    return cc.call(...argv).catch((e) => {
      if (e instanceof ReplyError) return e.reply;
      throw e;
    });
  }

  dropLinks(ri: Instance): void {
    const l = this.links.get(ri);
    if (!l) return;
    this.links.delete(ri);
    ri.link.connected = false;
    ri.link.pubsubConnected = false;
    ri.link.pendingCommands = 0;
    void l.cc?.close();
    void l.pc?.close();
  }

  // ---------------------------------------------------------------------------------------
  // Events, scripts, config

  event(level: EventLevel, type: string, message: string): void {
    const line = type === "failover-delay" ? message : `${type} ${message}`;
    if (level === "warning") log.warn("{line}", { line });
    else if (level === "notice") log.info("{line}", { line });
    else log.debug("{line}", { line });
    if (type === "failover-delay") return;
    this.sink.publish(type, message);
    const ev = { time: this.clock.nowMs(), level, type, message };
    this.events.push(ev);
    if (this.events.length > EVENT_RING) this.events.splice(0, this.events.length - EVENT_RING);
    for (const l of this.eventListeners) l(ev);
    // Warning-level events go to the master's notification script.
    if (level === "warning") {
      const name = this.masterNameOf(type, message);
      const script = name ? this.cfg.masters.get(name)?.notificationScript : undefined;
      if (script) this.queueScript(script, [type, message]);
    }
    if (type === "+try-failover") {
      const name = this.masterNameOf(type, message);
      if (name) this.failoverStarted.set(name, this.clock.nowMs());
    }
    if (type === "+switch-master") {
      const [name, fromIp, fromPort, toIp, toPort] = message.split(" ");
      if (name) {
        const f = this.failovers.get(name) ?? { switches: 0, lastDurationMs: 0 };
        f.switches++;
        const started = this.failoverStarted.get(name);
        if (started !== undefined) f.lastDurationMs = this.clock.nowMs() - started;
        this.failoverStarted.delete(name);
        this.failovers.set(name, f);
      }
      const script = name ? this.cfg.masters.get(name)?.clientReconfigScript : undefined;
      if (script) {
        const m = this.monitor.masters.get(name!);
        const role = m && m.leader === this.cfg.myid ? "leader" : "observer";
        this.queueScript(script, [name!, role, "end", fromIp!, fromPort!, toIp!, toPort!]);
      }
    }
  }

  private readonly failoverStarted = new Map<string, number>();

  /** The master an event is about: the name after "master" or after "@". */
  private masterNameOf(type: string, message: string): string | null {
    const w = message.split(" ");
    if (type === "+switch-master") return w[0] ?? null;
    if (w[0] === "master") return w[1] ?? null;
    const at = w.indexOf("@");
    return at >= 0 ? w[at + 1] ?? null : null;
  }

  private queueScript(script: string, args: string[]): void {
    if (this.scriptQueue.length >= MAX_QUEUED_SCRIPTS) {
      log.warn("Too many pending scripts: dropping {script}", { script });
      return;
    }
    this.scriptQueue.push({ script, args, retries: 0 });
    this.runScripts();
  }

  private runScripts(): void {
    while (this.scriptsRunning < MAX_RUNNING_SCRIPTS && this.scriptQueue.length > 0) {
      const job = this.scriptQueue.shift()!;
      this.scriptsRunning++;
      void this.runScript(job).finally(() => {
        this.scriptsRunning--;
        this.runScripts();
      });
    }
  }

  get runningScripts(): number {
    return this.scriptsRunning;
  }

  private async runScript(job: { script: string; args: string[]; retries: number }): Promise<void> {
    try {
      const child = new Deno.Command(job.script, {
        args: job.args,
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* already gone */ }
      }, this.monitor.timing.scriptMaxRuntime);
      const st = await child.status;
      clearTimeout(timer);
      if (!st.success) {
        log.warn("-script-error {script} {code}", { script: job.script, code: st.code });
        // Exit code 1 asks for a retry, as in Redis; a higher code or a signal does not.
        if (st.code === 1 && st.signal === null && job.retries < SCRIPT_MAX_RETRIES) {
          job.retries++;
          const t = setTimeout(() => {
            this.retryTimers.delete(t);
            if (this.scriptQueue.length < MAX_QUEUED_SCRIPTS) {
              this.scriptQueue.push(job);
              this.runScripts();
            }
          }, this.monitor.timing.scriptRetryDelay * job.retries);
          this.retryTimers.add(t);
        }
      }
    } catch (e) {
      log.warn("-script-error {script} {err}", { script: job.script, err: String(e) });
    }
  }

  /** The ACL users as `user` lines for the rewrite, or null to leave `user` lines alone. */
  userLines: () => string[] | null = () => null;

  save(): boolean {
    if (!this.configPath) return true;
    try {
      rewriteFile(this.configPath, this.cfg, this.userLines());
      return true;
    } catch (e) {
      log.warn("WARNING: Sentinel was not able to save the new configuration on disk!!!: {err}", {
        err: String(e),
      });
      return false;
    }
  }
}
