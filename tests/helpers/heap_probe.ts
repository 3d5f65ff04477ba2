/**
 * Run with `--v8-flags=--expose-gc`: fills a Database with N keys of each kind and prints, as
 * JSON, the V8 heap growth per key after a full collection next to the memory estimate per key
 * (Database.bytes), so a test can check that used_memory tracks what is really stored.
 */
import { Database, type KeyspaceHooks } from "../../data-node/store/database.ts";
import type { Value } from "../../data-node/store/types.ts";

const gc = (globalThis as unknown as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --v8-flags=--expose-gc");

const hooks: KeyspaceHooks = {
  lruClock: () => Math.floor(Date.now() / 1000),
  nowMs: () => Date.now(),
  onExpired: () => {},
  expiryMode: () => "delete",
  lfu: () => false,
  lfuParams: () => ({ logFactor: 10, decayMinutes: 1 }),
  keyModified: () => {},
};

const N = Number(Deno.args[0] ?? 200_000);
const kinds: Record<string, (i: number) => Value> = {
  "small string": (i) => `value:${i}`,
  "100-byte string": (i) => `${i}:`.padEnd(100, "x"),
};

const results = [];
for (const [kind, make] of Object.entries(kinds)) {
  gc();
  gc();
  const before = Deno.memoryUsage().heapUsed;
  const db = new Database(0, hooks);
  for (let i = 0; i < N; i++) db.set(`key:${i}`, make(i));
  gc();
  gc();
  const heap = Deno.memoryUsage().heapUsed - before;
  results.push({ kind, heapPerKey: heap / N, estimatePerKey: db.bytes / N, keys: db.size });
}
console.log(JSON.stringify(results));
