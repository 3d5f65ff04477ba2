/**
 * Cluster nodes for tests and benchmarks: one of ours or a redis-server in cluster mode on a
 * fixed port and directory (so that it can restart), CLUSTER NODES parsed, ports whose bus port
 * is free too, and redis-cli runs with their output.
 */
import { RespError, type RespValue } from "../../shared/resp/mod.ts";
import { dataNodeCommand, freePort, type ManagedProcess, startProcess } from "./process.ts";
import { eventually, RawConn } from "./raw.ts";
import { parseInfo } from "./replication.ts";

export type Impl = "ours" | "redis";

/** A port whose bus port (+10000) is free too, and not among `taken`. */
export async function clusterPort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (taken.has(port) || taken.has(port + 10000)) continue;
    const listeners: Deno.Listener[] = [];
    try {
      listeners.push(Deno.listen({ hostname: "127.0.0.1", port }));
      listeners.push(Deno.listen({ hostname: "127.0.0.1", port: port + 10000 }));
    } catch {
      continue;
    } finally {
      for (const l of listeners) l.close();
    }
    taken.add(port);
    taken.add(port + 10000);
    return port;
  }
}

/** One line of CLUSTER NODES. */
export interface NodeLine {
  id: string;
  /** The address's host, as the node lists it. */
  host: string;
  port: number;
  flags: string[];
  /** The master's id, or "-". */
  master: string;
  epoch: string;
  link: string;
  slots: string[];
}

export function parseNodes(text: string): NodeLine[] {
  return text.split("\n").filter((l) => l.trim() !== "").map((l) => {
    const w = l.trim().split(" ");
    const addr = w[1]!.split(",")[0]!.split("@")[0]!;
    return {
      id: w[0]!,
      host: addr.slice(0, addr.lastIndexOf(":")),
      port: Number(addr.slice(addr.lastIndexOf(":") + 1)),
      flags: w[2]!.split(","),
      master: w[3]!,
      epoch: w[6]!,
      link: w[7]!,
      slots: w.slice(8),
    };
  });
}

/** A cluster node (ours or redis-server) on a fixed port and directory, so it can restart. */
export class CNode {
  proc: ManagedProcess | null = null;
  id = "";
  /** Directives after the usual ones (later ones win), from the next start on. */
  extraArgs: string[] = [];
  private conn: RawConn | null = null;

  constructor(
    readonly impl: Impl,
    readonly name: string,
    public port: number,
    readonly dir: string,
    readonly nodeTimeoutMs = 1000,
    /** How long a start may take before it counts as failed. */
    readonly readyTimeoutMs?: number,
  ) {}

  get label(): string {
    return `${this.name} (${this.impl} on ${this.port})`;
  }

  get alive(): boolean {
    return this.proc !== null && this.proc.alive;
  }

  get pid(): number {
    return this.proc!.pid;
  }

  private command(): string[] {
    const args = [
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      this.dir,
      "--cluster-enabled",
      "yes",
      "--cluster-node-timeout",
      String(this.nodeTimeoutMs),
      "--repl-diskless-sync-delay",
      "0",
      "--repl-ping-replica-period",
      "1",
      "--shutdown-timeout",
      "0",
      "--enable-debug-command",
      "local",
      ...this.extraArgs,
    ];
    if (this.impl === "redis") {
      return [
        "redis-server",
        "--port",
        String(this.port),
        ...args,
        "--cluster-config-file",
        `${this.dir}/nodes.conf`,
      ];
    }
    return dataNodeCommand(this.port, [
      ...args,
      "--admin-port",
      "-1",
      "--cluster-config-file",
      "nodes.conf",
    ]);
  }

  async start(): Promise<void> {
    this.conn?.close();
    this.conn = null;
    this.proc = await startProcess({
      cmd: this.command(),
      port: this.port,
      name: this.label,
      ...(this.readyTimeoutMs ? { readyTimeoutMs: this.readyTimeoutMs } : {}),
    });
  }

  /**
   * The node's first start. Its port was free when chosen, but another test's server may have
   * taken it since: then the node, which has no identity yet, starts again on a new port.
   */
  async startFirst(taken: Set<number>): Promise<void> {
    for (let attempt = 1;; attempt++) {
      try {
        return await this.start();
      } catch (e) {
        if (!/address already in use/i.test((e as Error).message) || attempt >= 3) throw e;
        await Deno.remove(`${this.dir}/nodes.conf`).catch(() => {});
        this.port = await clusterPort(taken);
      }
    }
  }

  /** A command's reply (errors included); a connection that failed is reopened next time. */
  async call(...args: string[]): Promise<RespValue> {
    this.conn ??= await RawConn.connect(this.port);
    try {
      return await this.conn.call(...args);
    } catch (e) {
      this.conn.close();
      this.conn = null;
      throw e;
    }
  }

  /** A command that must not answer an error. */
  async cmd(...args: string[]): Promise<RespValue> {
    const v = await this.call(...args);
    if (v instanceof RespError) throw new Error(`${this.label}: ${args.join(" ")}: ${v.message}`);
    return v;
  }

  async info(): Promise<Record<string, string>> {
    return parseInfo(String(await this.cmd("CLUSTER", "INFO")));
  }

  async replInfo(): Promise<Record<string, string>> {
    return parseInfo(String(await this.cmd("INFO", "replication")));
  }

  async nodes(): Promise<NodeLine[]> {
    return parseNodes(String(await this.cmd("CLUSTER", "NODES")));
  }

  async kill9(): Promise<void> {
    this.conn?.close();
    this.conn = null;
    await this.proc?.kill9();
  }

  async stop(): Promise<void> {
    this.conn?.close();
    this.conn = null;
    await this.proc?.stop();
  }
}

/** The output of a command run to its end (or killed after `timeoutMs`), colours removed. */
export async function runCli(
  args: string[],
  timeoutMs = 60_000,
): Promise<{ code: number; out: string }> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  try {
    const o = await new Deno.Command("redis-cli", {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: ac.signal,
    }).output();
    const dec = new TextDecoder();
    // deno-lint-ignore no-control-regex
    const out = (dec.decode(o.stdout) + dec.decode(o.stderr)).replace(/\x1b\[[0-9;]*m/g, "");
    const note = ac.signal.aborted ? `\n(killed after ${timeoutMs} ms)` : "";
    return { code: o.code, out: out + note };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls `check` (an error it throws counts as "not yet") for up to `timeoutMs`; a timeout
 * reports the last error and `describe()` (the state of the nodes involved).
 */
export async function waitReporting(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  describe: () => Promise<string>,
): Promise<void> {
  let last = "";
  try {
    await eventually(
      async () => {
        try {
          return await check();
        } catch (e) {
          last = (e as Error).message;
          return false;
        }
      },
      what,
      timeoutMs,
    );
  } catch (e) {
    const why = last ? `\n(last error: ${last})` : "";
    throw new Error(`${(e as Error).message}${why}\n${await describe()}`);
  }
}
