/**
 * Sentinels for tests: ours (sentinel/main.ts) or a real redis-sentinel, each with its own
 * temporary directory and config file (which the sentinel rewrites), on a free port; and a
 * group of data nodes (a master and replicas) with sentinels monitoring it, stopped as a whole
 * on disposal. Waits that time out report what every sentinel and data node knows.
 */
import { RespError, RespMap, type RespValue } from "../../shared/resp/mod.ts";
import { freePort, type ManagedProcess, startProcess } from "./process.ts";
import { eventually, RawConn } from "./raw.ts";
import { describe, type Impl, linkUp, Node, parseInfo } from "./replication.ts";

const root = new URL("../../", import.meta.url).pathname;

export const MASTER_NAME = "mymaster";

export interface SentinelOptions {
  /** The monitored master's port (on 127.0.0.1). */
  masterPort: number;
  quorum?: number;
  downAfterMs?: number;
  failoverTimeoutMs?: number;
  /** More lines for the config file. */
  extra?: string[];
}

/** The command line of our sentinel with its config file. */
export function sentinelCommand(configFile: string, args: string[] = []): string[] {
  return [Deno.execPath(), "run", "-A", `${root}sentinel/main.ts`, configFile, ...args];
}

const PORT_ATTEMPTS = 3;

/** A running sentinel with one command connection (reopened when it breaks). */
export class Sentinel {
  private conn: RawConn | null = null;
  private ownsDir: boolean;

  private constructor(
    readonly impl: Impl,
    readonly name: string,
    readonly proc: ManagedProcess,
    readonly dir: string,
    readonly configFile: string,
  ) {
    this.ownsDir = true;
  }

