/** The blocking half shared by BLPOP-style and BZPOP-style commands. */
import type { Client } from "../server/client.ts";
import type { Server } from "../server/server.ts";
import { parseTimeoutSeconds } from "./define.ts";
import { REPLIED } from "./access.ts";

export interface BlockingCall {
  keys: string[];
  timeoutArg: string;
  /** The value type that can serve the wait. */
  type: "list" | "zset";
  /**
   * Serves from the first usable key of `keys`: replies and returns true, false when there is
   * nothing to serve, REPLIED after an error. Sets c.rewrittenArgv to what replicates.
   */
  attempt: (keys: string[]) => boolean | typeof REPLIED;
  /** What MULTI gets instead of blocking: BLPOP a null array, BLMOVE a null bulk. */
  nullInExec?: "array" | "bulk";
}

/**
 * Runs the command now; if nothing can serve it, blocks on the keys. When a key becomes ready
 * the client is served from that key, and only if it holds the right type (otherwise it keeps
 * waiting), as Redis 7.0 does; the pop then replicates as its non-blocking form.
 */
export function runBlocking(s: Server, c: Client, b: BlockingCall): void | Promise<void> {
  const timeoutMs = parseTimeoutSeconds(b.timeoutArg);
  if (typeof timeoutMs === "string") return c.error(timeoutMs);
  if (b.attempt(b.keys) !== false) return;
  if (c.inExec) return b.nullInExec === "bulk" ? c.out.nullBulk() : c.out.nullArray();
  const db = c.db;
  return s.blocking.block(c, {
    db,
    keys: b.keys,
    timeoutMs,
    retry: (key) => {
      const e = db.dict.get(key);
      if (!e || typeof e.value === "string" || e.value.type !== b.type) return false;
      const saved = c.db;
      c.db = db;
      c.rewrittenArgv = null;
      try {
        const served = b.attempt([key]);
        if (served === true && c.rewrittenArgv) s.propagate(db.id, c.rewrittenArgv);
        return served !== false;
      } finally {
        c.db = saved;
      }
    },
    onTimeout: () => c.out.nullArray(),
  });
}
