/**
 * HyperLogLog commands. Values are plain strings in Redis's own layout (store/hll.ts), so
 * GET, DUMP, replication and RDB carry them unchanged and real Redis reads them back. A key
 * these commands touch keeps its string as bytes (a BytesEntry), which they change in place:
 * a PFADD of a dense HLL changes one or two of its 12 KB and copies none.
 */
import type { ClientState, Engine } from "../engine/types.ts";
import { NOTIFY } from "../engine/notify.ts";
import { cmd } from "./define.ts";
import type { CommandDef } from "./types.ts";
import { ERR } from "./define.ts";
import { lookupRead, REPLIED } from "./access.ts";
import { BytesEntry } from "../store/types.ts";
import { binaryToBytes, bytesToBinary } from "../../shared/resp/bytes.ts";
import {
  cachedCount,
  countHll,
  countRegisters,
  createHll,
  decodeSparse,
  denseGet,
  denseSet,
  encodingOf,
  HLL_DENSE,
  HLL_REGISTERS,
  hllAdd,
  INVALID_HLL_ERR,
  invalidateCache,
  isHll,
  mergeInto,
  NOT_HLL_ERR,
  patternOf,
  registersOf,
  setCachedCount,
  setRegister,
  toDense,
  writeRegisters,
} from "../store/hll.ts";

function sparseMax(s: Engine): number {
  return s.config.get<number>("hll-sparse-max-bytes");
}

/**
 * A key's HLL, held as bytes, null when missing, or REPLIED after WRONGTYPE (either kind).
 * A string holding a valid HLL gets a BytesEntry with its bytes the first time (the same
 * value: nothing is signalled); only this file makes BytesEntries, so one always holds a HLL.
 * The lookup keeps a running snapshot's copy (Database.lookup) before the caller changes the
 * bytes in place. `read`: a write command's read lookup (see keyMiss).
 */
function readHll(
  s: Engine,
  c: ClientState,
  key: string,
  read = false,
): BytesEntry | null | typeof REPLIED {
  const e = lookupRead(s, c, key, read);
  if (e === undefined) return null;
  if (e instanceof BytesEntry) return e;
  const v = e.value;
  if (typeof v !== "string") {
    c.error(ERR.wrongType);
    return REPLIED;
  }
  // An integer-encoded string is never a HLL for Redis; none is 16 bytes long or starts "HYLL".
  if (!isHll(v)) {
    c.error(NOT_HLL_ERR);
    return REPLIED;
  }
  const h = new BytesEntry(binaryToBytes(v), e.meta, v);
  c.db.replaceEntry(key, e, h);
  return h;
}

/**
 * Redis's dbUnshareStringValue: the commands that may change a HLL in place first make the
 * key's string a private raw one, so OBJECT ENCODING says "raw" afterwards even when nothing
 * changed (an embstr written by SET included).
 */
function unshare(h: BytesEntry): void {
  h.enc = "raw";
}

/**
 * Stores a changed HLL: in place for an existing key (TTL kept), raw-encoded as in Redis. The
 * key is signalled as modified (WATCH, client-side caching).
 */
function storeHll(
  c: ClientState,
  key: string,
  h: BytesEntry | null,
  b: Uint8Array,
  oldLength: number,
): void {
  if (h !== null) {
    h.changed(b);
    c.db.bytesChanged(key, h, oldLength);
    return;
  }
  c.db.set(key, bytesToBinary(b));
  const e = c.db.lookup(key, false);
  if (e !== undefined) e.enc = "raw";
}

/** A HLL rewritten without a logical change (see Database.storeUnchanged): no signal. */
function storeUnchanged(c: ClientState, key: string, h: BytesEntry, b: Uint8Array): void {
  const oldLength = h.bytes.length;
  h.changed(b);
  c.db.bytesChanged(key, h, oldLength, false);
}

function pfadd(s: Engine, c: ClientState, argv: string[]): void {
  const key = argv[1]!;
  const h = readHll(s, c, key);
  if (h === REPLIED) return;
  if (h !== null) unshare(h);
  // The registers change in place (a sparse body that grows is a new array).
  let b = h?.bytes ?? createHll();
  const oldLength = b.length;
  let updated = h === null ? 1 : 0;
  const max = sparseMax(s);
  for (let i = 2; i < argv.length; i++) {
    const r = hllAdd(b, argv[i]!, max);
    if (r === "invalid") {
      // Redis changes the value in place: registers set before the bad opcode stay set, and
      // each sparse register it set has invalidated the cached count.
      if (updated > 0) invalidateCache(b);
      if (h !== null) storeUnchanged(c, key, h, b);
      return c.error(INVALID_HLL_ERR);
    }
    b = r.value;
    if (r.changed) updated++;
  }
  // A PFADD that changes no register (nor creates the key) is no write: no signal, no event.
  if (updated > 0) {
    invalidateCache(b);
    storeHll(c, key, h, b, oldLength);
    s.notify(NOTIFY.STRING, "pfadd", key, c.db.id);
    s.dirty += updated;
  }
  c.out.int(updated > 0 ? 1 : 0);
}

