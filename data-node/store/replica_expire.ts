/**
 * Expiry of the keys a writable replica's own clients gave a TTL (`replica-read-only no`), as
 * Redis's expireSlaveKeys does. A replica expires nothing of its master's (the master's DELs do
 * that), so without this a key written on the replica with EX would stay in memory, counted by
 * DBSIZE and saved, long after its TTL: the master never heard of it.
 *
 * The keys are remembered per database when their TTL is set by a client that is not the
 * master; the cron checks them, deleting the expired ones (as a master's active expiry does,
 * with the `expired` event and the DEL to the AOF) and forgetting the ones without a TTL any
 * more. FLUSHALL, SWAPDB and a full sync forget them all, as in Redis.
 */
import { ttlPassed } from "./types.ts";
import type { Database } from "./database.ts";

/** Keys checked between two looks at the clock. */
const KEYS_PER_CLOCK_CHECK = 64;

export class ReplicaKeysWithExpire {
  /** Database index -> keys set with a TTL by the replica's own clients. */
  private readonly byDb = new Map<number, Set<string>>();
  /** Where the last cycle stopped in each database's keys (resumed by the next one). */
  private readonly cursors = new Map<number, Iterator<string>>();

  remember(dbId: number, key: string): void {
    let keys = this.byDb.get(dbId);
    if (keys === undefined) this.byDb.set(dbId, keys = new Set());
    keys.add(key);
  }

  /** Keys remembered, over every database. */
  get size(): number {
    let n = 0;
    for (const keys of this.byDb.values()) n += keys.size;
    return n;
  }

  clear(): void {
    this.byDb.clear();
    this.cursors.clear();
  }

  /**
   * Deletes the remembered keys whose TTL has passed, within `budgetMs`; each database's walk
   * resumes where the last one stopped, so every key is seen however many there are.
   */
  cycle(dbs: readonly Database[], nowMs: number, budgetMs: number): void {
    if (this.byDb.size === 0) return;
    const deadline = performance.now() + budgetMs;
    let checked = 0;
    for (const [dbId, keys] of this.byDb) {
      const db = dbs[dbId];
      const cursor = this.cursors.get(dbId) ?? keys.values();
      let seen = 0;
      const total = keys.size;
      let finished = false;
      while (seen < total) {
        const r = cursor.next();
        if (r.done) {
          finished = true;
          break;
        }
        seen++;
        const key = r.value;
        const at = db?.getExpire(key);
        if (db === undefined || at === undefined) {
          keys.delete(key);
        } else if (ttlPassed(at, nowMs)) {
          keys.delete(key);
          db.expireNow(key);
        }
        if (++checked % KEYS_PER_CLOCK_CHECK === 0 && performance.now() > deadline) {
          this.cursors.set(dbId, cursor);
          return;
        }
      }
      if (finished || seen >= total) this.cursors.delete(dbId);
      if (keys.size === 0) this.byDb.delete(dbId);
    }
  }
}
