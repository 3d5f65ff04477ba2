/**
 * Run with `--v8-flags=--expose-gc`: fills a Database with N keys of each kind and prints, as
 * JSON, the V8 heap growth per key after a full collection next to the memory estimate per key
 * (Database.bytes), so a test can check that used_memory tracks what is really stored.
 */
import { Database, type KeyspaceHooks } from "../../data-node/store/database.ts";
import type { Value } from "../../data-node/store/types.ts";
import { utf8ToBinary } from "../../shared/resp/bytes.ts";
import { HashValue } from "../../data-node/store/hash.ts";
import { ZSetValue } from "../../data-node/store/zset.ts";
import { ListValue } from "../../data-node/store/list.ts";
import { SetValue } from "../../data-node/store/set.ts";

const gc = (globalThis as unknown as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --v8-flags=--expose-gc");

/**
 * The access clock the keys get: the real one, one tick for all (small strings are then held
 * bare, without an entry: see database.ts), or a new tick per key (each gets its entry).
 */
type ClockKind = "real" | "shared" | "per key";
let clock = "real" as ClockKind;
let ticks = 0;
const hooks: KeyspaceHooks = {
  lruClock: () =>
    clock === "shared" ? 1000 : clock === "per key" ? ++ticks : Math.floor(Date.now() / 1000),
  nowMs: () => Date.now(),
  onExpired: () => {},
  expiryMode: () => "delete",
  lfu: () => false,
  lfuParams: () => ({ logFactor: 10, decayMinutes: 1 }),
  keyModified: () => {},
  keyAdded: () => {},
};

const N = Number(Deno.args[0] ?? 200_000);
const ten = (i: number, what: string) => Array.from({ length: 10 }, (_, j) => `${what}:${i}:${j}`);
const LIMITS = { maxEntries: 128, maxValue: 64 };
const kinds: Record<string, (i: number) => Value> = {
  // Flat strings decoded from bytes, as values arriving from clients are.
  "small string": (i) => utf8ToBinary(`value:${i}`),
  "small string, own entry": (i) => utf8ToBinary(`value:${i}`),
  "100-byte string": (i) => utf8ToBinary(`${i}:`.padEnd(100, "x")),
  "hash of 10": (i) => {
    const h = new HashValue(ten(i, "f").map((f, j) => [f, `v${j}`]));
    h.checkEncoding(LIMITS);
    return h;
  },
  "sorted set of 10": (i) => {
    const z = ZSetValue.fromEntries(ten(i, "m").map((m, j) => [m, j]));
    z.checkEncoding(LIMITS);
    return z;
  },
  "list of 10": (i) => {
    const l = new ListValue(ten(i, "e"));
    l.checkEncoding(-2);
    return l;
  },
  "set of 10": (i) => {
    const s = new SetValue(ten(i, "s"));
    s.checkEncoding(512);
    return s;
  },
  "hash of 500": (i) => {
    const h = new HashValue(
      Array.from({ length: 500 }, (_, j) => [`field:${i}:${j}`, `value:${j}`]),
    );
    h.checkEncoding(LIMITS);
    return h;
  },
};

/** The clock of each kind (else the real one). */
const CLOCKS: Record<string, ClockKind> = {
  "small string": "shared",
  "small string, own entry": "per key",
};

/** Fewer keys for the big kinds, so the probe stays quick. */
const SCALE: Record<string, number> = { "hash of 500": 0.01 };

const results = [];
/** Every database stays alive, so freeing one kind's keys never shows in the next one's delta. */
const keep: Database[] = [];
for (const [kind, make] of Object.entries(kinds)) {
  const prefix = `k${results.length}`;
  gc();
  gc();
  const before = Deno.memoryUsage().heapUsed;
  const n = Math.max(1, Math.floor(N * (SCALE[kind] ?? 1)));
  clock = CLOCKS[kind] ?? "real";
  const db = new Database(0, hooks);
  // Keys of their own per kind: equal key strings of an earlier kind were seen to end up sharing
  // one storage (32 bytes per key less), which hid the keys' cost from every kind but the first.
  for (let i = 0; i < n; i++) db.set(`${prefix}:${i}`, make(i));
  keep.push(db);
  gc();
  gc();
  const heap = Deno.memoryUsage().heapUsed - before;
  results.push({ kind, heapPerKey: heap / n, estimatePerKey: db.bytes / n, keys: db.size, n });
}
console.log(JSON.stringify(results));
