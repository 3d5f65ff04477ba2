/**
 * The proxy's view of a cluster: which node serves each of the 16384 slots, and the replicas of
 * each master. Pure: built from a CLUSTER SLOTS reply, patched by a MOVED redirection.
 */
import { CLUSTER_SLOTS } from "../../shared/slots.ts";
import { RespError, type RespValue } from "../../shared/resp/mod.ts";

/** A node's address as `host:port` (what MOVED and ASK name). */
export type Addr = string;

export interface SlotRange {
  start: number;
  end: number;
  master: Addr;
  masterId: string;
  replicas: Addr[];
}

export interface SlotMap {
  /** The master serving each slot, or null when no node serves it. */
  owners: (Addr | null)[];
  ranges: SlotRange[];
}

export function emptySlotMap(): SlotMap {
  return { owners: new Array<Addr | null>(CLUSTER_SLOTS).fill(null), ranges: [] };
}

/** `host:port`, with brackets for IPv6 hosts left as Redis prints them (no brackets). */
export function addrOf(host: string, port: number): Addr {
  return `${host}:${port}`;
}

/** Splits `host:port` at the last colon; null when it is not an address. */
export function splitAddr(addr: string): { host: string; port: number } | null {
  const i = addr.lastIndexOf(":");
  if (i <= 0) return null;
  const port = Number(addr.slice(i + 1));
  if (!Number.isInteger(port) || port < 1 || port > 65535) return null;
  return { host: addr.slice(0, i), port };
}

function nodeOf(v: RespValue, fallbackHost: string): { addr: Addr; id: string } | null {
  if (!Array.isArray(v) || v.length < 2) return null;
  const host = typeof v[0] === "string" ? v[0] : String(v[0] ?? "");
  const port = v[1];
  if (typeof port !== "number") return null;
  // An empty or "?" host means "the address you reached me at" (cluster-preferred-endpoint).
  const h = host === "" || host === "?" ? fallbackHost : host;
  return { addr: addrOf(h, port), id: typeof v[2] === "string" ? v[2] : "" };
}

/** The map described by a CLUSTER SLOTS reply, or an error text when the reply is not one. */
export function parseClusterSlots(reply: RespValue, fallbackHost: string): SlotMap | string {
  if (reply instanceof RespError) return reply.message;
  if (!Array.isArray(reply)) return "CLUSTER SLOTS reply is not an array";
  const map = emptySlotMap();
  for (const r of reply) {
    if (!Array.isArray(r) || r.length < 3) return "malformed CLUSTER SLOTS entry";
    const [start, end] = r;
    if (
      typeof start !== "number" || typeof end !== "number" || start < 0 || end < start ||
      end >= CLUSTER_SLOTS
    ) {
      return "malformed CLUSTER SLOTS range";
    }
    const master = nodeOf(r[2]!, fallbackHost);
    if (!master) return "malformed CLUSTER SLOTS node";
    const replicas: Addr[] = [];
    for (const x of r.slice(3)) {
      const n = nodeOf(x, fallbackHost);
      if (n) replicas.push(n.addr);
    }
    map.ranges.push({ start, end, master: master.addr, masterId: master.id, replicas });
    for (let s = start; s <= end; s++) map.owners[s] = master.addr;
  }
  map.ranges.sort((a, b) => a.start - b.start);
  return map;
}

/** The masters that serve at least one slot, in slot order. */
export function mastersOf(map: SlotMap): Addr[] {
  return [...new Set(map.ranges.map((r) => r.master))];
}

/** Every node the map names (masters and replicas). */
export function nodesOf(map: SlotMap): Addr[] {
  return [...new Set(map.ranges.flatMap((r) => [r.master, ...r.replicas]))];
}

/** Slots with no owner. */
export function uncoveredSlots(map: SlotMap): number {
  let n = 0;
  for (const o of map.owners) if (o === null) n++;
  return n;
}

export interface Redirect {
  kind: "MOVED" | "ASK";
  slot: number;
  addr: Addr;
}

/** A MOVED or ASK error's slot and target; null for any other reply. */
export function parseRedirect(v: RespValue): Redirect | null {
  if (!(v instanceof RespError)) return null;
  const m = /^(MOVED|ASK) (\d+) (\S+)$/.exec(v.message);
  if (!m) return null;
  const slot = Number(m[2]);
  if (slot >= CLUSTER_SLOTS || !splitAddr(m[3]!)) return null;
  return { kind: m[1] as "MOVED" | "ASK", slot, addr: m[3]! };
}

/** The map after a MOVED: the slot now belongs to `addr` (until the next full refresh). */
export function applyMoved(map: SlotMap, slot: number, addr: Addr): void {
  map.owners[slot] = addr;
}
