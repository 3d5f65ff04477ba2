/**
 * The manager's pure planning: slot allocation for a new cluster, replica placement, the checks
 * `check` reports, and the slot moves of reshard and rebalance. Input is data (the nodes' views),
 * output is data; cluster.ts carries it out.
 */
import { CLUSTER_SLOTS } from "../../shared/slots.ts";
import { configSignature, isMaster, type NodeInfo, type NodeView } from "./topology.ts";

/** Even contiguous ranges of the 16384 slots over n masters (the first ones take the rest). */
export function allocateSlots(n: number): { start: number; end: number }[] {
  if (n < 1) return [];
  const out: { start: number; end: number }[] = [];
  let start = 0;
  for (let i = 0; i < n; i++) {
    const size = Math.floor(CLUSTER_SLOTS / n) + (i < CLUSTER_SLOTS % n ? 1 : 0);
    out.push({ start, end: start + size - 1 });
    start += size;
  }
  return out;
}

export interface Endpoint {
  host: string;
  port: number;
}

/**
 * Which nodes become masters and which replica follows which master: masters are spread over
 * hosts, and a replica goes to a master on another host when there is one (else another port).
 * Returns the master indexes and, for each replica index, its master's index.
 */
export function placeNodes(
  nodes: readonly Endpoint[],
  replicas: number,
): { masters: number[]; replicaOf: Map<number, number> } | string {
  const nMasters = Math.floor(nodes.length / (replicas + 1));
  if (nMasters < 3) {
    return `*** ERROR: Invalid configuration for cluster creation.\n` +
      `*** Redis Cluster requires at least 3 master nodes.\n` +
      `*** This is not possible with ${nodes.length} nodes and ${replicas} replicas per node.\n` +
      `*** At least ${3 * (replicas + 1)} nodes are required.`;
  }
  // Round-robin over hosts so that masters land on as many hosts as possible.
  const byHost = new Map<string, number[]>();
  nodes.forEach((n, i) => {
    const list = byHost.get(n.host) ?? [];
    list.push(i);
    byHost.set(n.host, list);
  });
  const order: number[] = [];
  const queues = [...byHost.values()];
  while (order.length < nodes.length) {
    for (const q of queues) if (q.length > 0) order.push(q.shift()!);
  }
  const masters = order.slice(0, nMasters);
  const rest = order.slice(nMasters);
  // The k-th replica follows master k + 1 (mod masters): with nodes taken round-robin over
  // hosts, a replica then sits on another host than its master whenever that is possible.
  const replicaOf = new Map<number, number>();
  rest.forEach((r, k) => {
    let m = masters[(k + 1) % nMasters]!;
    if (nodes[m]!.host === nodes[r]!.host) {
      // Same host: any master of another host with fewer than `replicas` replicas instead.
      const count = (x: number) => [...replicaOf.values()].filter((v) => v === x).length;
      m = masters.find((x) => nodes[x]!.host !== nodes[r]!.host && count(x) < replicas) ?? m;
    }
    replicaOf.set(r, m);
  });
  return { masters, replicaOf };
}

export interface CheckReport {
  /** Lines to print, as `redis-cli --cluster check` words them. */
  lines: string[];
  errors: number;
  /** Slots no node serves. */
  uncovered: number[];
  /** Slots some node has in migrating or importing state. */
  open: number[];
}

/** The check of a cluster from every reachable node's view (the entry node's view first). */
export function checkCluster(views: readonly NodeView[]): CheckReport {
  const lines: string[] = [];
  let errors = 0;
  const entry = views[0];
  if (!entry) return { lines: ["[ERR] No node answered."], errors: 1, uncovered: [], open: [] };
  const signatures = new Set(views.map(configSignature));
  if (signatures.size === 1) lines.push("[OK] All nodes agree about slots configuration.");
  else {
    lines.push("[ERR] Nodes don't agree about configuration!");
    errors++;
  }
  lines.push(">>> Check for open slots...");
  const open = new Set<number>();
  for (const v of views) {
    const n = v.self;
    if (n.migrating.size > 0) {
      lines.push(
        `[WARNING] Node ${n.addr} has slots in migrating state ${
          [...n.migrating.keys()].join(",")
        }.`,
      );
    }
    if (n.importing.size > 0) {
      lines.push(
        `[WARNING] Node ${n.addr} has slots in importing state ${
          [...n.importing.keys()].join(",")
        }.`,
      );
    }
    for (const s of [...n.migrating.keys(), ...n.importing.keys()]) open.add(s);
  }
  if (open.size > 0) {
    lines.push(
      `[WARNING] The following slots are open: ${[...open].sort((a, b) => a - b).join(",")}.`,
    );
    errors++;
  }
  lines.push(">>> Check slots coverage...");
  const covered = new Set<number>();
  for (const n of entry.known) if (isMaster(n)) { for (const s of n.slots) covered.add(s); }
  const uncovered: number[] = [];
  for (let s = 0; s < CLUSTER_SLOTS; s++) if (!covered.has(s)) uncovered.push(s);
  if (uncovered.length === 0) lines.push(`[OK] All ${CLUSTER_SLOTS} slots covered.`);
  else {
    lines.push(`[ERR] Not all ${CLUSTER_SLOTS} slots are covered by nodes.`);
    errors++;
  }
  return { lines, errors, uncovered, open: [...open].sort((a, b) => a - b) };
}

