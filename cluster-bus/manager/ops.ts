/**
 * The manager's I/O shell: connections to the nodes, and create, check, fix, reshard and
 * rebalance carried out with CLUSTER commands and MIGRATE. Plans come from plan.ts; this file
 * only talks to nodes and reports progress through `out`.
 */
import { RedisClient, ReplyError } from "../../shared/client.ts";
import { type RespValue } from "../../shared/resp/mod.ts";
import { splitAddr } from "../proxy/slot_map.ts";
import {
  allocateSlots,
  checkCluster,
  type CheckReport,
  groupMoves,
  placeNodes,
  planCoverage,
  planReshard,
  type SlotMove,
} from "./plan.ts";
import {
  formatRanges,
  isMaster,
  type NodeInfo,
  type NodeView,
  parseNodesText,
} from "./topology.ts";

/** Keys moved per MIGRATE (redis-cli's --cluster-pipeline default). */
export const DEFAULT_PIPELINE = 10;
/** MIGRATE's own timeout, ms. */
export const MIGRATE_TIMEOUT_MS = 60_000;
/** How long create waits for gossip to join the nodes, and for cluster_state:ok. */
export const JOIN_TIMEOUT_MS = 60_000;
/** Keys-per-slot loop bound: a slot whose keys never drain is an error, not a hang. */
export const MAX_MIGRATE_ROUNDS = 1_000_000;

export interface ManagerOptions {
  password?: string;
  timeoutMs: number;
  out: (line: string) => void;
}

export class ManagerError extends Error {}

export class Nodes {
  private readonly clients = new Map<string, Promise<RedisClient>>();

  constructor(readonly opts: ManagerOptions) {}

  client(addr: string): Promise<RedisClient> {
    let p = this.clients.get(addr);
    if (!p) {
      const a = splitAddr(addr);
      if (!a) return Promise.reject(new ManagerError(`bad node address '${addr}'`));
      p = RedisClient.connect({
        host: a.host,
        port: a.port,
        connectTimeoutMs: this.opts.timeoutMs,
        commandTimeoutMs: Math.max(this.opts.timeoutMs, MIGRATE_TIMEOUT_MS + 5000),
        reconnect: { enabled: false },
        ...(this.opts.password ? { password: this.opts.password } : {}),
      }).catch((e) => {
        this.clients.delete(addr);
        throw new ManagerError(`Could not connect to ${addr}: ${(e as Error).message}`);
      });
      this.clients.set(addr, p);
    }
    return p;
  }

  async call(addr: string, ...args: (string | number)[]): Promise<RespValue> {
    return await (await this.client(addr)).call(...args);
  }

  async view(addr: string): Promise<NodeView> {
    const text = String(await this.call(addr, "CLUSTER", "NODES"));
    const v = parseNodesText(text);
    if (!v) throw new ManagerError(`${addr}: CLUSTER NODES has no myself line`);
    // A node may not know its own IP before a MEET; use the address we reached it at.
    if (v.self.host === "" || v.self.port === 0) {
      const a = splitAddr(addr)!;
      Object.assign(v.self, { host: a.host, port: a.port, addr });
    }
    return v;
  }

  /** Every reachable node's view, starting from one node (entry view first). */
  async views(entry: string): Promise<NodeView[]> {
    const first = await this.view(entry);
    const out = [first];
    for (const n of first.known) {
      if (n.id === first.self.id || n.flags.includes("fail") || n.flags.includes("noaddr")) {
        continue;
      }
      try {
        out.push(await this.view(n.addr));
      } catch (e) {
        this.opts.out(`[WARNING] ${n.addr}: ${(e as Error).message}`);
      }
    }
    return out;
  }

  async close(): Promise<void> {
    const all = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(all.map((p) => p.then((c) => c.close(), () => {})));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch { /* not yet */ }
    await sleep(100);
  }
  throw new ManagerError(`timed out waiting for ${what}`);
}

// ---- create ----

