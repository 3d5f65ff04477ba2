/**
 * Shared pieces of the replication tests: a started server (redis-server or our data node) with
 * a command connection, waits on replication state that report INFO replication of the nodes
 * when they time out, pipelined commands, and key-by-key comparison of datasets.
 */
import { deepStrictEqual, ok } from "node:assert/strict";
import { encodeCommand, RespError, type RespValue } from "../../shared/resp/mod.ts";
import { type ManagedProcess, startDataNode, startRedisServer } from "./process.ts";
import { eventually, RawConn } from "./raw.ts";

export type Impl = "redis" | "ours";

/** Which implementation plays the master and which the replica(s). */
export interface Pair {
  master: Impl;
  replica: Impl;
}

/** Bound of every wait on replication (link up, offsets equal, a stat moving). */
export const WAIT_MS = 15000;

/**
 * Directives every node gets: pings each second, no diskless delay, no wait for replicas at
 * shutdown (the grace period of a stop is not spent waiting for acks), DEBUG allowed.
 */
/** Directives our nodes get on top of BASE_ARGS (set by a test for the scenarios it runs). */
let oursArgs: readonly string[] = [];

export function setOursArgs(args: readonly string[]): void {
  oursArgs = args;
}

export const BASE_ARGS = [
  "--repl-ping-replica-period",
  "1",
  "--repl-diskless-sync-delay",
  "0",
  "--shutdown-timeout",
  "0",
  "--enable-debug-command",
  "yes",
];

/** A started server with one command connection; stopping it closes both. */
export class Node {
  private constructor(
    readonly impl: Impl,
    readonly name: string,
    readonly proc: ManagedProcess,
    readonly conn: RawConn,
    readonly password: string | undefined,
  ) {}

  static async start(
    impl: Impl,
    name: string,
    args: string[] = [],
    o: { dir?: string; password?: string } = {},
  ): Promise<Node> {
    const all = [...BASE_ARGS, ...(impl === "ours" ? oursArgs : []), ...args];
    const so = o.dir === undefined ? {} : { dir: o.dir };
    const proc = impl === "redis" ? await startRedisServer(all, so) : await startDataNode(all, so);
    try {
      const conn = await connectTo(proc.port, o.password);
      return new Node(impl, name, proc, conn, o.password);
    } catch (e) {
      await proc.stop();
      throw e;
    }
  }

  get port(): number {
    return this.proc.port;
  }

  get label(): string {
    return `${this.name} (${this.impl} on ${this.port})`;
  }

  /** A new connection, authenticated when the node has a password. */
  fresh(): Promise<RawConn> {
    return connectTo(this.port, this.password);
  }

  call(...args: string[]): Promise<RespValue> {
    return this.conn.call(...args);
  }

  /** A command that must not answer an error. */
  async cmd(...args: string[]): Promise<RespValue> {
    const v = await this.conn.call(...args);
    if (v instanceof RespError) throw new Error(`${this.label}: ${args.join(" ")}: ${v.message}`);
    return v;
  }

  async info(section: string): Promise<Record<string, string>> {
    return parseInfo(String(await this.cmd("INFO", section)));
  }

  async stat(field: string): Promise<number> {
    const v = (await this.info("stats"))[field];
    if (v === undefined) throw new Error(`${this.label}: INFO stats has no ${field}`);
    return Number(v);
  }

  async replicaOf(master: Node): Promise<void> {
    const v = await this.cmd("REPLICAOF", "127.0.0.1", String(master.port));
    ok(String(v).startsWith("OK"), `${this.label}: REPLICAOF answered ${String(v)}`);
  }

  /** SHUTDOWN (saving when save points are set) and wait for the process to exit. */
  async shutdown(): Promise<void> {
    await this.conn.call("SHUTDOWN").catch(() => {});
    const status = await this.proc.status;
    ok(status.code === 0, `${this.label} exited with ${status.code}:\n${this.proc.output()}`);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.conn.close();
    await this.proc.stop();
  }
}

export async function connectTo(port: number, password?: string): Promise<RawConn> {
  const c = await RawConn.connect(port);
  if (password !== undefined) {
    const v = await c.call("AUTH", password);
    if (v instanceof RespError) {
      c.close();
      throw new Error(`AUTH on ${port}: ${v.message}`);
    }
  }
  return c;
}

