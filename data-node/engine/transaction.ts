/** A client's transaction state: what MULTI queued, and the keys it WATCHes. */
import type { Client } from "../server/client.ts";

export function discardTransaction(c: Client): void {
  c.multi = null;
  c.multiError = false;
  c.multiDenyOom = false;
  c.multiDenyStale = false;
  c.multiDenyAsyncLoading = false;
  c.multiMayReplicate = false;
}

export function unwatchAll(c: Client): void {
  for (const [db, keys] of c.watching) {
    for (const [k, wk] of keys) {
      const ws = db.watched.get(k);
      if (!ws) continue;
      ws.delete(wk);
      if (ws.size === 0) db.watched.delete(k);
    }
  }
  c.watching.clear();
  c.dirtyCas = false;
}

/** A key watched while it existed has expired since: EXEC fails, as in Redis 7. */
export function watchedKeyExpired(c: Client): boolean {
  for (const [db, keys] of c.watching) {
    for (const [k, wk] of keys) if (!wk.expired && db.keyIsExpired(k)) return true;
  }
  return false;
}
