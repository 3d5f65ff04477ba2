/**
 * The active half of expiry, shaped like Redis's activeExpireCycle: each tick walks a bounded
 * sample of keys that have a TTL (resuming where the last tick stopped, as Redis's expires
 * cursor does) and deletes the expired ones; while more than 10% of a sample was expired it
 * keeps going, within a time budget, so that memory held by logically dead keys stays bounded.
 */
import { ttlPassed } from "./types.ts";
import type { Database } from "./database.ts";

const KEYS_PER_LOOP = 20;
const ACCEPTABLE_STALE_PERCENT = 10;

export function activeExpireCycle(dbs: Database[], nowMs: number, budgetMs: number): void {
  const deadline = performance.now() + budgetMs;
  for (const db of dbs) {
    if (db.expires.size === 0) continue;
    for (;;) {
      const { sampled, expired } = sampleOnce(db, nowMs);
      if (sampled === 0) break;
      if (expired * 100 / sampled <= ACCEPTABLE_STALE_PERCENT) break;
      if (performance.now() > deadline) return;
    }
  }
}

function sampleOnce(db: Database, nowMs: number): { sampled: number; expired: number } {
  let sampled = 0, expired = 0, ttlSum = 0;
  const limit = Math.min(KEYS_PER_LOOP, db.expires.size);
  while (sampled < limit) {
    if (db.expireIter === null) db.expireIter = db.expires.entries();
    const r = db.expireIter.next();
    if (r.done) {
      db.expireIter = null;
      if (sampled === 0) db.expireIter = db.expires.entries();
      else break;
      continue;
    }
    sampled++;
    const [key, at] = r.value;
    if (ttlPassed(at, nowMs)) {
      db.expireNow(key);
      expired++;
    } else {
      ttlSum += at - nowMs;
    }
  }
  const live = sampled - expired;
  if (live > 0) {
    // Running average like Redis's avg_ttl (INFO keyspace).
    const avg = ttlSum / live;
    db.avgTtlMs = db.avgTtlMs === 0 ? avg : (db.avgTtlMs / 50) * 49 + avg / 50;
  }
  return { sampled, expired };
}