export async function createCluster(
  nodes: Nodes,
  addrs: string[],
  replicas: number,
  confirm: () => Promise<boolean>,
): Promise<void> {
  const out = nodes.opts.out;
  const eps = addrs.map((a) => {
    const e = splitAddr(a);
    if (!e) throw new ManagerError(`bad node address '${a}'`);
    return e;
  });
  if (new Set(addrs).size !== addrs.length) throw new ManagerError("a node is given twice");
  const ids: string[] = [];
  for (const a of addrs) {
    const info = String(await nodes.call(a, "INFO", "cluster"));
    if (!/cluster_enabled:1/.test(info)) {
      throw new ManagerError(`[ERR] Node ${a} is not configured as a cluster node.`);
    }
    const v = await nodes.view(a);
    const db = Number(await nodes.call(a, "DBSIZE"));
    if (v.known.length > 1 || v.self.slots.length > 0 || db !== 0) {
      throw new ManagerError(
        `[ERR] Node ${a} is not empty. Either the node already knows other nodes (check with ` +
          "CLUSTER NODES) or contains some key in database 0.",
      );
    }
    ids.push(v.self.id);
  }
  const placed = placeNodes(eps, replicas);
  if (typeof placed === "string") throw new ManagerError(placed);
  const ranges = allocateSlots(placed.masters.length);
  out(`>>> Performing hash slots allocation on ${addrs.length} nodes...`);
  placed.masters.forEach((_m, i) => {
    out(`Master[${i}] -> Slots ${ranges[i]!.start} - ${ranges[i]!.end}`);
  });
  for (const [r, m] of placed.replicaOf) out(`Adding replica ${addrs[r]} to ${addrs[m]}`);
  placed.masters.forEach((m, i) => {
    out(
      `M: ${ids[m]} ${addrs[m]}\n   slots:[${ranges[i]!.start}-${ranges[i]!.end}] ` +
        `(${ranges[i]!.end - ranges[i]!.start + 1} slots) master`,
    );
  });
  for (const [r, m] of placed.replicaOf) out(`S: ${ids[r]} ${addrs[r]}\n   replicates ${ids[m]}`);
  if (!(await confirm())) throw new ManagerError("aborted: the configuration was not accepted");
  for (let i = 0; i < placed.masters.length; i++) {
    const a = addrs[placed.masters[i]!]!;
    const r = ranges[i]!;
    await addSlots(nodes, a, r.start, r.end);
  }
  out(">>> Nodes configuration updated");
  out(">>> Assign a different config epoch to each node");
  for (let i = 0; i < addrs.length; i++) {
    await nodes.call(addrs[i]!, "CLUSTER", "SET-CONFIG-EPOCH", i + 1).catch(() => {});
  }
  out(">>> Sending CLUSTER MEET messages to join the cluster");
  for (let i = 1; i < addrs.length; i++) {
    await nodes.call(addrs[0]!, "CLUSTER", "MEET", await meetHost(eps[i]!.host), eps[i]!.port);
  }
  out("Waiting for the cluster to join");
  await waitFor("the nodes to know each other", async () => {
    for (const a of addrs) {
      const v = await nodes.view(a);
      const joined = v.known.filter((n) => !n.flags.includes("handshake") && ids.includes(n.id));
      if (joined.length < addrs.length) return false;
    }
    return true;
  }, JOIN_TIMEOUT_MS);
  for (const [r, m] of placed.replicaOf) {
    await nodes.call(addrs[r]!, "CLUSTER", "REPLICATE", ids[m]!);
  }
  await waitFor("cluster_state:ok on every node", async () => {
    for (const a of addrs) {
      const info = String(await nodes.call(a, "CLUSTER", "INFO"));
      if (!/cluster_state:ok/.test(info)) return false;
    }
    const report = checkCluster(await nodes.views(addrs[0]!));
    return report.errors === 0;
  }, JOIN_TIMEOUT_MS);
  await checkAndPrint(nodes, addrs[0]!);
}

/** CLUSTER MEET takes an IP address (Redis 7.0 resolves no names): resolve a host name first. */
async function meetHost(host: string): Promise<string> {
  if (/^[0-9.]+$/.test(host) || host.includes(":")) return host;
  if (host === "localhost") return "127.0.0.1";
  try {
    return (await Deno.resolveDns(host, "A"))[0] ?? host;
  } catch {
    return host; // let the node give its own error
  }
}

