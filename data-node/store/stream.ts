/**
 * Stream values. An entry ID is one 128-bit bigint (milliseconds in the high 64 bits, the
 * sequence in the low 64), so IDs compare and increment as plain numbers. Entries live in
 * nodes, as Redis's listpacks in a radix tree: a node takes new entries until it holds
 * stream-node-max-entries of them (deleted ones included) or its estimated listpack size
 * reaches stream-node-max-bytes. Node boundaries matter to what clients see: approximate
 * trimming (MAXLEN ~, MINID ~) removes whole nodes only, and a node goes away once all its
 * entries are deleted. Each node keeps its master fields (the first entry's field names),
 * which the RDB encoding uses for its delta and same-fields compression.
 *
 * Consumer groups keep their pending entries list (PEL) in a map by ID, each entry also
 * listed under its consumer; ordered views are sorted on demand.
 */
import { AggregateValue } from "./types.ts";
import { LP_HEADER, lpAtEnd, lpBuild, lpGet, lpNext } from "./listpack.ts";

/** A listpack header count meaning "count the elements" (more than 65534 of them). */
const LP_COUNT_UNKNOWN = 65535;

export const SEQ_MASK = (1n << 64n) - 1n;
export const ID_MAX = (1n << 128n) - 1n;
/** A group's entries-read counter when it is not known (Redis's SCG_INVALID_ENTRIES_READ). */
export const INVALID_ENTRIES_READ = -1;

export function makeId(ms: bigint, seq: bigint): bigint {
  return (ms << 64n) | seq;
}

export function idMs(id: bigint): bigint {
  return id >> 64n;
}

export function idSeq(id: bigint): bigint {
  return id & SEQ_MASK;
}

export function formatId(id: bigint): string {
  return `${id >> 64n}-${id & SEQ_MASK}`;
}

const U64_RE = /^[0-9]+$/;
const U64_MAX = SEQ_MASK;

/** strtoull as Redis's string2ull uses it: digits only (a leading '-' wraps), within 64 bits. */
function parseU64(s: string): bigint | null {
  if (s.length === 0 || s.length > 21) return null;
  if (s[0] === "-") {
    // string2ull falls back to string2ll and casts: "-1" is 2^64-1.
    const rest = s.slice(1);
    if (!U64_RE.test(rest) || (rest.length > 1 && rest[0] === "0")) return null;
    const v = BigInt(rest);
    if (v > 2n ** 63n || v === 0n) return null;
    return (1n << 64n) - v;
  }
  if (!U64_RE.test(s)) return null;
  if (s.length > 1 && s[0] === "0") {
    // strtoull accepts leading zeros.
  }
  const v = BigInt(s);
  return v > U64_MAX ? null : v;
}

export interface ParsedId {
  id: bigint;
  /** False for the `ms-*` form (the sequence is to be generated). */
  seqGiven: boolean;
}

/**
 * Redis's stream ID argument parsing: `-`, `+` (unless strict), `ms` (the sequence is
 * `missingSeq`), `ms-seq`, and with `allowSeqStar` the `ms-*` form. Null when invalid.
 */
export function parseStreamId(
  s: string,
  missingSeq: bigint,
  strict: boolean,
  allowSeqStar = false,
): ParsedId | null {
  if (s.length > 127) return null;
  if (s === "-") return strict ? null : { id: 0n, seqGiven: true };
  if (s === "+") return strict ? null : { id: ID_MAX, seqGiven: true };
  const dash = s.indexOf("-");
  const msPart = dash < 0 ? s : s.slice(0, dash);
  const ms = parseU64(msPart);
  if (ms === null) return null;
  if (dash < 0) return { id: makeId(ms, missingSeq), seqGiven: true };
  const seqPart = s.slice(dash + 1);
  if (allowSeqStar && seqPart === "*") return { id: makeId(ms, 0n), seqGiven: false };
  const seq = parseU64(seqPart);
  if (seq === null) return null;
  return { id: makeId(ms, seq), seqGiven: true };
}

/** Redis's entry flags in a node. */
const FLAG_DELETED = 1, FLAG_SAMEFIELDS = 2;

/** A 64-bit delta as listpack integer input (a number when exact). */
function delta(a: bigint, b: bigint): number | bigint {
  const d = BigInt.asIntN(64, a - b);
  return d >= -(2n ** 53n) && d <= 2n ** 53n ? Number(d) : d;
}

/** Bytes of a listpack integer element (with its back length). */
function intElementSize(n: number): number {
  return n <= 127 ? 2 : n <= 4095 ? 3 : n <= 32767 ? 4 : n <= 8388607 ? 5 : 6;
}