export interface SlotMove {
  slot: number;
  from: string;
  to: string;
}

/**
 * The slots a reshard moves: `count` slots to `to`, taken from `from` (ids) in proportion to
 * how many each has (the largest remainder gets the rounding), each source's highest slots first.
 */
export function planReshard(
  masters: readonly NodeInfo[],
  from: readonly string[],
  to: string,
  count: number,
): SlotMove[] | string {
  if (!masters.some((m) => m.id === to)) {
    return `*** The specified node (${to}) is not known or not a master, please retry.`;
  }
  const sources = masters.filter((m) => from.includes(m.id) && m.id !== to && m.slots.length > 0);
  if (sources.length === 0) return "*** No source nodes given, or they hold no slots.";
  const total = sources.reduce((a, m) => a + m.slots.length, 0);
  if (count < 1 || count > total) {
    return `*** The number of slots must be between 1 and ${total} (what the sources hold).`;
  }
  const shares = sources.map((m) => ({ m, exact: (count * m.slots.length) / total }));
  const take = shares.map((s) => Math.floor(s.exact));
  let left = count - take.reduce((a, b) => a + b, 0);
  const byRemainder = shares.map((s, i) => ({ i, r: s.exact - Math.floor(s.exact) }))
    .sort((a, b) => b.r - a.r);
  for (const { i } of byRemainder) {
    if (left === 0) break;
    if (take[i]! < sources[i]!.slots.length) {
      take[i]!++;
      left--;
    }
  }
  const moves: SlotMove[] = [];
  sources.forEach((m, i) => {
    const slots = [...m.slots].sort((a, b) => a - b);
    for (const slot of slots.slice(slots.length - take[i]!)) moves.push({ slot, from: m.id, to });
  });
  return moves;
}

/**
 * Rebalance: each master's target share is proportional to its weight (weight 0 empties it).
 * Masters whose count is off by less than `thresholdPct` percent of their target are left alone
 * (unless another one is over it). Returns the moves, largest donors to largest receivers.
 */
export function planRebalance(
  masters: readonly NodeInfo[],
  weights: ReadonlyMap<string, number>,
  thresholdPct: number,
  useEmptyMasters: boolean,
): SlotMove[] {
  const eligible = masters.filter((m) =>
    useEmptyMasters || m.slots.length > 0 || (weights.get(m.id) ?? 0) > 0
  );
  const totalWeight = eligible.reduce((a, m) => a + (weights.get(m.id) ?? 1), 0);
  if (totalWeight <= 0 || eligible.length === 0) return [];
  const held = eligible.reduce((a, m) => a + m.slots.length, 0);
  const targets = eligible.map((m) => ({
    m,
    target: Math.floor((held * (weights.get(m.id) ?? 1)) / totalWeight),
  }));
  // Hand the rounding leftover to the heaviest masters, one slot each.
  let rest = held - targets.reduce((a, t) => a + t.target, 0);
  for (
    const t of [...targets].sort((a, b) => (weights.get(b.m.id) ?? 1) - (weights.get(a.m.id) ?? 1))
  ) {
    if (rest === 0) break;
    if ((weights.get(t.m.id) ?? 1) > 0) {
      t.target++;
      rest--;
    }
  }
  const over = targets.some((t) => {
    const diff = Math.abs(t.m.slots.length - t.target);
    return t.target === 0 ? diff > 0 : (diff * 100) / t.target > thresholdPct;
  });
  if (!over) return [];
  const donors = targets.filter((t) => t.m.slots.length > t.target)
    .map((t) => ({
      id: t.m.id,
      slots: [...t.m.slots].sort((a, b) => b - a),
      give: t.m.slots.length - t.target,
    }));
  const takers = targets.filter((t) => t.m.slots.length < t.target)
    .map((t) => ({ id: t.m.id, need: t.target - t.m.slots.length }));
  const moves: SlotMove[] = [];
  let d = 0;
  for (const t of takers) {
    while (t.need > 0 && d < donors.length) {
      const donor = donors[d]!;
      if (donor.give === 0) {
        d++;
        continue;
      }
      moves.push({ slot: donor.slots.shift()!, from: donor.id, to: t.id });
      donor.give--;
      t.need--;
    }
  }
  return moves;
}

/** Consecutive moves between the same two nodes, for progress lines. */
export function groupMoves(
  moves: readonly SlotMove[],
): { from: string; to: string; slots: number[] }[] {
  const out: { from: string; to: string; slots: number[] }[] = [];
  for (const m of moves) {
    const last = out[out.length - 1];
    if (last && last.from === m.from && last.to === m.to) last.slots.push(m.slot);
    else out.push({ from: m.from, to: m.to, slots: [m.slot] });
  }
  return out;
}

/**
 * Fix for uncovered slots: each goes to the master holding the fewest slots (the nodes that
 * have keys in it are preferred by the caller, which knows about keys).
 */
export function planCoverage(
  masters: readonly NodeInfo[],
  uncovered: readonly number[],
): Map<number, string> {
  const load = new Map(masters.map((m) => [m.id, m.slots.length]));
  const out = new Map<number, string>();
  for (const s of uncovered) {
    let best: string | null = null;
    for (const [id, n] of load) if (best === null || n < load.get(best)!) best = id;
    if (best === null) break;
    out.set(s, best);
    load.set(best, load.get(best)! + 1);
  }
  return out;
}
