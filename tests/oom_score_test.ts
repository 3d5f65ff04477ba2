/**
 * oom-score-adj against the kernel's score of the server process (Linux): relative and absolute
 * modes, the replica class, and the score from before restored when turned off; the same on
 * redis-server.
 */
import { equal } from "node:assert/strict";
import { hasRedis, startDataNode, startRedisServer } from "./helpers/process.ts";
import { RawConn } from "./helpers/raw.ts";

const hasProc = (() => {
  try {
    Deno.readTextFileSync("/proc/self/oom_score_adj");
    return true;
  } catch {
    return false;
  }
})();

for (const impl of ["ours", "redis"] as const) {
  const name = `${impl}: oom-score-adj sets the process's OOM score and restores it when off`;
  Deno.test({
    name,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      if (!hasProc) return console.log(`SKIP: ${name}: no /proc/self/oom_score_adj here`);
      if (impl === "redis" && !hasRedis) {
        return console.log(`SKIP: ${name}: redis-server not installed`);
      }
      await using p = impl === "ours" ? await startDataNode() : await startRedisServer();
      const file = `/proc/${p.pid}/oom_score_adj`;
      const score = () => Number(Deno.readTextFileSync(file).trim());
      using c = await RawConn.connect(p.port);
      const set = async (...args: string[]) =>
        equal(String(await c.call("CONFIG", "SET", ...args)), "OK");
      Deno.writeTextFileSync(file, "22\n");
      // Values changed while off leave the score alone.
      await set("oom-score-adj-values", "9 19 29");
      equal(score(), 22);
      await set("oom-score-adj", "yes");
      equal(score(), 22 + 9);
      await set("oom-score-adj-values", "15 19 29");
      equal(score(), 22 + 15);
      equal(String(await c.call("REPLICAOF", "127.0.0.1", "1")), "OK");
      equal(score(), 22 + 19);
      equal(String(await c.call("REPLICAOF", "NO", "ONE")), "OK");
      equal(score(), 22 + 15);
      await set("oom-score-adj", "absolute");
      equal(score(), 15);
      await set("oom-score-adj-values", "2000 0 0");
      equal(score(), 1000, "clamped to the kernel's range");
      await set("oom-score-adj", "no");
      equal(score(), 22);
    },
  });
}
