/**
 * A cluster node's view of the cluster, as Redis 7.0 keeps it: the known nodes (itself
 * included), which node serves each of the 16384 slots, slots being migrated or imported, and
 * the epochs. nodes.conf is this state written out (nodes_conf.ts), and CLUSTER NODES shows it.
 */
import { CLUSTER_SLOTS as SLOT_COUNT } from "../../shared/slots.ts";
import { NODE_FLAG } from "./bus_codec.ts";

/** Node flags, with Redis's bit values (they travel in bus messages). */
export const F = NODE_FLAG;

export interface ClusterNode {
  name: string;
  ip: string;
  port: number;
  cport: number;
  pport: number;
  hostname: string;
  flags: number;
  /** The master's name, for a replica. */
  slaveof: string | null;
  configEpoch: bigint;
  /** When our unanswered PING went out (0: none pending), and the last PONG came. */
  pingSent: number;
  pongReceived: number;
  /** Last time anything came from it. */
  dataReceived: number;
  /** The outbound link is up. */
  linkUp: boolean;
  /** The slots it claims (a bitmap as on the bus). */
  slots: Uint8Array;
  numSlots: number;
  /** Masters that reported it PFAIL or FAIL, and when. */
  failReports: Map<string, number>;
  failTime: number;
  replOffset: bigint;
  /** When we last voted for one of its replicas (one vote per 2 × node timeout). */
  votedTime: number;
  /** When it entered the handshake (a handshake node that never answers is dropped). */
  ctime: number;
}

export function randomName(): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(20)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

export function newNode(name: string, flags: number, now: number): ClusterNode {
  return {
    name,
    ip: "",
    port: 0,
    cport: 0,
    pport: 0,
    hostname: "",
    flags,
    slaveof: null,
    configEpoch: 0n,
    pingSent: 0,
    pongReceived: 0,
    dataReceived: 0,
    linkUp: false,
    slots: new Uint8Array(SLOT_COUNT / 8),
    numSlots: 0,
    failReports: new Map(),
    failTime: 0,
    replOffset: 0n,
    votedTime: 0,
    ctime: now,
  };
}

export function hasSlot(bitmap: Uint8Array, slot: number): boolean {
  return (bitmap[slot >> 3]! & (1 << (slot & 7))) !== 0;
}

function setBit(bitmap: Uint8Array, slot: number, on: boolean): void {
  if (on) bitmap[slot >> 3]! |= 1 << (slot & 7);
  else bitmap[slot >> 3]! &= ~(1 << (slot & 7));
}

export const isMaster = (n: ClusterNode) => (n.flags & F.MASTER) !== 0;
export const isReplica = (n: ClusterNode) => (n.flags & F.SLAVE) !== 0;
export const isFailed = (n: ClusterNode) => (n.flags & F.FAIL) !== 0;

export class ClusterState {
  readonly nodes = new Map<string, ClusterNode>();
  currentEpoch = 0n;
  lastVoteEpoch = 0n;
  /** The node serving each slot. */
  readonly owner: (ClusterNode | null)[] = new Array(SLOT_COUNT).fill(null);
  readonly migrating = new Map<number, ClusterNode>();
  readonly importing = new Map<number, ClusterNode>();
  state: "ok" | "fail" = "fail";
  /** Masters serving at least one slot (cluster_size). */
  size = 0;
  /** Called whenever something nodes.conf records changes. */
  onChange: () => void = () => {};
  /** Called when a slot our shard served is taken away from it. */
  onShardSlotLost: (slot: number) => void = () => {};

  constructor(public myself: ClusterNode) {
    this.nodes.set(myself.name, myself);
  }

  addNode(n: ClusterNode): void {
    this.nodes.set(n.name, n);
  }

  /** Removes a node: its slots become unassigned, and reports by it are dropped. */
  delNode(n: ClusterNode): void {
    for (let s = 0; s < SLOT_COUNT; s++) {
      if (this.owner[s] === n) this.owner[s] = null;
      if (this.migrating.get(s) === n) this.migrating.delete(s);
      if (this.importing.get(s) === n) this.importing.delete(s);
    }
    for (const o of this.nodes.values()) o.failReports.delete(n.name);
    this.nodes.delete(n.name);
  }

