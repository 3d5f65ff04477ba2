/**
 * The SCAN family's guarantee: a full iteration returns every element present for the whole
 * iteration, even while the collection grows, shrinks and changes encoding underneath.
 */
import { equal, ok } from "node:assert/strict";
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

Deno.test({
  name: "a SCAN call that takes the last elements ends the iteration with cursor 0",
  ...opts,
  fn: async () => {
    for (const cluster of [false, true]) {
      await using n = await startDataNode(cluster ? ["--cluster-enabled", "yes"] : []);
      using c = await RawConn.connect(n.port);
      if (cluster) await c.call("CLUSTER", "ADDSLOTSRANGE", "0", "16383");
      // Keys in different slots, so that a cluster scan crosses slots.
      for (const k of ["k1", "k2", "k3", "k4"]) await c.call("SET", k, "v");
      // COUNT equal to what is there: all of it, and no second call.
      const [cur, keys] = await c.call("SCAN", "0", "COUNT", "4") as [string, string[]];
      equal(cur, "0", `cluster ${cluster}`);
      equal(keys.length, 4);
      // Two calls of 2: the second takes the rest and ends.
      const [c1, k1] = await c.call("SCAN", "0", "COUNT", "2") as [string, string[]];
      ok(c1 !== "0");
      const [c2, k2] = await c.call("SCAN", c1, "COUNT", "2") as [string, string[]];
      equal(c2, "0", `cluster ${cluster}`);
      equal(new Set([...k1, ...k2]).size, 4);
      // A key deleted after the first call is passed over, not waited for.
      const [d1, dk1] = await c.call("SCAN", "0", "COUNT", "3") as [string, string[]];
      ok(d1 !== "0");
      const left = ["k1", "k2", "k3", "k4"].find((k) => !dk1.includes(k))!;
      await c.call("DEL", left);
      const [d2, dk2] = await c.call("SCAN", d1, "COUNT", "1") as [string, string[]];
      equal(d2, "0");
      equal(dk2.length, 0);
      await c.call("SET", left, "v");
    }
    // A large hash (a table, not a listpack) scanned to its last field.
    await using n = await startDataNode();
    using c = await RawConn.connect(n.port);
    const fields = Array.from({ length: 1000 }, (_, i) => [`f${i}`, "v"]).flat();
    await c.call("HSET", "h", ...fields);
    let cursor = "0", calls = 0, seen = 0;
    do {
      const [next, items] = await c.call("HSCAN", "h", cursor, "COUNT", "500") as [
        string,
        string[],
      ];
      cursor = next;
      seen += items.length / 2;
      calls++;
    } while (cursor !== "0");
    equal(await c.call("OBJECT", "ENCODING", "h"), "hashtable");
    equal(seen, 1000);
    equal(calls, 2);
  },
});
