/**
 * maxmemory eviction with Redis's policies. Like Redis it samples instead of keeping exact
 * orderings: each eviction looks at `maxmemory-samples` keys per database (walking a
 * persistent iterator from a random offset, since Maps have no random access) and evicts the
 * best candidate: the least recently used (LRU), least frequently used (LFU), nearest expiry
 * (volatile-ttl) or any (random). volatile-* policies only consider keys with a TTL.
 */
import type { Database } from "./database.ts";
import { idleSeconds, lfuDecayed } from "./types.ts";

export type Policy =
  | "noeviction"
  | "allkeys-lru"
  | "allkeys-lfu"
  | "allkeys-random"
  | "volatile-lru"
  | "volatile-lfu"
  | "volatile-random"
  | "volatile-ttl";

interface Candidate {
  db: Database;
  key: string;
  /** Lower is evicted first. */
  score: number;
}

const iters = new WeakMap<
  Database,
  { all?: Iterator<string> | undefined; volatile?: Iterator<string> | undefined }
>();

/** Up to n keys of a db, continuing where the last sample stopped. */
function sampleKeys(db: Database, volatile: boolean, n: number): string[] {
  const source = volatile ? db.expires : db;
  if (source.size === 0) return [];
  let st = iters.get(db);
  if (!st) iters.set(db, st = {});
  const out: string[] = [];
  // A random skip spreads samples when many evictions run back to back.
  let skip = Math.floor(Math.random() * Math.min(source.size, 16));
  for (let guard = 0; out.length < n && guard < n + skip + source.size; guard++) {
    let it = volatile ? st.volatile : st.all;
    if (!it) {
      it = source.keys();
      if (volatile) st.volatile = it;
      else st.all = it;
    }
    const r = it.next();
    if (r.done) {
      if (volatile) st.volatile = undefined;
      else st.all = undefined;
      if (out.length > 0 || guard > source.size) break;
      continue;
    }
    if (skip > 0) {
      skip--;
      continue;
    }
    out.push(r.value);
  }
  return out;
}

function score(db: Database, key: string, policy: Policy, nowSec: number, decay: number): number {
  const e = db.peek(key);
  if (!e) return Infinity;
  if (policy.endsWith("-lru")) return -idleSeconds(e.clock, nowSec);
  if (policy.endsWith("-lfu")) return lfuDecayed(e.clock, nowSec, decay);
  if (policy === "volatile-ttl") return db.expires.get(key) ?? Infinity;
  return Math.random();
}

/** Picks one key to evict across all dbs, or null when the policy finds none. */
export function pickVictim(
  dbs: Database[],
  policy: Policy,
  samples: number,
  decayMinutes: number,
): Candidate | null {
  if (policy === "noeviction") return null;
  const volatile = policy.startsWith("volatile-");
  const nowSec = Math.floor(Date.now() / 1000);
  let best: Candidate | null = null;
  for (const db of dbs) {
    for (const key of sampleKeys(db, volatile, samples)) {
      const sc = score(db, key, policy, nowSec, decayMinutes);
      if (!best || sc < best.score) best = { db, key, score: sc };
    }
  }
  return best;
}