  /** A handshake node that answered with its real name takes it. */
  rename(n: ClusterNode, name: string): void {
    this.nodes.delete(n.name);
    n.name = name;
    this.nodes.set(name, n);
  }

  addSlot(n: ClusterNode, slot: number): boolean {
    if (this.owner[slot]) return false;
    this.owner[slot] = n;
    setBit(n.slots, slot, true);
    n.numSlots++;
    return true;
  }

  delSlot(slot: number): boolean {
    const n = this.owner[slot];
    if (!n) return false;
    // Our shard no longer serves it: its shard channels go (Redis's removeChannelsInSlot).
    const m = isMaster(n) ? n : this.masterOf(n);
    if (m && (m === this.myself || this.myself.slaveof === m.name)) this.onShardSlotLost(slot);
    setBit(n.slots, slot, false);
    n.numSlots--;
    this.owner[slot] = null;
    return true;
  }

  /** Gives `slot` to `n`, whoever had it. */
  moveSlot(slot: number, n: ClusterNode): void {
    if (this.owner[slot] === n) return;
    this.delSlot(slot);
    this.addSlot(n, slot);
  }

  masterOf(n: ClusterNode): ClusterNode | null {
    return n.slaveof ? this.nodes.get(n.slaveof) ?? null : null;
  }

  /**
   * A master's replicas, by name: every node lists them in the same order (CLUSTER SLOTS,
   * SHARDS), whatever order it learned them in. (Redis lists them in the order it learned them,
   * which differs between nodes whose replicas were set up at once.)
   */
  replicasOf(n: ClusterNode): ClusterNode[] {
    return [...this.nodes.values()].filter((x) => x.slaveof === n.name && isReplica(x))
      .sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  }

  /** Makes `n` a replica of `master` (or a master when null). */
  setRole(n: ClusterNode, master: ClusterNode | null): void {
    if (master) {
      n.flags = (n.flags & ~F.MASTER) | F.SLAVE;
      n.slaveof = master.name;
    } else {
      n.flags = (n.flags & ~F.SLAVE) | F.MASTER;
      n.slaveof = null;
    }
  }

  /**
   * cluster_state: ok when every slot is served by a master that is not FAIL (unless
   * cluster-require-full-coverage is off) and this node sees a majority of the masters that
   * serve slots (a minority partition stops serving, as in Redis).
   */
  updateState(requireFullCoverage: boolean): void {
    let ok = true;
    // Every slot has one owner at most, and each node counts the slots it owns (addSlot,
    // delSlot): all 16384 are served by nodes not FAIL when those nodes' counts add up to it.
    // (This runs after every change, on every bus message that changes something: a walk of
    // the 16384 slots each time was a large part of a reshard's bookkeeping.)
    let served = 0, size = 0, reachable = 0;
    for (const n of this.nodes.values()) {
      if (n.numSlots === 0) continue;
      if (!isFailed(n)) served += n.numSlots;
      if (!isMaster(n)) continue;
      size++;
      if ((n.flags & (F.FAIL | F.PFAIL)) === 0) reachable++;
    }
    if (requireFullCoverage && served !== SLOT_COUNT) ok = false;
    this.size = size;
    if (size > 0 && reachable < Math.floor(size / 2) + 1) ok = false;
    if (size === 0) ok = false;
    this.state = ok ? "ok" : "fail";
  }

  /** Slot counts for CLUSTER INFO. */
  slotCounts(): { assigned: number; ok: number; pfail: number; fail: number } {
    let assigned = 0, ok = 0, pfail = 0, fail = 0;
    for (const o of this.owner) {
      if (!o) continue;
      assigned++;
      if (o.flags & F.FAIL) fail++;
      else if (o.flags & F.PFAIL) pfail++;
      else ok++;
    }
    return { assigned, ok, pfail, fail };
  }
}

