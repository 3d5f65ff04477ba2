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
import { parseI64 } from "../../shared/int64.ts";
import { AggregateValue } from "./types.ts";
import {
  LP_HEADER,
  lpAtEnd,
  lpBuild,
  lpElement,
  lpGet,
  lpInt,
  lpIntElement,
  lpLast,
  lpNext,
  lpPrev,
} from "./listpack.ts";

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

const U64_MAX = SEQ_MASK;
const TWO_64 = 1n << 64n;
const DIGITS_RE = /^[0-9]+$/;

/**
 * Redis's string2ull: a strict signed 64-bit integer (string2ll) when it is one, refused when
 * negative; otherwise strtoull's reading: leading white space, an optional sign, decimal digits
 * to the end, at most 2^64-1 ("-01" is 2^64-1, as strtoull negates in unsigned arithmetic).
 */
function parseU64(s: string): bigint | null {
  if (s.length === 0 || s.length > 64) return null;
  const strict = parseI64(s);
  if (strict !== null) return strict < 0n ? null : strict;
  let i = 0;
  while (i < s.length && " \t\n\v\f\r".includes(s[i]!)) i++;
  let neg = false;
  if (s[i] === "+" || s[i] === "-") neg = s[i++] === "-";
  const digits = s.slice(i);
  if (!DIGITS_RE.test(digits)) return null;
  const v = BigInt(digits);
  if (v > U64_MAX) return null;
  return neg ? (TWO_64 - v) % TWO_64 : v;
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

const TWO_53 = 2n ** 53n, MINUS_TWO_53 = -TWO_53;

/** A 64-bit delta as listpack integer input (a number when exact). */
function delta(a: bigint, b: bigint): number | bigint {
  const d = BigInt.asIntN(64, a - b);
  return d >= MINUS_TWO_53 && d <= TWO_53 ? Number(d) : d;
}

/** Bytes of a listpack integer element (with its back length). */
function intElementSize(n: number): number {
  return n <= 127 ? 2 : n <= 4095 ? 3 : n <= 32767 ? 4 : n <= 8388607 ? 5 : 6;
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const MAX_SAFE_BIG = BigInt(MAX_SAFE);

/**
 * An ID also split into two numbers, exact when `exact` (both parts below 2^53, as any ID made
 * from a clock is): a node compares its entries with it without making a bigint per entry.
 */
export interface SplitId {
  id: bigint;
  ms: number;
  seq: number;
  exact: boolean;
}

export function splitId(id: bigint): SplitId {
  const ms = idMs(id), seq = idSeq(id);
  return { id, ms: Number(ms), seq: Number(seq), exact: ms <= MAX_SAFE_BIG && seq <= MAX_SAFE_BIG };
}

/**
 * The ID of the entry StreamNode.readId decoded last: its parts as exact numbers when
 * `curExact`, else the bigint `curBig`, and the offset after its ID. Module state rather than
 * an object per entry: a scan reads thousands of IDs to return one.
 */
let curMs = 0, curSeq = 0, curExact = false, curBig = 0n, curNext = 0;

/** The last decoded entry's ID as a bigint. */
function curId(): bigint {
  return curExact ? makeId(BigInt(curMs), BigInt(curSeq)) : curBig;
}

/** The last decoded entry's ID compared with `t`: negative, 0 or positive. */
function cmpCur(t: SplitId): number {
  if (curExact && t.exact) return curMs !== t.ms ? curMs - t.ms : curSeq - t.seq;
  const id = curId();
  return id < t.id ? -1 : id > t.id ? 1 : 0;
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
  /** The listpack as last read; entries appended since wait in `pending` (see lp). */
  private sealed: string;
  /**
   * Elements (encoded) appended since `sealed` was built: XADD appends here, and the listpack
   * is rebuilt once when read, instead of once per entry (which also left a node's worth of
   * garbage per XADD).
   */
  private pending: string[] | null = null;
  /** Bytes of the listpack with the pending elements in. */
  private size: number;
  live = 0;
  deleted = 0;
  /** Elements in `lp` (for the listpack header). */
  elems: number;
  /** Offset of the first entry's flags (after the master entry). */
  private readonly start: number;
  /** The master ID's parts as numbers (NaN when one is 2^53 or more: see readId). */
  private readonly masterMs: number;
  private readonly masterSeq: number;
  /**
   * Where a forward read may start instead of the first entry: the offset of an entry that was
   * live when collect returned it, and its ID's exact parts (hintAt -1: none). Live entries only
   * ever follow lower live IDs (appends are above every live ID, even after XSETID), so every
   * live entry before it has a lower ID; a read from an ID at or above the hint's starts there,
   * and reading a stream one entry at a time (XREADGROUP COUNT 1) does not rescan the node.
   * Forgotten when the listpack is replaced.
   */
  private hintAt = -1;
  private hintMs = 0;
  private hintSeq = 0;

  constructor(readonly master: bigint, readonly masterFields: string[]) {
    lpBuild.begin();
    lpBuild.addInt(masterFields.length);
    for (const f of masterFields) lpBuild.add(f);
    lpBuild.addInt(0);
    this.elems = masterFields.length + 2;
    this.sealed = lpBuild.finish(LP_COUNT_UNKNOWN);
    this.size = this.sealed.length;
    this.start = this.size - 1;
    const m = splitId(master);
    this.masterMs = m.exact ? m.ms : NaN;
    this.masterSeq = m.exact ? m.seq : NaN;
  }

  /**
   * Decodes the ID whose deltas start at p into the module's cur* state. The sums are exact
   * numbers when both deltas are numbers and the results lie in 0..2^53-1 (a negative sum is a
   * delta that wrapped around 2^64); otherwise the ID is computed as a bigint.
   */
  private readId(lp: string, p: number): void {
    const dms = lpInt(lp, p);
    p = lpNext(lp, p);
    const dseq = lpInt(lp, p);
    curNext = lpNext(lp, p);
    if (typeof dms === "number" && typeof dseq === "number") {
      curMs = this.masterMs + dms;
      curSeq = this.masterSeq + dseq;
      curExact = curMs >= 0 && curMs <= MAX_SAFE && curSeq >= 0 && curSeq <= MAX_SAFE;
      if (curExact) return;
    }
    curExact = false;
    curBig = makeId(
      BigInt.asUintN(64, idMs(this.master) + BigInt(dms)),
      BigInt.asUintN(64, idSeq(this.master) + BigInt(dseq)),
    );
  }

  /**
   * Appends to `out` this node's live entries with from <= ID <= to, up to `count` in all
   * (0 = no limit). Entries before `from` are skipped without decoding their fields. True
   * when the range is done (an entry past `to`, or `count` reached).
   */
  collect(from: SplitId, to: SplitId, count: number, out: [bigint, string[]][]): boolean {
    const lp = this.lp, master = this.masterFields, nm = master.length;
    let p = this.start;
    if (
      this.hintAt >= 0 && from.exact &&
      (from.ms > this.hintMs || (from.ms === this.hintMs && from.seq >= this.hintSeq))
    ) {
      p = this.hintAt;
    }
    while (!lpAtEnd(lp, p)) {
      const at = p;
      const flags = lpInt(lp, p) as number;
      this.readId(lp, lpNext(lp, p));
      p = curNext;
      const skip = (flags & FLAG_DELETED) !== 0 || cmpCur(from) < 0;
      if (!skip && cmpCur(to) > 0) return true;
      const same = (flags & FLAG_SAMEFIELDS) !== 0;
      let n = nm;
      if (!same) {
        n = (lpInt(lp, p) as number) * 2;
        p = lpNext(lp, p);
      }
      if (skip) {
        for (let k = 0; k < n; k++) p = lpNext(lp, p);
      } else {
        const fields: string[] = [];
        for (let k = 0; k < n; k++) {
          if (same) fields.push(master[k]!);
          fields.push(lpGet(lp, p));
          p = lpNext(lp, p);
        }
        out.push([curId(), fields]);
        if (curExact) {
          this.hintAt = at;
          this.hintMs = curMs;
          this.hintSeq = curSeq;
        }
        if (count && out.length >= count) return true;
      }
      p = lpNext(lp, p); // the entry's element count
    }
    return false;
  }

  /**
   * The last live entry's ID, or null when none, read backwards from the end as Redis does:
   * each entry ends with its element count, which leads back to its flags.
   */
  lastLive(): bigint | null {
    const lp = this.lp;
    let p = lpLast(lp);
    while (p >= this.start) {
      const n = lpInt(lp, p) as number;
      let q = p;
      for (let k = 0; k < n; k++) q = lpPrev(lp, q);
      if (!((lpInt(lp, q) as number) & FLAG_DELETED)) {
        this.readId(lp, lpNext(lp, q));
        return curId();
      }
      p = lpPrev(lp, q);
    }
    return null;
  }

  /** The listpack (without the two counters, see `listpack`), pending entries included. */
  get lp(): string {
    if (this.pending !== null) this.seal();
    return this.sealed;
  }

  set lp(v: string) {
    this.sealed = v;
    this.pending = null;
    this.size = v.length;
    this.hintAt = -1;
  }

  /** The listpack's length in bytes, pending entries included (lp.length, without building it). */
  get byteLength(): number {
    return this.size;
  }

  /** Builds the listpack with the pending entries in. */
  seal(): void {
    const pending = this.pending;
    if (pending === null) return;
    lpBuild.begin();
    lpBuild.copy(this.sealed, LP_HEADER, this.sealed.length - 1);
    for (const e of pending) lpBuild.addEncoded(e);
    this.sealed = lpBuild.finish(LP_COUNT_UNKNOWN);
    this.pending = null;
  }

  /** The node's size as Redis counts it (the two counters included). */
  get bytes(): number {
    return this.size + intElementSize(this.live) + intElementSize(this.deleted);
  }

  private append(e: string): void {
    this.pending!.push(e);
    this.size += e.length;
  }

  /** Adds an entry at the end (its ID is above every other in the node); returns its offset. */
  push(id: bigint, fields: string[]): number {
    const at = this.size - 1;
    const same = this.sameFields(fields);
    this.pending ??= [];
    this.append(lpIntElement(same ? FLAG_SAMEFIELDS : 0));
    const ms = idMs(id), seq = idSeq(id);
    if (!Number.isNaN(this.masterMs) && ms <= MAX_SAFE_BIG && seq <= MAX_SAFE_BIG) {
      // Both IDs below 2^53 in each part (the master's parts are not NaN): the deltas are
      // exact as numbers, and no 64-bit wrap is possible.
      this.append(lpIntElement(Number(ms) - this.masterMs));
      this.append(lpIntElement(Number(seq) - this.masterSeq));
    } else {
      this.append(lpIntElement(delta(ms, idMs(this.master))));
      this.append(lpIntElement(delta(seq, idSeq(this.master))));
    }
    const pairs = fields.length / 2;
    if (same) {
      for (let k = 1; k < fields.length; k += 2) this.append(lpElement(fields[k]!));
      this.append(lpIntElement(pairs + 3));
      this.elems += pairs + 4;
    } else {
      this.append(lpIntElement(pairs));
      for (const f of fields) this.append(lpElement(f));
      this.append(lpIntElement(pairs * 2 + 4));
      this.elems += pairs * 2 + 5;
    }
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
    let p = this.start;
    while (!lpAtEnd(lp, p)) {
      const at = p;
      const flags = lpInt(lp, p) as number;
      this.readId(lp, lpNext(lp, p));
      p = curNext;
      const id = curId();
      let fields: string[] | null = null;
      const want = withFields && !(flags & FLAG_DELETED);
      if (want) fields = [];
      if (flags & FLAG_SAMEFIELDS) {
        for (let k = 0; k < nm; k++) {
          if (fields) fields.push(this.masterFields[k]!, lpGet(lp, p));
          p = lpNext(lp, p);
        }
      } else {
        const n = (lpInt(lp, p) as number) * 2;
        p = lpNext(lp, p);
        for (let k = 0; k < n; k++) {
          if (fields) fields.push(lpGet(lp, p));
          p = lpNext(lp, p);
        }
      }
      p = lpNext(lp, p); // the entry's element count
      yield { at, flags, id, fields };
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
    const lp = this.lp; // built first: lpBuild makes one listpack at a time
    lpBuild.begin();
    lpBuild.addInt(this.live);
    lpBuild.addInt(this.deleted);
    lpBuild.copy(lp, LP_HEADER, lp.length - 1);
    return lpBuild.finish(this.elems + 2);
  }
}

const MASK64 = (1n << 64n) - 1n;
/** An odd 64-bit constant (the golden ratio's), so that ms * MIX spreads over the low bits. */
const MIX = 0x9e3779b97f4a7c15n;

/**
 * A Map keyed by stream IDs. V8 hashes a bigint by its lowest 64 bits only, which for an ID
 * is the sequence: IDs made by XADD * mostly have sequence 0, so a plain Map<bigint> puts them
 * all in one hash chain (20,000 pending entries took seconds to insert). The key stored is the
 * ID with its sequence XORed with a multiple of its milliseconds: a one-to-one mapping (its own
 * inverse) whose low bits differ between IDs.
 */
export class IdMap<V> {
  private readonly m = new Map<bigint, V>();

  private static key(id: bigint): bigint {
    return id ^ (((id >> 64n) * MIX) & MASK64);
  }

  get size(): number {
    return this.m.size;
  }

  get(id: bigint): V | undefined {
    return this.m.get(IdMap.key(id));
  }

  has(id: bigint): boolean {
    return this.m.has(IdMap.key(id));
  }

  set(id: bigint, v: V): this {
    const before = this.m.size;
    this.m.set(IdMap.key(id), v);
    if (this.ord !== null && this.m.size !== before) this.ordInsert(id);
    return this;
  }

  delete(id: bigint): boolean {
    const deleted = this.m.delete(IdMap.key(id));
    if (deleted && this.ord !== null) this.ordRemove(id);
    return deleted;
  }

  /**
   * The IDs in order, kept from the first ordered read on (a pending entries list is read in
   * order by XPENDING, XAUTOCLAIM and XINFO, as Redis walks its radix tree): ord[head..] are
   * the live IDs. New IDs usually come last (deliveries follow the stream) and acknowledged ones
   * first, so both are O(1) then; others are a binary search and an insert or removal.
   */
  private ord: bigint[] | null = null;
  private head = 0;

  private ordered(): bigint[] {
    if (this.ord === null) {
      this.ord = sortIds([...this.keys()]);
      this.head = 0;
    }
    return this.ord;
  }

  private ordInsert(id: bigint): void {
    const a = this.ord!;
    if (a.length === this.head || id > a[a.length - 1]!) a.push(id);
    else a.splice(lowerBound(a, id, this.head), 0, id);
  }

  private ordRemove(id: bigint): void {
    const a = this.ord!;
    if (a[this.head] === id) {
      this.head++;
      // The acknowledged head is dropped once it is most of the array.
      if (this.head >= 1024 && this.head * 2 >= a.length) {
        this.ord = a.slice(this.head);
        this.head = 0;
      }
      return;
    }
    const i = lowerBound(a, id, this.head);
    if (a[i] === id) a.splice(i, 1);
  }

  /** Up to `limit` IDs from `start` to `end` (both included), in order. */
  range(start: bigint, end: bigint, limit = Infinity): bigint[] {
    const a = this.ordered();
    const out: bigint[] = [];
    for (let i = lowerBound(a, start, this.head); i < a.length && out.length < limit; i++) {
      const id = a[i]!;
      if (id > end) break;
      out.push(id);
    }
    return out;
  }

  /** The smallest and the largest ID (undefined when empty). */
  first(): bigint | undefined {
    const a = this.ordered();
    return a[this.head];
  }

  last(): bigint | undefined {
    const a = this.ordered();
    return a.length > this.head ? a[a.length - 1] : undefined;
  }

  /** The IDs, in insertion order. */
  *keys(): IterableIterator<bigint> {
    for (const k of this.m.keys()) yield IdMap.key(k);
  }

  values(): IterableIterator<V> {
    return this.m.values();
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
  readonly pel = new IdMap<Nack>();
  constructor(readonly name: string, public seenTime: number) {}
}

export class ConsumerGroup {
  readonly pel = new IdMap<Nack>();
  readonly consumers = new Map<string, Consumer>();
  constructor(readonly name: string, public lastId: bigint, public entriesRead: number) {}

  /** The PEL's IDs in order. */
  pendingIds(): bigint[] {
    return this.pel.range(0n, ID_MAX);
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

/** The first index from `lo` on whose ID is at least `id` (a.length when none). */
function lowerBound(a: bigint[], id: bigint, lo: number): number {
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
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
  /** The nodes' share of memoryUsage, kept current as they change (see nodesChanged). */
  private nodeBytes = 0;
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
    let b = 64 + this.nodeBytes;
    for (const g of this.groups.values()) b += 64 + g.pel.size * 48 + g.consumers.size * 64;
    return b;
  }

  /** What one node counts for in memoryUsage. */
  private static nodeCost(n: StreamNode): number {
    return 64 + n.byteLength + n.masterFields.length * 16;
  }

  /** Recounts the nodes' memory after `nodes` was built or changed from outside (RDB load). */
  nodesChanged(): void {
    this.nodeBytes = 0;
    for (const n of this.nodes) this.nodeBytes += StreamValue.nodeCost(n);
  }

  clone(): StreamValue {
    const s = new StreamValue();
    s.nodeBytes = this.nodeBytes;
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
      if (
        tail.bytes + totel >= maxBytes ||
        (limits.maxEntries && tail.live + tail.deleted >= limits.maxEntries)
      ) {
        // A full node takes no more entries: its listpack is built once, now.
        tail.seal();
        tail = undefined;
      }
    }
    let before = 0;
    if (!tail) {
      const names: string[] = [];
      for (let i = 0; i < fields.length; i += 2) names.push(fields[i]!);
      tail = new StreamNode(id, names);
      this.nodes.push(tail);
    } else before = StreamValue.nodeCost(tail);
    tail.push(id, fields);
    this.nodeBytes += StreamValue.nodeCost(tail) - before;
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
      const from = splitId(start), to = splitId(end);
      for (let ni = this.nodeFor(start); ni < this.nodes.length; ni++) {
        const n = this.nodes[ni]!;
        if (n.master > end) break;
        if (n.collect(from, to, count, out)) return out;
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
    return first ? this.nodes[0]!.edge(true) : this.nodes[this.nodes.length - 1]!.lastLive() ?? 0n;
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
    if (n.live === 0) {
      this.nodes.splice(ni, 1);
      this.nodeBytes -= StreamValue.nodeCost(n);
    }
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
        this.nodeBytes -= StreamValue.nodeCost(n);
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