async function addSlots(nodes: Nodes, addr: string, start: number, end: number): Promise<void> {
  try {
    await nodes.call(addr, "CLUSTER", "ADDSLOTSRANGE", start, end);
  } catch (e) {
    if (!(e instanceof ReplyError) || !/unknown subcommand/i.test(e.message)) throw e;
    const slots: number[] = [];
    for (let s = start; s <= end; s++) slots.push(s);
    await nodes.call(addr, "CLUSTER", "ADDSLOTS", ...slots);
  }
}

// ---- check ----

async function keysIn(nodes: Nodes, addr: string): Promise<number> {
  return Number(await nodes.call(addr, "DBSIZE").catch(() => 0));
}

/** Prints the cluster check (as redis-cli --cluster check does); returns the report. */
export async function checkAndPrint(nodes: Nodes, entry: string): Promise<CheckReport> {
  const out = nodes.opts.out;
  const views = await nodes.views(entry);
  const known = views[0]!.known;
  const masters = known.filter(isMaster).filter((n) => !n.flags.includes("fail"));
  let keys = 0;
  for (const m of masters) {
    const k = await keysIn(nodes, m.addr);
    keys += k;
    const reps = known.filter((n) => n.master === m.id).length;
    out(
      `${m.addr} (${m.id.slice(0, 8)}...) -> ${k} keys | ${m.slots.length} slots | ${reps} slaves.`,
    );
  }
  out(`[OK] ${keys} keys in ${masters.length} masters.`);
  out(`${(keys / 16384).toFixed(2)} keys per slot on average.`);
  out(`>>> Performing Cluster Check (using node ${entry})`);
  for (const n of known) {
    const tag = isMaster(n) ? "M" : "S";
    out(`${tag}: ${n.id} ${n.addr}`);
    out(
      `   slots:${n.slots.length ? `[${formatRanges(n.slots).split(",").join("],[")}]` : ""} ` +
        `(${n.slots.length} slots) ${isMaster(n) ? "master" : "slave"}`,
    );
    if (!isMaster(n)) out(`   replicates ${n.master}`);
    else {
      const reps = known.filter((x) => x.master === n.id).length;
      if (reps > 0) out(`   ${reps} additional replica(s)`);
    }
    if (n.flags.includes("fail")) out(`[WARNING] Node ${n.addr} is in a failed state.`);
  }
  const report = checkCluster(views);
  for (const l of report.lines) out(l);
  return report;
}

// ---- moving slots ----

function nodeById(known: readonly NodeInfo[], id: string): NodeInfo {
  const n = known.find((x) => x.id === id);
  if (!n) throw new ManagerError(`node ${id} is not known`);
  return n;
}

/**
 * Moves one slot with its keys: target IMPORTING, source MIGRATING, keys in batches of
 * `pipeline` with MIGRATE ... KEYS, then SETSLOT NODE on target, source and every other master.
 */
export async function moveSlot(
  nodes: Nodes,
  known: readonly NodeInfo[],
  move: SlotMove,
  pipeline: number,
): Promise<number> {
  const src = nodeById(known, move.from);
  const dst = nodeById(known, move.to);
  await nodes.call(dst.addr, "CLUSTER", "SETSLOT", move.slot, "IMPORTING", src.id);
  await nodes.call(src.addr, "CLUSTER", "SETSLOT", move.slot, "MIGRATING", dst.id);
  let moved = 0;
  for (let round = 0; round < MAX_MIGRATE_ROUNDS; round++) {
    const keys = await nodes.call(src.addr, "CLUSTER", "GETKEYSINSLOT", move.slot, pipeline);
    if (!Array.isArray(keys) || keys.length === 0) break;
    const auth = nodes.opts.password ? ["AUTH", nodes.opts.password] : [];
    await nodes.call(
      src.addr,
      "MIGRATE",
      dst.host,
      dst.port,
      "",
      0,
      MIGRATE_TIMEOUT_MS,
      ...auth,
      "KEYS",
      ...(keys as string[]),
    );
    moved += keys.length;
  }
  await nodes.call(dst.addr, "CLUSTER", "SETSLOT", move.slot, "NODE", dst.id);
  await nodes.call(src.addr, "CLUSTER", "SETSLOT", move.slot, "NODE", dst.id);
  for (const m of known.filter(isMaster)) {
    if (m.id === src.id || m.id === dst.id || m.flags.includes("fail")) continue;
    await nodes.call(m.addr, "CLUSTER", "SETSLOT", move.slot, "NODE", dst.id).catch(() => {});
  }
  return moved;
}