  /** Starts a sentinel monitoring `mymaster` at 127.0.0.1:masterPort, in a fresh directory. */
  static async start(impl: Impl, name: string, o: SentinelOptions): Promise<Sentinel> {
    const dir = await Deno.makeTempDir({ prefix: "redis-ha-sentinel-" });
    const configFile = `${dir}/sentinel.conf`;
    try {
      for (let attempt = 1;; attempt++) {
        const port = await freePort();
        const lines = [
          `port ${port}`,
          "bind 127.0.0.1",
          `dir ${dir}`,
          ...(impl === "ours" ? ["admin-port -1"] : []),
          `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${o.masterPort} ${o.quorum ?? 2}`,
          `sentinel down-after-milliseconds ${MASTER_NAME} ${o.downAfterMs ?? 1000}`,
          `sentinel failover-timeout ${MASTER_NAME} ${o.failoverTimeoutMs ?? 6000}`,
          ...(o.extra ?? []),
        ];
        await Deno.writeTextFile(configFile, lines.join("\n") + "\n");
        try {
          const proc = await Sentinel.spawn(impl, name, port, configFile);
          return new Sentinel(impl, name, proc, dir, configFile);
        } catch (e) {
          const taken = /address already in use/i.test((e as Error).message);
          if (!taken || attempt >= PORT_ATTEMPTS) throw e;
        }
      }
    } catch (e) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw e;
    }
  }

  private static spawn(
    impl: Impl,
    name: string,
    port: number,
    configFile: string,
  ): Promise<ManagedProcess> {
    const cmd = impl === "ours" ? sentinelCommand(configFile) : ["redis-sentinel", configFile];
    return startProcess({ cmd, port, name: `${name} (${impl} sentinel)` });
  }

  /** The same sentinel started again (after stop()) with its config file and port. */
  async restart(): Promise<Sentinel> {
    await this.stop();
    const proc = await Sentinel.spawn(this.impl, this.name, this.port, this.configFile);
    const s = new Sentinel(this.impl, this.name, proc, this.dir, this.configFile);
    // The directory now belongs to the new process.
    this.ownsDir = false;
    return s;
  }

  get port(): number {
    return this.proc.port;
  }

  get label(): string {
    return `${this.name} (${this.impl} sentinel on ${this.port})`;
  }

  async call(...args: string[]): Promise<RespValue> {
    for (let attempt = 0;; attempt++) {
      try {
        this.conn ??= await RawConn.connect(this.port);
        return await this.conn.call(...args);
      } catch (e) {
        this.conn?.close();
        this.conn = null;
        if (attempt >= 1) throw new Error(`${this.label}: ${args.join(" ")}: ${e}`);
      }
    }
  }

  /** A command that must not answer an error. */
  async cmd(...args: string[]): Promise<RespValue> {
    const v = await this.call(...args);
    if (v instanceof RespError) throw new Error(`${this.label}: ${args.join(" ")}: ${v.message}`);
    return v;
  }

  /** GET-MASTER-ADDR-BY-NAME as "host:port" (null when it answers nil or fails). */
  async masterAddr(): Promise<string | null> {
    try {
      const v = await this.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME);
      return Array.isArray(v) ? `${v[0]}:${v[1]}` : null;
    } catch {
      return null;
    }
  }

  /** SENTINEL MASTER as an object. */
  async master(): Promise<Record<string, string>> {
    return fields(await this.cmd("SENTINEL", "MASTER", MASTER_NAME));
  }

  async replicas(): Promise<Record<string, string>[]> {
    return (await this.cmd("SENTINEL", "REPLICAS", MASTER_NAME) as RespValue[]).map(fields);
  }

  async sentinels(): Promise<Record<string, string>[]> {
    return (await this.cmd("SENTINEL", "SENTINELS", MASTER_NAME) as RespValue[]).map(fields);
  }

  async info(section = "sentinel"): Promise<Record<string, string>> {
    return parseInfo(String(await this.cmd("INFO", section)));
  }

  /** What this sentinel knows, for failure messages. */
  async dump(): Promise<string> {
    const parts = [`--- ${this.label} ---`];
    try {
      const m = await this.master();
      parts.push(
        `master ${m.ip}:${m.port} flags=${m.flags} config-epoch=${m["config-epoch"]} ` +
          `failover-state=${m["failover-state"] ?? "-"}`,
      );
      for (const r of await this.replicas()) {
        parts.push(
          `  replica ${r.name} flags=${r.flags} master=${r["master-host"]}:${r["master-port"]} ` +
            `link=${r["master-link-status"]}`,
        );
      }
      for (const s of await this.sentinels()) {
        parts.push(`  sentinel ${s.name} flags=${s.flags} runid=${s.runid}`);
      }
    } catch (e) {
      parts.push(`(state unavailable: ${(e as Error).message})`);
    }
    parts.push(this.proc.output().split("\n").slice(-25).join("\n"));
    return parts.join("\n");
  }

  /** Stops the process (the directory is kept for a restart). */
  async stop(sig: Deno.Signal = "SIGTERM"): Promise<void> {
    this.conn?.close();
    this.conn = null;
    await this.proc.stop(sig);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
    if (this.ownsDir) await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** A field/value reply (flat array in RESP2, map in RESP3) as an object. */
export function fields(v: RespValue): Record<string, string> {
  const out: Record<string, string> = {};
  if (v instanceof RespMap) {
    for (const [k, x] of v.entries) out[String(k)] = String(x);
    return out;
  }
  if (!Array.isArray(v)) throw new Error(`not a field/value reply: ${JSON.stringify(v)}`);
  for (let i = 0; i + 1 < v.length; i += 2) out[String(v[i])] = String(v[i + 1]);
  return out;
}

/** Starts everything at once; if any start fails, the started ones are stopped. */
export async function startAll<T extends { [Symbol.asyncDispose](): Promise<void> }>(
  starts: (() => Promise<T>)[],
): Promise<T[]> {
  const settled = await Promise.allSettled(starts.map((f) => f()));
  const failed = settled.find((s) => s.status === "rejected");
  if (failed) {
    await Promise.all(
      settled.map((s) => s.status === "fulfilled" ? s.value[Symbol.asyncDispose]() : null),
    );
    throw (failed as PromiseRejectedResult).reason;
  }
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}

export interface GroupOptions {
  /** Implementation of the data nodes (master and replicas). */
  data: Impl;
  replicas: number;
  /** One entry per sentinel. */
  sentinels: Impl[];
  quorum?: number;
  downAfterMs?: number;
  failoverTimeoutMs?: number;
}

/**
 * A master, its replicas (linked) and sentinels monitoring it. Everything is stopped on
 * disposal, whatever state the test left it in; `extra` holds processes a test started later.
 */
export class Group {
  readonly extra: { [Symbol.asyncDispose](): Promise<void> }[] = [];

  private constructor(
    readonly master: Node,
    readonly replicas: Node[],
    readonly sentinels: Sentinel[],
  ) {}

  static async start(o: GroupOptions): Promise<Group> {
    const nodes = await startAll(
      Array.from(
        { length: 1 + o.replicas },
        (_, i) => () => Node.start(o.data, i === 0 ? "master" : `replica${i}`),
      ),
    );
    const master = nodes[0]!, replicas = nodes.slice(1);
    let sentinels: Sentinel[] = [];
    try {
      for (const r of replicas) await r.replicaOf(master);
      for (const r of replicas) await linkUp(master, r);
      sentinels = await startAll(
        o.sentinels.map((impl, i) => () =>
          Sentinel.start(impl, `sentinel${i + 1}`, {
            masterPort: master.port,
            ...(o.quorum !== undefined ? { quorum: o.quorum } : {}),
            ...(o.downAfterMs !== undefined ? { downAfterMs: o.downAfterMs } : {}),
            ...(o.failoverTimeoutMs !== undefined
              ? { failoverTimeoutMs: o.failoverTimeoutMs }
              : {}),
          })
        ),
      );
    } catch (e) {
      await Promise.all(nodes.map((n) => n[Symbol.asyncDispose]()));
      throw e;
    }
    return new Group(master, replicas, sentinels);
  }

  get nodes(): Node[] {
    return [this.master, ...this.replicas];
  }

  /** Every sentinel's view and every live data node's replication state. */
  async dump(): Promise<string> {
    const parts = await Promise.all(this.sentinels.map((s) => s.dump()));
    const live = this.nodes.filter((n) => n.proc.alive);
    parts.push(await describe(live));
    return parts.join("\n");
  }

  /** Polls `check` for up to `timeoutMs`; a timeout reports the state of the whole group. */
  async waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 15000): Promise<void> {
    try {
      await eventually(
        async () => {
          try {
            return await check();
          } catch {
            return false;
          }
        },
        what,
        timeoutMs,
      );
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${await this.dump()}`);
    }
  }

  /** Each sentinel lists every replica and every other sentinel. */
  discovered(timeoutMs = 15000): Promise<void> {
    const n = this.sentinels.length - 1, r = this.replicas.length;
    const what = `each sentinel knows ${r} replicas and ${n} other sentinels, all linked`;
    return this.waitFor(what, async () => {
      for (const s of this.sentinels) {
        const reps = await s.replicas(), peers = await s.sentinels();
        if (reps.length !== r || reps.some((x) => x.flags !== "slave")) return false;
        if (peers.length !== n || peers.some((x) => x.flags !== "sentinel")) return false;
      }
      return true;
    }, timeoutMs);
  }

  /** All sentinels agree on a master address other than `old`; returns it. */
  async newMaster(old: string, timeoutMs = FAILOVER_WAIT_MS): Promise<string> {
    let agreed = "";
    await this.waitFor(`all sentinels report the same new master (not ${old})`, async () => {
      const addrs = await Promise.all(this.sentinels.map((s) => s.masterAddr()));
      const first = addrs[0];
      if (!first || first === old || addrs.some((a) => a !== first)) return false;
      agreed = first;
      return true;
    }, timeoutMs);
    return agreed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all([
      ...this.sentinels.map((s) => s[Symbol.asyncDispose]()),
      ...this.nodes.map((n) => n[Symbol.asyncDispose]()),
      ...this.extra.map((x) => x[Symbol.asyncDispose]()),
    ]);
  }
}

/**
 * How long a failover may take in these tests: a few seconds normally, but a stall of the
 * machine (a slow fsync while the whole suite runs) puts every sentinel, redis-sentinel
 * included, in TILT for 30 s, during which none acts.
 */
export const FAILOVER_WAIT_MS = 45_000;