/** One entry of a node as decoded: where it starts, its flags, ID and (if asked) fields. */
export interface NodeEntry {
  at: number;
  flags: number;
  id: bigint;
  fields: string[] | null;
}

/**
 * One node: a listpack laid out as Redis lays out a stream node, except that the two counters
 * that open it (live and deleted entries) are kept as fields and only written out with it (see
 * `listpack`). After them: the master fields (count, names, 0), then each entry as flags, the
 * ID's deltas from the node's master ID, the values alone when the entry has the master fields
 * (SAMEFIELDS) or else the field count and field/value pairs, and the entry's element count.
 * A deleted entry stays, flagged, until the whole node goes, as in Redis.
 */
export class StreamNode {
  lp: string;
  live = 0;
  deleted = 0;
  /** Elements in `lp` (for the listpack header). */
  elems: number;

  constructor(readonly master: bigint, readonly masterFields: string[]) {
    lpBuild.begin();
    lpBuild.addInt(masterFields.length);
    for (const f of masterFields) lpBuild.add(f);
    lpBuild.addInt(0);
    this.elems = masterFields.length + 2;
    this.lp = lpBuild.finish(LP_COUNT_UNKNOWN);
  }

  /** The node's size as Redis counts it (the two counters included). */
  get bytes(): number {
    return this.lp.length + intElementSize(this.live) + intElementSize(this.deleted);
  }

  /** Adds an entry at the end (its ID is above every other in the node); returns its offset. */
  push(id: bigint, fields: string[]): number {
    const at = this.lp.length - 1;
    const same = this.sameFields(fields);
    lpBuild.begin();
    lpBuild.copy(this.lp, LP_HEADER, at);
    lpBuild.addInt(same ? FLAG_SAMEFIELDS : 0);
    lpBuild.addInt(delta(idMs(id), idMs(this.master)));
    lpBuild.addInt(delta(idSeq(id), idSeq(this.master)));
    const pairs = fields.length / 2;
    if (same) {
      for (let k = 1; k < fields.length; k += 2) lpBuild.add(fields[k]!);
      lpBuild.addInt(pairs + 3);
      this.elems += pairs + 4;
    } else {
      lpBuild.addInt(pairs);
      for (const f of fields) lpBuild.add(f);
      lpBuild.addInt(pairs * 2 + 4);
      this.elems += pairs * 2 + 5;
    }
    this.lp = lpBuild.finish(LP_COUNT_UNKNOWN);
    this.live++;
    return at;
  }

  /** Flags the entry at `at` deleted (its flags element keeps its one-byte size). */
  markDeleted(at: number, flags: number): void {
    const lp = this.lp;
    this.lp = lp.slice(0, at) + String.fromCharCode(flags | FLAG_DELETED) + lp.slice(at + 1);
    this.live--;
    this.deleted++;
  }

  /** Does the entry have the master entry's field names, in order? */
  sameFields(fields: string[]): boolean {
    const m = this.masterFields;
    if (fields.length !== m.length * 2) return false;
    for (let i = 0; i < m.length; i++) if (fields[i * 2] !== m[i]) return false;
    return true;
  }

  /** Every entry, deleted ones included, in order; fields only when asked for. */
  *walk(withFields: boolean): Generator<NodeEntry> {
    const lp = this.lp, nm = this.masterFields.length;
    const mMs = idMs(this.master), mSeq = idSeq(this.master);
    let p = LP_HEADER;
    for (let k = 0; k < nm + 2; k++) p = lpNext(lp, p);
    while (!lpAtEnd(lp, p)) {
      const at = p;
      const flags = Number(lpGet(lp, p));
      p = lpNext(lp, p);
      const ms = BigInt.asUintN(64, mMs + BigInt(lpGet(lp, p)));
      p = lpNext(lp, p);
      const seq = BigInt.asUintN(64, mSeq + BigInt(lpGet(lp, p)));
      p = lpNext(lp, p);
      let fields: string[] | null = null;
      const want = withFields && !(flags & FLAG_DELETED);
      if (want) fields = [];
      if (flags & FLAG_SAMEFIELDS) {
        for (let k = 0; k < nm; k++) {
          if (fields) fields.push(this.masterFields[k]!, lpGet(lp, p));
          p = lpNext(lp, p);
        }
      } else {
        const n = Number(lpGet(lp, p)) * 2;
        p = lpNext(lp, p);
        for (let k = 0; k < n; k++) {
          if (fields) fields.push(lpGet(lp, p));
          p = lpNext(lp, p);
        }
      }
      p = lpNext(lp, p); // the entry's element count
      yield { at, flags, id: makeId(ms, seq), fields };
    }
  }