/** The flags field of CLUSTER NODES and nodes.conf. */
export function flagsText(n: ClusterNode): string {
  const f: string[] = [];
  if (n.flags & F.MYSELF) f.push("myself");
  if (n.flags & F.MASTER) f.push("master");
  if (n.flags & F.SLAVE) f.push("slave");
  if (n.flags & F.PFAIL) f.push("fail?");
  if (n.flags & F.FAIL) f.push("fail");
  if (n.flags & F.HANDSHAKE) f.push("handshake");
  if (n.flags & F.NOADDR) f.push("noaddr");
  if (n.flags & F.NOFAILOVER) f.push("nofailover");
  return f.length ? f.join(",") : "noflags";
}

/** Slot ranges ("0-5460 5461 ...") of a bitmap. */
export function slotRanges(bitmap: Uint8Array): [number, number][] {
  const out: [number, number][] = [];
  let start = -1;
  // A byte at a time: whole bytes of set or clear bits (most of them) need no bit test.
  for (let byte = 0; byte < SLOT_COUNT / 8; byte++) {
    const v = bitmap[byte]!;
    if (v === 0xff) {
      if (start < 0) start = byte << 3;
      continue;
    }
    if (v === 0) {
      if (start >= 0) {
        out.push([start, (byte << 3) - 1]);
        start = -1;
      }
      continue;
    }
    for (let bit = 0; bit < 8; bit++) {
      const s = (byte << 3) | bit;
      if (v & (1 << bit)) {
        if (start < 0) start = s;
      } else if (start >= 0) {
        out.push([start, s - 1]);
        start = -1;
      }
    }
  }
  if (start >= 0) out.push([start, SLOT_COUNT - 1]);
  return out;
}

/** The last slots field written for each bitmap: a node's slots rarely change between saves. */
const slotsTextCache = new WeakMap<Uint8Array, { words: BigUint64Array; text: string }>();

/** The slots field of a node line ("0-5460 5461 ..."; "" for none), kept until they change. */
function slotsText(bitmap: Uint8Array): string {
  if (bitmap.byteOffset % 8 !== 0 || bitmap.length % 8 !== 0) return rangesText(bitmap);
  const words = new BigUint64Array(bitmap.buffer, bitmap.byteOffset, bitmap.length >> 3);
  const hit = slotsTextCache.get(bitmap);
  if (hit) {
    let same = true;
    for (let i = 0; i < words.length; i++) {
      if (words[i] !== hit.words[i]) {
        same = false;
        break;
      }
    }
    if (same) return hit.text;
  }
  const text = rangesText(bitmap);
  slotsTextCache.set(bitmap, { words: words.slice(), text });
  return text;
}

function rangesText(bitmap: Uint8Array): string {
  return slotRanges(bitmap).map(([a, b]) => a === b ? String(a) : `${a}-${b}`).join(" ");
}

/** One CLUSTER NODES / nodes.conf line. */
export function nodeLine(st: ClusterState, n: ClusterNode, now: number, forFile: boolean): string {
  const addr = `${n.ip}:${n.port}@${n.cport}${n.hostname ? `,${n.hostname}` : ""}`;
  const myself = (n.flags & F.MYSELF) !== 0;
  const link = myself || n.linkUp ? "connected" : "disconnected";
  const parts = [
    n.name,
    addr,
    flagsText(n),
    n.slaveof ?? "-",
    String(forFile ? 0 : n.pingSent),
    String(forFile ? 0 : n.pongReceived),
    // A replica shows its master's epoch, as Redis does.
    String((n.slaveof ? st.nodes.get(n.slaveof)?.configEpoch : undefined) ?? n.configEpoch),
    link,
  ];
  const slots = slotsText(n.slots);
  if (slots) parts.push(slots);
  if (myself) {
    for (const [s, to] of st.migrating) parts.push(`[${s}->-${to.name}]`);
    for (const [s, from] of st.importing) parts.push(`[${s}-<-${from.name}]`);
  }
  void now;
  return parts.join(" ");
}