function pfcount(s: Engine, c: ClientState, argv: string[]): void {
  if (argv.length > 2) return pfcountMany(s, c, argv);
  const key = argv[1]!;
  const h = readHll(s, c, key);
  if (h === REPLIED) return;
  if (h === null) return c.out.int(0);
  unshare(h);
  const b = h.bytes;
  const cached = cachedCount(b);
  if (cached !== null) return c.out.int(cached);
  const n = countHll(b);
  if (n === null) return c.error(INVALID_HLL_ERR);
  setCachedCount(b, n);
  // The cached count changes the value: Redis signals the key as modified (no event) and
  // replicates the PFCOUNT, a read-only command.
  storeHll(c, key, h, b, b.length);
  s.dirty++;
  s.propagation.also(c.db.id, argv);
  c.out.int(n);
}

/** PFCOUNT of several keys: the count of their union, with nothing cached. */
function pfcountMany(s: Engine, c: ClientState, argv: string[]): void {
  const max = new Uint8Array(HLL_REGISTERS);
  for (let i = 1; i < argv.length; i++) {
    const h = readHll(s, c, argv[i]!);
    if (h === REPLIED) return;
    if (h === null) continue;
    if (!mergeInto(max, h.bytes)) return c.error(INVALID_HLL_ERR);
  }
  c.out.int(countRegisters(max));
}

function pfmerge(s: Engine, c: ClientState, argv: string[]): void {
  const max = new Uint8Array(HLL_REGISTERS);
  let dense = false;
  let target: BytesEntry | null = null;
  // Every key, the destination too, is looked up as a read, as in Redis.
  for (let i = 1; i < argv.length; i++) {
    const h = readHll(s, c, argv[i]!, true);
    if (h === REPLIED) return;
    if (h === null) continue;
    if (i === 1) target = h;
    if (encodingOf(h.bytes) === HLL_DENSE) dense = true;
    if (!mergeInto(max, h.bytes)) return c.error(INVALID_HLL_ERR);
  }
  const dst = argv[1]!;
  // The destination is left as it was when the merge fails: it is built on a copy.
  const dstEntry = target;
  if (dstEntry !== null) unshare(dstEntry);
  const oldLength = dstEntry?.bytes.length ?? 0;
  let b = dstEntry === null ? createHll() : dstEntry.bytes.slice();
  if (dense) {
    const d = toDense(b);
    if (d === null) return c.error(INVALID_HLL_ERR);
    b = d;
  }
  const out = writeRegisters(b, max, sparseMax(s));
  if (out === null) return c.error(INVALID_HLL_ERR);
  invalidateCache(out);
  storeHll(c, dst, dstEntry, out, oldLength);
  // PFMERGE raises `pfadd`, as Redis does (a merge adds many elements).
  s.notify(NOTIFY.STRING, "pfadd", dst, c.db.id);
  s.dirty++;
  c.out.ok();
}

function pfdebug(s: Engine, c: ClientState, argv: string[]): void {
  const sub = argv[1]!;
  const key = argv[2]!;
  if (c.db.lookup(key) === undefined) return c.error("ERR The specified key does not exist");
  const h = readHll(s, c, key);
  if (h === REPLIED || h === null) return;
  unshare(h);
  // A conversion to dense is the same registers in another encoding: Redis replicates it but
  // does not signal the key as modified (WATCH, client-side caching) nor raise an event.
  const storeConverted = (d: Uint8Array) => storeUnchanged(c, key, h, d);
  const b = h.bytes;
  switch (sub.toLowerCase()) {
    case "getreg": {
      let d = b;
      if (encodingOf(b) !== HLL_DENSE) {
        const conv = toDense(b);
        if (conv === null) return c.error(INVALID_HLL_ERR);
        d = conv;
        storeConverted(d);
        s.dirty++;
      }
      c.out.array(HLL_REGISTERS);
      for (let i = 0; i < HLL_REGISTERS; i++) c.out.int(denseGet(d, i));
      return;
    }
    case "decode":
      if (encodingOf(b) === HLL_DENSE) return c.error("ERR HLL encoding is not sparse");
      return c.out.bulk(decodeSparse(b));
    case "encoding":
      return c.out.simple(encodingOf(b) === HLL_DENSE ? "dense" : "sparse");
    case "todense": {
      if (encodingOf(b) === HLL_DENSE) return c.out.int(0);
      const d = toDense(b);
      if (d === null) return c.error(INVALID_HLL_ERR);
      storeConverted(d);
      s.dirty++;
      return c.out.int(1);
    }
    default:
      return c.error(`ERR Unknown PFDEBUG subcommand '${sub}'`);
  }
}