  /** The live entries, in order. */
  entries(): [bigint, string[]][] {
    const out: [bigint, string[]][] = [];
    for (const e of this.walk(true)) if (!(e.flags & FLAG_DELETED)) out.push([e.id, e.fields!]);
    return out;
  }

  /** The first or last live entry's ID (the node has one), or with `all` any entry's. */
  edge(first: boolean, all = false): bigint {
    let last = 0n;
    for (const e of this.walk(false)) {
      if (!all && e.flags & FLAG_DELETED) continue;
      if (first) return e.id;
      last = e.id;
    }
    return last;
  }

  /** The listpack Redis would hold for this node: the counters, then the rest. */
  listpack(): string {
    lpBuild.begin();
    lpBuild.addInt(this.live);
    lpBuild.addInt(this.deleted);
    lpBuild.copy(this.lp, LP_HEADER, this.lp.length - 1);
    return lpBuild.finish(this.elems + 2);
  }
}

export interface Nack {
  id: bigint;
  /** Last delivery time, ms. */
  time: number;
  count: number;
  consumer: Consumer;
}

export class Consumer {
  readonly pel = new Map<bigint, Nack>();
  constructor(readonly name: string, public seenTime: number) {}
}

export class ConsumerGroup {
  readonly pel = new Map<bigint, Nack>();
  readonly consumers = new Map<string, Consumer>();
  constructor(readonly name: string, public lastId: bigint, public entriesRead: number) {}

  /** The PEL's IDs in order. */
  pendingIds(): bigint[] {
    return sortIds([...this.pel.keys()]);
  }

  /** Consumers in Redis's order (by name, bytewise). */
  consumerList(): Consumer[] {
    return [...this.consumers.values()].sort((a, b) => cmpStr(a.name, b.name));
  }

  /** Creates the consumer when missing; returns it and whether it was created. */
  consumer(name: string, now: number): { consumer: Consumer; created: boolean } {
    const c = this.consumers.get(name);
    if (c) return { consumer: c, created: false };
    const n = new Consumer(name, now);
    this.consumers.set(name, n);
    return { consumer: n, created: true };
  }

  /** Removes a consumer and its pending entries; returns how many were pending. */
  deleteConsumer(name: string): number {
    const c = this.consumers.get(name);
    if (!c) return 0;
    const n = c.pel.size;
    for (const id of c.pel.keys()) this.pel.delete(id);
    this.consumers.delete(name);
    return n;
  }

  /** Acknowledges one ID; true when it was pending. */
  ack(id: bigint): boolean {
    const n = this.pel.get(id);
    if (!n) return false;
    this.pel.delete(id);
    n.consumer.pel.delete(id);
    return true;
  }
}