/** Carries out moves, printing one line per slot as redis-cli does. */
export async function runMoves(
  nodes: Nodes,
  known: readonly NodeInfo[],
  moves: readonly SlotMove[],
  pipeline: number,
): Promise<void> {
  const out = nodes.opts.out;
  for (const g of groupMoves(moves)) {
    const from = nodeById(known, g.from), to = nodeById(known, g.to);
    out(`Moving ${g.slots.length} slots from ${from.addr} to ${to.addr}`);
    for (const slot of g.slots) {
      out(`Moving slot ${slot} from ${from.addr} to ${to.addr}: `);
      await moveSlot(nodes, known, { slot, from: g.from, to: g.to }, pipeline);
    }
  }
}

/**
 * Plans and runs a reshard of `count` slots from `from` (ids, or every other master) to `to`.
 * False when `confirm` declines. Throws ManagerError when the plan is impossible.
 */
export async function reshardSlots(
  nodes: Nodes,
  entry: string,
  from: string[] | "all",
  to: string,
  count: number,
  pipeline: number,
  confirm: () => Promise<boolean> = () => Promise.resolve(true),
): Promise<boolean> {
  const known = (await nodes.view(entry)).known;
  const masters = known.filter((n) => isMaster(n) && !n.flags.includes("fail"));
  const sources = from === "all" ? masters.map((m) => m.id) : from;
  const moves = planReshard(masters, sources, to, count);
  if (typeof moves === "string") throw new ManagerError(moves);
  nodes.opts.out(`Ready to move ${moves.length} slots.`);
  if (!(await confirm())) return false;
  await runMoves(nodes, known, moves, pipeline);
  return true;
}

// ---- fix ----

/** Closes open slots and assigns uncovered ones; returns how many problems it fixed. */
export async function fixCluster(nodes: Nodes, entry: string, pipeline: number): Promise<number> {
  const out = nodes.opts.out;
  const views = await nodes.views(entry);
  const report = checkCluster(views);
  const known = views[0]!.known;
  const masters = known.filter((n) => isMaster(n) && !n.flags.includes("fail"));
  let fixed = 0;
  for (const slot of report.open) {
    out(`>>> Fixing open slot ${slot}`);
    const owner = masters.find((m) => m.slots.includes(slot));
    const migrating = views.find((v) => v.self.migrating.has(slot))?.self;
    const importing = views.find((v) => v.self.importing.has(slot))?.self;
    if (owner && migrating && importing && migrating.id === owner.id) {
      // An interrupted move: finish it.
      await moveSlot(nodes, known, { slot, from: owner.id, to: importing.id }, pipeline);
    } else {
      // Anything else: every node forgets the open state; the owner keeps the slot.
      for (const v of views) {
        if (v.self.migrating.has(slot) || v.self.importing.has(slot)) {
          await nodes.call(v.self.addr, "CLUSTER", "SETSLOT", slot, "STABLE");
        }
      }
    }
    fixed++;
  }
  if (report.uncovered.length > 0) {
    out(`>>> Fixing slots coverage...`);
    out(
      `The following uncovered slots have no keys across the cluster: ${
        formatRanges(report.uncovered)
      }`,
    );
    const plan = planCoverage(masters, report.uncovered);
    const byNode = new Map<string, number[]>();
    for (const [slot, id] of plan) byNode.set(id, [...(byNode.get(id) ?? []), slot]);
    for (const [id, slots] of byNode) {
      const n = nodeById(known, id);
      out(`>>> Covering slots ${formatRanges(slots)} with ${n.addr}`);
      for (let i = 0; i < slots.length; i += 1000) {
        await nodes.call(n.addr, "CLUSTER", "ADDSLOTS", ...slots.slice(i, i + 1000));
      }
      await nodes.call(n.addr, "CLUSTER", "BUMPEPOCH").catch(() => {});
    }
    fixed += report.uncovered.length;
  }
  return fixed;
}

export { isMaster };