/** Number of elements PFSELFTEST adds while checking the estimate's error. */
const SELFTEST_ELEMENTS = 100_000;

/**
 * PFSELFTEST: checks the register packing, that sparse and dense values count alike, and that
 * the estimate stays within the expected error; replies OK or the first failure.
 */
function pfselftest(_s: Engine, c: ClientState): void {
  const failure = selfTest();
  if (failure !== null) return c.error(`ERR TESTFAILED ${failure}`);
  c.out.ok();
}

function selfTest(): string | null {
  // 1) Every register keeps any 6-bit value without disturbing its neighbours.
  const d = toDense(createHll())!;
  const want = new Uint8Array(HLL_REGISTERS);
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
  for (let round = 0; round < 4; round++) {
    for (let i = 0; i < HLL_REGISTERS; i++) {
      want[i] = rand() & 63;
      denseSet(d, i, want[i]!);
    }
    for (let i = 0; i < HLL_REGISTERS; i++) {
      if (denseGet(d, i) !== want[i]) return `Register error at ${i}`;
    }
  }
  // 2) The same elements counted in a sparse and a dense value give the same estimate, and
  //    the estimate's relative error stays within 5 standard errors (1.04 / sqrt(m)).
  let sparse = createHll();
  let dense = toDense(createHll())!;
  const tolerance = 5 * 1.04 / Math.sqrt(HLL_REGISTERS);
  for (let n = 1; n <= SELFTEST_ELEMENTS; n++) {
    const el = `selftest:${n}`;
    const a = hllAdd(sparse, el, 3000), b = hllAdd(dense, el, 0);
    if (a === "invalid" || b === "invalid") return "invalid representation";
    sparse = a.value;
    dense = b.value;
    if (n % 1000 !== 0 && n !== 10 && n !== 100) continue;
    const cs = countHll(sparse), cd = countHll(dense);
    if (cs !== cd) return `Sparse and dense counts differ at ${n}: ${cs} != ${cd}`;
    if (Math.abs((cd ?? 0) - n) / n > tolerance) return `Error too big at ${n}: ${cd}`;
  }
  // 3) The register an element lands in is the one its hash names.
  const probe = patternOf("selftest:1");
  const regs = registersOf(dense)!;
  if (regs[probe.index]! < probe.count) return "Element not in its register";
  const r = setRegister(createHll(), 0, 1, 3000);
  if (r === "invalid" || countHll(r.value) !== 1) return "Single register count is not 1";
  return null;
}

const m = (summary: string, since: string, complexity = "O(1)") => ({
  summary,
  since,
  complexity,
});

export const HYPERLOGLOG_COMMANDS: CommandDef[] = [
  cmd(
    "pfadd",
    -2,
    "write denyoom fast",
    [1, 1, 1],
    "hyperloglog",
    pfadd,
    m("Adds elements to a HyperLogLog key. Creates the key if it doesn't exist.", "2.8.9"),
  ),
  cmd(
    "pfcount",
    -2,
    "readonly",
    [1, -1, 1],
    "hyperloglog",
    pfcount,
    m(
      "Returns the approximated cardinality of the set(s) observed by the HyperLogLog key(s).",
      "2.8.9",
      "O(1) with a very small average constant time when called with a single key. O(N) with N being the number of keys, and much bigger constant times, when called with multiple keys.",
    ),
  ),
  cmd(
    "pfmerge",
    -2,
    "write denyoom",
    [1, -1, 1],
    "hyperloglog",
    pfmerge,
    m(
      "Merges one or more HyperLogLog values into a single key.",
      "2.8.9",
      "O(N) to merge N HyperLogLogs, but with high constant times.",
    ),
  ),
  cmd(
    "pfdebug",
    3,
    "write denyoom admin",
    [2, 2, 1],
    "hyperloglog",
    pfdebug,
    m("Internal commands for debugging HyperLogLog values.", "2.8.9", "N/A"),
  ),
  cmd(
    "pfselftest",
    1,
    "admin",
    null,
    "hyperloglog",
    pfselftest,
    m("An internal command for testing HyperLogLog values.", "2.8.9", "N/A"),
  ),
];
