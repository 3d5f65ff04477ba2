/**
 * The SCAN family's guarantee: a full iteration returns every element present for the whole
 * iteration, even while the collection grows, shrinks and changes encoding underneath.
 */
import { ok } from "node:assert/strict";
import { startDataNode } from "./helpers/process.ts";
import { RawConn } from "./helpers/raw.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

async function fullScan(c: RawConn, cmd: string[], mutate: (round: number) => Promise<void>) {
  const seen = new Set<string>();
  let cursor = "0", round = 0;
  do {
    const [next, items] = await c.call(...cmd.slice(0, cmd.length - 0), cursor, "COUNT", "50") as [
      string,
      string[],
    ];
    const step = cmd[0] === "SCAN" || cmd[0] === "SSCAN" ? 1 : 2;
    for (let i = 0; i < items.length; i += step) seen.add(items[i]!);
    cursor = next;
    await mutate(round++);
  } while (cursor !== "0");
  return seen;
}

Deno.test({
  name: "SCAN, HSCAN, SSCAN and ZSCAN return every element present for the whole iteration",
  ...opts,
  fn: async () => {
    await using n = await startDataNode();
    using c = await RawConn.connect(n.port);
    using w = await RawConn.connect(n.port);
    const stable = Array.from({ length: 2000 }, (_, i) => `s${i}`);
    for (let i = 0; i < stable.length; i += 100) {
      const chunk = stable.slice(i, i + 100);
      await c.call("MSET", ...chunk.flatMap((k) => [k, "v"]));
      await c.call("HSET", "h", ...chunk.flatMap((k) => [k, "v"]));
      await c.call("SADD", "set", ...chunk);
      await c.call("ZADD", "z", ...chunk.flatMap((k, j) => [String(i + j), k]));
    }
    let extra = 0;
    // Every round adds 30 and removes 10 transient elements: growth, shrinkage, churn.
    const mutate = async (round: number) => {
      const add = Array.from({ length: 30 }, () => `t${extra++}`);
      await w.call("MSET", ...add.flatMap((k) => [k, "v"]));
      await w.call("HSET", "h", ...add.flatMap((k) => [k, "v"]));
      await w.call("SADD", "set", ...add);
      await w.call("ZADD", "z", ...add.flatMap((k) => ["0.5", k]));
      const del = Array.from({ length: 10 }, (_, i) => `t${round * 30 + i}`);
      await w.call("DEL", ...del);
      await w.call("HDEL", "h", ...del);
      await w.call("SREM", "set", ...del);
      await w.call("ZREM", "z", ...del);
    };
    for (const cmd of [["SCAN"], ["HSCAN", "h"], ["SSCAN", "set"], ["ZSCAN", "z"]]) {
      const seen = await fullScan(c, cmd, mutate);
      const missing = stable.filter((k) => !seen.has(k));
      ok(missing.length === 0, `${cmd[0]} missed ${missing.length} stable elements`);
    }
  },
});

Deno.test({
  name: "SSCAN of a small hash-table set keeps the guarantee while the set grows past 128",
  ...opts,
  fn: async () => {
    await using n = await startDataNode();
    using c = await RawConn.connect(n.port);
    using w = await RawConn.connect(n.port);
    // 100 string members: a hash-table set held compactly until it passes 128 members.
    const stable = Array.from({ length: 100 }, (_, i) => `m${i}`);
    await c.call("SADD", "small", ...stable);
    let extra = 0;
    let sizeAfterFirstPage = 0;
    const mutate = async (round: number) => {
      await w.call("SADD", "small", ...Array.from({ length: 40 }, () => `t${extra++}`));
      await w.call("SREM", "small", ...Array.from({ length: 5 }, (_, i) => `t${round * 40 + i}`));
      if (round === 0) sizeAfterFirstPage = Number(await w.call("SCARD", "small"));
    };
    const seen = await fullScan(c, ["SSCAN", "small"], mutate);
    const missing = stable.filter((k) => !seen.has(k));
    ok(missing.length === 0, `SSCAN missed ${missing.length} stable members`);
    ok(sizeAfterFirstPage > 128, "the set grew past 128 members in the middle of the scan");
  },
});