export function cmpStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function sortIds(ids: bigint[]): bigint[] {
  return ids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export interface TrimArgs {
  strategy: "maxlen" | "minid";
  maxlen: number;
  minid: bigint;
  approx: boolean;
  /** 0 = no limit. */
  limit: number;
}

export interface NodeLimits {
  maxBytes: number;
  maxEntries: number;
}

/** The largest listpack a stream node may be (Redis's STREAM_LISTPACK_MAX_SIZE). */
const LISTPACK_MAX = 1 << 30;

export class StreamValue extends AggregateValue {
  nodes: StreamNode[] = [];
  length = 0;
  lastId = 0n;
  firstId = 0n;
  maxDeletedId = 0n;
  entriesAdded = 0;
  readonly groups = new Map<string, ConsumerGroup>();

  get type(): "stream" {
    return "stream";
  }

  encoding(): string {
    return "stream";
  }

  memoryUsage(): number {
    let b = 64;
    for (const n of this.nodes) b += 64 + n.lp.length + n.masterFields.length * 16;
    for (const g of this.groups.values()) b += 64 + g.pel.size * 48 + g.consumers.size * 64;
    return b;
  }

  clone(): StreamValue {
    const s = new StreamValue();
    for (const n of this.nodes) {
      // A node's listpack is an immutable string: the copy shares it until either changes.
      const m = new StreamNode(n.master, n.masterFields);
      m.lp = n.lp;
      m.live = n.live;
      m.deleted = n.deleted;
      m.elems = n.elems;
      s.nodes.push(m);
    }
    s.length = this.length;
    s.lastId = this.lastId;
    s.firstId = this.firstId;
    s.maxDeletedId = this.maxDeletedId;
    s.entriesAdded = this.entriesAdded;
    for (const g of this.groups.values()) {
      const h = new ConsumerGroup(g.name, g.lastId, g.entriesRead);
      for (const c of g.consumers.values()) {
        const d = new Consumer(c.name, c.seenTime);
        h.consumers.set(c.name, d);
        for (const n of c.pel.values()) {
          const nack: Nack = { id: n.id, time: n.time, count: n.count, consumer: d };
          d.pel.set(n.id, nack);
          h.pel.set(n.id, nack);
        }
      }
      s.groups.set(g.name, h);
    }
    return s;
  }

  /**
   * The ID an append would use: `given` as is (seqGiven) or with the next sequence for its
   * milliseconds, or without `given` the next ID after the last at `nowMs`. Null when none is
   * possible (the sequence is exhausted).
   */
  nextId(given: ParsedId | null, nowMs: number): bigint | null {
    if (given) {
      if (given.seqGiven) return given.id;
      if (idMs(this.lastId) === idMs(given.id)) {
        if (idSeq(this.lastId) === SEQ_MASK) return null;
        return this.lastId + 1n;
      }
      return given.id;
    }
    const now = BigInt(nowMs);
    if (idMs(this.lastId) < now) return makeId(now, 0n);
    return this.lastId === ID_MAX ? null : this.lastId + 1n;
  }

  /** Appends an entry whose ID is above lastId (the caller checked). */
  append(id: bigint, fields: string[], limits: NodeLimits): void {
    let tail = this.nodes[this.nodes.length - 1];
    if (tail) {
      let totel = 0;
      for (const f of fields) totel += f.length;
      let maxBytes = limits.maxBytes;
      if (maxBytes === 0 || maxBytes > LISTPACK_MAX) maxBytes = LISTPACK_MAX;
      if (tail.bytes + totel >= maxBytes) tail = undefined;
      else if (limits.maxEntries && tail.live + tail.deleted >= limits.maxEntries) tail = undefined;
    }
    if (!tail) {
      const names: string[] = [];
      for (let i = 0; i < fields.length; i += 2) names.push(fields[i]!);
      tail = new StreamNode(id, names);
      this.nodes.push(tail);
    }
    tail.push(id, fields);
    if (this.length === 0) this.firstId = id;
    this.length++;
    this.entriesAdded++;
    this.lastId = id;
  }

  /** The index of the node that would hold `id`: the last whose master ID is <= id (or 0). */
  private nodeFor(id: bigint): number {
    const nodes = this.nodes;
    let lo = 0, hi = nodes.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (nodes[mid]!.master <= id) lo = mid + 1;
      else hi = mid;
    }
    return Math.max(0, lo - 1);
  }

  /**
   * The entry with this ID, or undefined. Deleted entries are passed over, as Redis's iterator
   * does: once XSETID has moved the last ID back below deleted entries, an ID may be added
   * again after its deleted twin, and a lower ID after higher deleted ones.
   */
  get(id: bigint): string[] | undefined {
    const n = this.nodes[this.nodeFor(id)];
    if (!n) return undefined;
    for (const e of n.walk(true)) {
      if (e.flags & FLAG_DELETED) continue;
      if (e.id === id) return e.fields!;
      if (e.id > id) break;
    }
    return undefined;
  }

  /** Entries with start <= ID <= end, in order (reversed when `rev`), up to count (0 = all). */
  range(start: bigint, end: bigint, count: number, rev = false): [bigint, string[]][] {
    const out: [bigint, string[]][] = [];
    if (start > end || this.nodes.length === 0) return out;
    if (!rev) {
      for (let ni = this.nodeFor(start); ni < this.nodes.length; ni++) {
        const n = this.nodes[ni]!;
        if (n.master > end) break;
        for (const e of n.entries()) {
          if (e[0] < start) continue;
          if (e[0] > end) return out;
          out.push(e);
          if (count && out.length >= count) return out;
        }
      }
      return out;
    }
    for (let ni = this.nodeFor(end); ni >= 0; ni--) {
      const entries = this.nodes[ni]!.entries();
      for (let k = entries.length - 1; k >= 0; k--) {
        const e = entries[k]!;
        if (e[0] > end) continue;
        if (e[0] < start) return out;
        out.push(e);
        if (count && out.length >= count) return out;
      }
    }
    return out;
  }

  /** The first or last live entry's ID (0 when empty). */
  edgeId(first: boolean): bigint {
    if (this.nodes.length === 0) return 0n;
    return first ? this.nodes[0]!.edge(true) : this.nodes[this.nodes.length - 1]!.edge(false);
  }

  /** XDEL of one ID: true when it existed. */
  delete(id: bigint): boolean {
    const ni = this.nodeFor(id);
    const n = this.nodes[ni];
    if (!n) return false;
    let found: NodeEntry | null = null;
    for (const e of n.walk(false)) {
      if (e.flags & FLAG_DELETED) continue;
      if (e.id === id) {
        found = e;
        break;
      }
      if (e.id > id) break;
    }
    if (!found) return false;
    n.markDeleted(found.at, found.flags);
    if (n.live === 0) this.nodes.splice(ni, 1);
    this.length--;
    if (id > this.maxDeletedId) this.maxDeletedId = id;
    if (this.length === 0) this.firstId = 0n;
    else if (id === this.firstId) this.firstId = this.edgeId(true);
    return true;
  }

  /** Trims as XTRIM / XADD's trimming options do; returns how many entries went. */
  trim(a: TrimArgs): number {
    let deleted = 0;
    while (this.nodes.length > 0) {
      if (a.strategy === "maxlen" && this.length <= a.maxlen) break;
      const n = this.nodes[0]!;
      const entries = n.live;
      if (a.limit && deleted + entries > a.limit) break;
      const removeNode = a.strategy === "maxlen"
        ? this.length - entries >= a.maxlen
        : n.edge(false, true) < a.minid;
      if (removeNode) {
        this.nodes.shift();
        this.length -= entries;
        deleted += entries;
        continue;
      }
      if (a.approx) break;
      // Flag entries deleted from the node's start until the target is met.
      const doomed: NodeEntry[] = [];
      for (const e of n.walk(false)) {
        const stop = a.strategy === "maxlen"
          ? this.length - doomed.length <= a.maxlen
          : e.id >= a.minid;
        if (stop) break;
        if (!(e.flags & FLAG_DELETED)) doomed.push(e);
      }
      for (const e of doomed) n.markDeleted(e.at, e.flags);
      this.length -= doomed.length;
      deleted += doomed.length;
      break;
    }
    if (this.length === 0) this.firstId = 0n;
    else if (deleted) this.firstId = this.edgeId(true);
    return deleted;
  }

  // ---- Redis 7.0's consumer group bookkeeping (entries-read, lag) ----

  /**
   * How many entries were ever added up to `id`, when that can be known from the counters
   * alone; INVALID_ENTRIES_READ otherwise.
   */
  distanceFromFirstEver(id: bigint): number {
    if (!this.entriesAdded) return 0;
    if (!this.length && id <= this.lastId) return this.entriesAdded;
    if (id === this.lastId) return this.entriesAdded;
    if (id > this.lastId) return INVALID_ENTRIES_READ;
    if (this.maxDeletedId === 0n || this.maxDeletedId < this.firstId) {
      if (id < this.firstId) return this.entriesAdded - this.length;
      if (id === this.firstId) return this.entriesAdded - this.length + 1;
    }
    return INVALID_ENTRIES_READ;
  }

  /** Could deleted entries lie between start and end (inclusive; null = unbounded)? */
  rangeHasTombstones(start: bigint | null, end: bigint | null): boolean {
    if (this.length === 0 || this.maxDeletedId === 0n) return false;
    // The latest deletion is before the first entry.
    if (this.firstId > this.maxDeletedId) return false;
    const s = start ?? 0n, e = end ?? ID_MAX;
    return s <= this.maxDeletedId && this.maxDeletedId <= e;
  }

  /** A group's lag, or null when it cannot be known. */
  lag(g: ConsumerGroup): number | null {
    if (!this.entriesAdded) return 0;
    if (g.entriesRead !== INVALID_ENTRIES_READ && !this.rangeHasTombstones(g.lastId, null)) {
      return this.entriesAdded - g.entriesRead;
    }
    const read = this.distanceFromFirstEver(g.lastId);
    return read === INVALID_ENTRIES_READ ? null : this.entriesAdded - read;
  }

  /** A group's last delivered ID moves to `id` (delivered with `>`): updates entries-read. */
  advanceGroup(g: ConsumerGroup, id: bigint): void {
    if (g.entriesRead !== INVALID_ENTRIES_READ && !this.rangeHasTombstones(id, null)) {
      g.entriesRead++;
    } else if (this.entriesAdded) {
      g.entriesRead = this.distanceFromFirstEver(id);
    }
    g.lastId = id;
  }

  /** Groups in Redis's order (by name, bytewise). */
  groupList(): ConsumerGroup[] {
    return [...this.groups.values()].sort((a, b) => cmpStr(a.name, b.name));
  }
}