export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\r\n")) {
    const i = line.indexOf(":");
    if (i > 0 && !line.startsWith("#")) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** INFO replication and the last output lines of each node, for failure messages. */
export async function describe(nodes: readonly Node[]): Promise<string> {
  const parts: string[] = [];
  for (const n of nodes) {
    let info: string;
    try {
      using c = await n.fresh();
      info = String(await c.call("INFO", "replication")).trimEnd();
    } catch (e) {
      info = `(INFO replication failed: ${(e as Error).message})`;
    }
    const tail = n.proc.output().split("\n").slice(-12).join("\n");
    parts.push(`--- ${n.label}: INFO replication ---\n${info}\n--- its last output ---\n${tail}`);
  }
  return parts.join("\n");
}

/** Polls `check` for up to `timeoutMs`; a timeout reports the replication state of `nodes`. */
export async function waitFor(
  nodes: readonly Node[],
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = WAIT_MS,
): Promise<void> {
  try {
    await eventually(check, what, timeoutMs);
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${await describe(nodes)}`);
  }
}

/** The replica reports its link to the master up. */
export function linkUp(master: Node, replica: Node): Promise<void> {
  return waitFor(
    [master, replica],
    `${replica.label} linked to ${master.label}`,
    async () => (await replica.info("replication")).master_link_status === "up",
  );
}

/** The master counts `n` replicas past the initial sync (state=online in INFO replication). */
export function online(master: Node, n: number): Promise<void> {
  return waitFor([master], `${n} replicas online at ${master.label}`, async () => {
    const info = await master.info("replication");
    let count = 0;
    for (let i = 0; info[`slave${i}`] !== undefined; i++) {
      if (info[`slave${i}`]!.includes(",state=online,")) count++;
    }
    return count === n;
  });
}

/** Every replica (directly attached or further down a chain) is at the master's offset. */
export function caughtUp(master: Node, replicas: readonly Node[]): Promise<void> {
  return waitFor(
    [master, ...replicas],
    `replicas at the offset of ${master.label}`,
    async () => {
      const offset = (await master.info("replication")).master_repl_offset;
      for (const r of replicas) {
        const i = await r.info("replication");
        if (i.master_link_status !== "up") return false;
        if (i.slave_repl_offset !== offset || i.master_repl_offset !== offset) return false;
      }
      return true;
    },
  );
}

/** Sends commands in batches without waiting for each reply. */
export async function pipeline(c: RawConn, cmds: readonly string[][]): Promise<RespValue[]> {
  const out: RespValue[] = [];
  for (let i = 0; i < cmds.length; i += 500) {
    const batch = cmds.slice(i, i + 500);
    const parts = batch.map((a) => encodeCommand(a));
    const bytes = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
    let off = 0;
    for (const p of parts) {
      bytes.set(p, off);
      off += p.length;
    }
    await c.write(bytes);
    for (let j = 0; j < batch.length; j++) out.push(await c.read());
  }
  return out;
}

/** Runs commands that must all succeed. */
export async function run(n: Node, cmds: readonly string[][]): Promise<void> {
  using c = await n.fresh();
  const replies = await pipeline(c, cmds);
  const bad = replies.findIndex((v) => v instanceof RespError);
  if (bad >= 0) throw new Error(`${n.label}: ${cmds[bad]!.join(" ")}: ${String(replies[bad])}`);
}

export interface Entry {
  type: string;
  value: unknown;
  pttl: number;
  /** When the PTTL was read: between these wall-clock times (ms). */
  readFrom: number;
  readTo: number;
}

export const READ: Record<string, (k: string) => string[]> = {
  string: (k) => ["GET", k],
  list: (k) => ["LRANGE", k, "0", "-1"],
  hash: (k) => ["HGETALL", k],
  set: (k) => ["SMEMBERS", k],
  zset: (k) => ["ZRANGE", k, "0", "-1", "WITHSCORES"],
};

/** Every key of every database with its type, value in a comparable form, and PTTL. */
export async function snapshot(
  n: Node,
): Promise<{ sizes: Record<string, number>; keys: Map<string, Entry> }> {
  using c = await n.fresh();
  const dbs = Object.keys(await n.info("keyspace"))
    .filter((k) => /^db\d+$/.test(k))
    .map((k) => k.slice(2));
  const sizes: Record<string, number> = {};
  const keys = new Map<string, Entry>();
  for (const db of dbs) {
    await c.call("SELECT", db);
    sizes[db] = Number(await c.call("DBSIZE"));
    const names = new Set<string>();
    let cursor = "0";
    do {
      const r = await c.call("SCAN", cursor, "COUNT", "1000") as [string, string[]];
      cursor = r[0];
      for (const k of r[1]) names.add(k);
    } while (cursor !== "0");
    const list = [...names];
    const types = (await pipeline(c, list.map((k) => ["TYPE", k]))).map(String);
    const values = await pipeline(
      c,
      list.map((k, i) => (READ[types[i]!] ?? ((key: string) => ["TYPE", key]))(k)),
    );
    const readFrom = Date.now();
    const pttls = await pipeline(c, list.map((k) => ["PTTL", k]));
    const readTo = Date.now();
    list.forEach((k, i) => {
      let value: unknown = values[i];
      if (types[i] === "set") value = (value as string[]).slice().sort();
      if (types[i] === "hash") {
        const v = value as string[];
        const pairs: string[] = [];
        for (let j = 0; j < v.length; j += 2) pairs.push(`${v[j]}=${v[j + 1]}`);
        value = pairs.sort();
      }
      keys.set(`${db}:${k}`, { type: types[i]!, value, pttl: Number(pttls[i]), readFrom, readTo });
    });
  }
  return { sizes, keys };
}

/** A value shortened for a failure message. */
export function brief(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** A dataset as `snapshot` reads it. */
export type Snapshot = Awaited<ReturnType<typeof snapshot>>;

/**
 * How `actual` differs from `expected`: DBSIZE per database, and per key its type, value, and
 * TTL (equal when persistent; otherwise the same expiry time within 5 s plus the reads' duration). Empty when they hold the same data.
 */
export function diffSnapshots(expected: Snapshot, actual: Snapshot): string[] {
  const a = expected, b = actual;
  const problems: string[] = [];
  for (const db of new Set([...Object.keys(a.sizes), ...Object.keys(b.sizes)])) {
    if (a.sizes[db] !== b.sizes[db]) {
      problems.push(`db ${db}: DBSIZE ${b.sizes[db] ?? 0}, expected ${a.sizes[db] ?? 0}`);
    }
  }
  for (const [k, e] of a.keys) {
    const r = b.keys.get(k);
    if (r === undefined) problems.push(`${k}: missing`);
    else if (r.type !== e.type) problems.push(`${k}: type ${r.type}, expected ${e.type}`);
    else {
      try {
        deepStrictEqual(r.value, e.value);
      } catch {
        problems.push(`${k}: value ${brief(r.value)}, expected ${brief(e.value)}`);
      }
      // The same expiry time, within 5 s besides how long each side's PTTL reads took.
      const slack = 5000 + (e.readTo - e.readFrom) + (r.readTo - r.readFrom);
      const ttlOk = e.pttl < 0
        ? r.pttl === e.pttl
        : r.pttl > 0 && Math.abs(r.readFrom + r.pttl - (e.readFrom + e.pttl)) < slack;
      if (!ttlOk) problems.push(`${k}: PTTL ${r.pttl}, expected about ${e.pttl}`);
    }
  }
  for (const k of b.keys.keys()) if (!a.keys.has(k)) problems.push(`${k}: extra`);
  return problems;
}

/** Fails with the first differences when `problems` is not empty. */
export function noProblems(problems: readonly string[], what: string): void {
  ok(
    problems.length === 0,
    `${what} (${problems.length} problems):\n${problems.slice(0, 20).join("\n")}`,
  );
}

/** The replica holds the master's dataset: same keys, types, values, and TTLs within 5 s. */
export async function sameData(master: Node, replica: Node): Promise<void> {
  const a = await snapshot(master);
  const b = await snapshot(replica);
  noProblems(diffSnapshots(a, b), `${replica.label} differs from ${master.label}`);
}

export async function fileExists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
