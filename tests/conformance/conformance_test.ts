/**
 * Runs every case against our data node and a real redis-server 7.0 and compares replies. Each
 * case runs on fresh connections after FLUSHALL, in RESP2 and again in RESP3.
 */
import { deepStrictEqual } from "node:assert/strict";
import {
  encodeCommand,
  encodeValue,
  RespMap,
  RespPush,
  RespSet,
  type RespValue,
} from "../../shared/resp/mod.ts";
import { hasRedis, startDataNode, startRedisServer } from "../helpers/process.ts";
import { RawConn } from "../helpers/raw.ts";
import { type Case, CASES, type Step } from "./cases.ts";

const bin = new TextDecoder("latin1");

function key(v: RespValue): string {
  return bin.decode(encodeValue(v, 3));
}

function items(v: RespValue): RespValue[] | null {
  if (Array.isArray(v)) return v;
  if (v instanceof RespSet || v instanceof RespPush) return v.items;
  return null;
}

/** The structure of a reply without its scalar contents. */
function shapeOf(v: RespValue): unknown {
  const it = items(v);
  if (it) return { agg: v!.constructor.name, n: it.length };
  if (v instanceof RespMap) return { map: v.entries.map(([k]) => key(k)) };
  return typeof v === "object" && v !== null ? v.constructor.name : typeof v;
}

function normalize(step: Step, v: RespValue): unknown {
  if (step.shape) return shapeOf(v);
  if (step.sortScan && Array.isArray(v) && Array.isArray(v[1])) {
    return [key(v[0]!), v[1].map(key).sort()];
  }
  if (step.sort) {
    const it = items(v);
    if (it) return it.map(key).sort();
  }
  return key(v);
}

async function runCase(port: number, kase: Case, proto: 2 | 3): Promise<unknown[]> {
  const conns = [await RawConn.connect(port), await RawConn.connect(port)];
  try {
    await conns[0]!.call("FLUSHALL");
    if (proto === 3) { for (const c of conns) await c.call("HELLO", "3"); }
    const out: unknown[] = [];
    for (const s of kase.steps) {
      const step: Step = Array.isArray(s) ? { cmd: s } : s;
      const conn = conns[step.conn ?? 0]!;
      if (step.noReply) {
        // No reply is read; the next command's reply shows whether one was sent anyway.
        await conn.write(encodeCommand(step.cmd));
        out.push("sent");
        continue;
      }
      out.push(normalize(step, await conn.call(...step.cmd)));
    }
    return out;
  } finally {
    for (const c of conns) c.close();
  }
}

Deno.test({
  name: "conformance: replies match a real redis-server 7.0 byte for byte",
  ignore: !hasRedis,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    await using ours = await startDataNode(["--enable-debug-command", "yes"]);
    await using redis = await startRedisServer(["--enable-debug-command", "yes"]);
    for (const kase of CASES) {
      for (const proto of [2, 3] as const) {
        if (kase.proto && kase.proto !== proto) continue;
        await t.step(`${kase.name} (RESP${proto})`, async () => {
          const expected = await runCase(redis.port, kase, proto);
          const actual = await runCase(ours.port, kase, proto);
          const steps = kase.steps.map((s) => (Array.isArray(s) ? s : s.cmd).join(" "));
          const rows = steps.map((cmd, i) => ({ cmd, expected: expected[i], actual: actual[i] }));
          deepStrictEqual(
            rows.filter((r) => JSON.stringify(r.expected) !== JSON.stringify(r.actual)),
            [],
          );
        });
      }
    }
  },
});

if (!hasRedis) console.log("SKIP: redis-server not installed: conformance suite");

/** Field names of `INFO everything`, per section (latency histograms are not kept here). */
async function infoFields(port: number): Promise<string[]> {
  using c = await RawConn.connect(port);
  await c.call("SET", "a", "1");
  const text = String(await c.call("INFO", "everything"));
  const names = text.split("\r\n").filter((l) => l && !l.startsWith("latency_percentiles_usec_"))
    .map((l) => l.split(":")[0]!);
  // Redis lists commandstats in its hash table's order: compare them as a set.
  const stats = names.filter((n) => n.startsWith("cmdstat_")).sort();
  return [...names.filter((n) => !n.startsWith("cmdstat_")), ...stats];
}

Deno.test({
  name: "INFO has Redis 7.0's sections and field names, in Redis's order",
  ignore: !hasRedis,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using ours = await startDataNode();
    await using redis = await startRedisServer();
    deepStrictEqual(await infoFields(ours.port), await infoFields(redis.port));
  },
});

/** Arity, flags, key positions and ACL categories of one COMMAND INFO entry. */
function commandShape(v: RespValue | undefined): unknown {
  if (!Array.isArray(v)) return null;
  const list = (x: RespValue | undefined) =>
    (Array.isArray(x) ? x : x instanceof RespSet ? x.items : []).map(String).sort().join(" ");
  return { arity: v[1], flags: list(v[2]), keys: [v[3], v[4], v[5]], acl: list(v[6]) };
}

Deno.test({
  name: "COMMAND INFO matches redis-server for every command we implement",
  ignore: !hasRedis,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using ours = await startDataNode();
    await using redis = await startRedisServer();
    using a = await RawConn.connect(ours.port);
    using b = await RawConn.connect(redis.port);
    const names = (await a.call("COMMAND", "LIST")) as string[];
    const diffs: unknown[] = [];
    for (const n of names) {
      const [x] = (await a.call("COMMAND", "INFO", n)) as RespValue[];
      const [y] = (await b.call("COMMAND", "INFO", n)) as RespValue[];
      const [sx, sy] = [commandShape(x), commandShape(y)];
      if (JSON.stringify(sx) !== JSON.stringify(sy)) diffs.push({ n, ours: sx, redis: sy });
    }
    deepStrictEqual(diffs, []);
  },
});
