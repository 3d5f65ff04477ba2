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

/** The encoded size of one listpack element holding `s` (with its back length). */
function lpElementSize(s: string): number {
  let enc: number;
  if (s.length > 0 && s.length <= 20 && /^-?(0|[1-9][0-9]*)$/.test(s)) {
    const v = BigInt(s);
    if (v >= 0n && v <= 127n) enc = 1;
    else if (v >= -4096n && v <= 4095n) enc = 2;
    else if (v >= -32768n && v <= 32767n) enc = 3;
    else if (v >= -8388608n && v <= 8388607n) enc = 4;
    else if (v >= -2147483648n && v <= 2147483647n) enc = 5;
    else if (v >= -(2n ** 63n) && v < 2n ** 63n) enc = 9;
    else enc = s.length + 1;
  } else {
    enc = s.length + (s.length < 64 ? 1 : s.length < 4096 ? 2 : 5);
  }
  return enc + (enc < 128 ? 1 : enc < 16384 ? 2 : enc < 2097152 ? 3 : enc < 268435456 ? 4 : 5);
}

function intSize(n: number | bigint): number {
  return lpElementSize(String(n));
}

export class StreamNode {
  ids: bigint[] = [];
  vals: string[][] = [];
  /** Entries deleted from this node (they still count toward its capacity, as in Redis). */
  deleted = 0;
  /** Estimated listpack bytes. */
  bytes: number;

  constructor(readonly master: bigint, readonly masterFields: string[]) {
    // Header, end byte, the master entry: count, deleted, field count, fields, terminator.
    let b = 7 + 1 + 1 + intSize(masterFields.length) + 1;
    for (const f of masterFields) b += lpElementSize(f);
    this.bytes = b;
  }

  /** Adds an entry at the end (its ID is above every other in the node). */
  push(id: bigint, fields: string[]): void {
    this.ids.push(id);
    this.vals.push(fields);
    let b = 1 + intSize(idMs(id) - idMs(this.master)) + intSize(idSeq(id) - idSeq(this.master));
    const same = this.sameFields(fields);
    if (!same) b += intSize(fields.length / 2);
    for (let i = same ? 1 : 0; i < fields.length; i += same ? 2 : 1) b += lpElementSize(fields[i]!);
    b += 1;
    this.bytes += b;
  }

  /** Does the entry have the master entry's field names, in order? */
  sameFields(fields: string[]): boolean {
    const m = this.masterFields;
    if (fields.length !== m.length * 2) return false;
    for (let i = 0; i < m.length; i++) if (fields[i * 2] !== m[i]) return false;
    return true;
  }

  get live(): number {
    return this.ids.length;
  }

  /** The index of the first entry with an ID >= id. */
  lowerBound(id: bigint): number {
    let lo = 0, hi = this.ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ids[mid]! < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
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
    for (const n of this.nodes) b += 48 + n.bytes;
    for (const g of this.groups.values()) b += 64 + g.pel.size * 48 + g.consumers.size * 64;
    return b;
  }

  clone(): StreamValue {
    const s = new StreamValue();
    for (const n of this.nodes) {
      const m = new StreamNode(n.master, n.masterFields);
      m.ids = [...n.ids];
      m.vals = n.vals.map((v) => [...v]);
      m.deleted = n.deleted;
      m.bytes = n.bytes;
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

  /** The node index and position of the first entry with ID >= id (may be past the end). */
  private seek(id: bigint): [number, number] {
    const nodes = this.nodes;
    let lo = 0, hi = nodes.length;
    // The last node whose master ID is <= id.
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (nodes[mid]!.master <= id) lo = mid + 1;
      else hi = mid;
    }
    let ni = Math.max(0, lo - 1);
    while (ni < nodes.length) {
      const pos = nodes[ni]!.lowerBound(id);
      if (pos < nodes[ni]!.live) return [ni, pos];
      ni++;
    }
    return [nodes.length, 0];
  }

  /** The entry with this ID, or undefined. */
  get(id: bigint): string[] | undefined {
    const [ni, pos] = this.seek(id);
    const n = this.nodes[ni];
    return n && n.ids[pos] === id ? n.vals[pos] : undefined;
  }

  /** Entries with start <= ID <= end, in order (reversed when `rev`), up to count (0 = all). */
  range(start: bigint, end: bigint, count: number, rev = false): [bigint, string[]][] {
    const out: [bigint, string[]][] = [];
    if (start > end) return out;
    if (!rev) {
      let [ni, pos] = this.seek(start);
      for (; ni < this.nodes.length; ni++, pos = 0) {
        const n = this.nodes[ni]!;
        for (; pos < n.live; pos++) {
          const id = n.ids[pos]!;
          if (id > end) return out;
          out.push([id, n.vals[pos]!]);
          if (count && out.length >= count) return out;
        }
      }
      return out;
    }
    // Backwards from the last entry <= end.
    let [ni, pos] = end === ID_MAX ? [this.nodes.length, 0] : this.seek(end + 1n);
    pos--;
    for (;;) {
      while (pos < 0) {
        ni--;
        if (ni < 0) return out;
        pos = this.nodes[ni]!.live - 1;
      }
      const n = this.nodes[ni]!;
      const id = n.ids[pos]!;
      if (id < start) return out;
      out.push([id, n.vals[pos]!]);
      if (count && out.length >= count) return out;
      pos--;
    }
  }

  /** The first or last live entry's ID (0 when empty). */
  edgeId(first: boolean): bigint {
    if (this.nodes.length === 0) return 0n;
    if (first) return this.nodes[0]!.ids[0]!;
    const n = this.nodes[this.nodes.length - 1]!;
    return n.ids[n.live - 1]!;
  }

  /** XDEL of one ID: true when it existed. */
  delete(id: bigint): boolean {
    const [ni, pos] = this.seek(id);
    const n = this.nodes[ni];
    if (!n || n.ids[pos] !== id) return false;
    n.ids.splice(pos, 1);
    n.vals.splice(pos, 1);
    n.deleted++;
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
        : n.ids[entries - 1]! < a.minid;
      if (removeNode) {
        this.nodes.shift();
        this.length -= entries;
        deleted += entries;
        continue;
      }
      if (a.approx) break;
      let k = 0;
      while (k < entries) {
        const stop = a.strategy === "maxlen" ? this.length <= a.maxlen : n.ids[k]! >= a.minid;
        if (stop) break;
        k++;
        this.length--;
      }
      n.ids.splice(0, k);
      n.vals.splice(0, k);
      n.deleted += k;
      deleted += k;
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
