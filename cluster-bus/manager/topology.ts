/**
 * A cluster as the manager sees it: each node's own CLUSTER NODES line, parsed. Pure.
 */
import { CLUSTER_SLOTS } from "../../shared/slots.ts";

export interface NodeInfo {
  id: string;
  host: string;
  port: number;
  /** `host:port` */
  addr: string;
  flags: string[];
  /** The master's id, or "-". */
  master: string;
  configEpoch: number;
  link: string;
  /** Slots served, ascending. */
  slots: number[];
  /** Open slots: slot -> the other node's id. */
  migrating: Map<number, string>;
  importing: Map<number, string>;
}

export function isMaster(n: NodeInfo): boolean {
  return n.flags.includes("master");
}

export function isFailed(n: NodeInfo): boolean {
  return n.flags.includes("fail") || n.flags.includes("noaddr");
}

/** One CLUSTER NODES line; null when it is not one. */
export function parseNodeLine(line: string): NodeInfo | null {
  const w = line.trim().split(" ");
  if (w.length < 8) return null;
  const addrPart = w[1]!.split(",")[0]!.split("@")[0]!;
  const i = addrPart.lastIndexOf(":");
  const host = addrPart.slice(0, i);
  const port = Number(addrPart.slice(i + 1));
  const n: NodeInfo = {
    id: w[0]!,
    host,
    port,
    addr: `${host}:${port}`,
    flags: w[2]!.split(","),
    master: w[3]!,
    configEpoch: Number(w[6]) || 0,
    link: w[7]!,
    slots: [],
    migrating: new Map(),
    importing: new Map(),
  };
  for (const s of w.slice(8)) {
    const open = /^\[(\d+)-([<>])-([0-9a-f]+)\]$/.exec(s);
    if (open) {
      (open[2] === ">" ? n.migrating : n.importing).set(Number(open[1]), open[3]!);
      continue;
    }
    const [a, b] = s.split("-");
    const start = Number(a), end = b === undefined ? start : Number(b);
    if (!Number.isInteger(start) || !Number.isInteger(end)) continue;
    for (let x = start; x <= end && x < CLUSTER_SLOTS; x++) n.slots.push(x);
  }
  return n;
}

export interface NodeView {
  /** The node itself (the `myself` line). */
  self: NodeInfo;
  /** Every node it knows, itself included. */
  known: NodeInfo[];
}

/** A node's CLUSTER NODES text as its own line plus the others. */
export function parseNodesText(text: string): NodeView | null {
  const known = text.split("\n").map(parseNodeLine).filter((n): n is NodeInfo => n !== null);
  const self = known.find((n) => n.flags.includes("myself"));
  return self ? { self, known } : null;
}

/** Slots as Redis prints them: `0-5460,5462`. */
export function formatRanges(slots: readonly number[]): string {
  const out: string[] = [];
  const sorted = [...slots].sort((a, b) => a - b);
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    out.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return out.join(",");
}

/**
 * What a node believes about slot ownership: each master with slots and its ranges, sorted.
 * Two nodes agree when their signatures are equal.
 */
export function configSignature(view: NodeView): string {
  return view.known
    .filter((n) => n.slots.length > 0)
    .map((n) => `${n.id}:${formatRanges(n.slots)}`)
    .sort()
    .join("|");
}
