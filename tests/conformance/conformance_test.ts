/**
 * Runs every case against our data node and a real redis-server 7.0 and compares the raw reply
 * bytes. Each case runs on fresh connections after FLUSHALL, in RESP2 and again after HELLO 3.
 * Without redis-server, only the steps with a literal expected reply are checked, on our node.
 */
import { deepStrictEqual } from "node:assert/strict";
import { encodeCommand, NEED_MORE, RespDecoder, type RespValue } from "../../shared/resp/mod.ts";
import { bytesToBinary } from "../../shared/resp/bytes.ts";
import { hasRedis, startDataNode, startRedisServer } from "../helpers/process.ts";
import { RawConn } from "../helpers/raw.ts";
import { type Case, CASES as BASE_CASES, type Step } from "./cases.ts";
import { CASES_ZSETS } from "./cases_zsets.ts";
import { CASES_COLLECTIONS } from "./cases_collections.ts";
import { CASES_KEYS_SERVER } from "./cases_keys_server.ts";
import { CASES_CHANGES } from "./cases_changes.ts";
import { CASES_OPS } from "./cases_ops.ts";
import { CASES_ACL } from "./cases_acl.ts";
import { CASES_NOTIFY } from "./cases_notify.ts";
import { CASES_HLL } from "./cases_hll.ts";
import { CASES_GEO } from "./cases_geo.ts";
import { CASES_SORT } from "./cases_sort.ts";
import { CASES_STREAMS } from "./cases_streams.ts";
import { CASES_STREAMS_MORE } from "./cases_streams_more.ts";
import { CASES_SCRIPTING } from "./cases_scripting.ts";
import { CASES_LUALIBS } from "./cases_lualibs.ts";
import { CASES_SERVER_STATE } from "./cases_server_state.ts";
import { CASES_CORRUPT_DUMP } from "./cases_corrupt_dump.ts";

const CASES: Case[] = [
  ...BASE_CASES,
  ...CASES_ZSETS,
  ...CASES_COLLECTIONS,
  ...CASES_KEYS_SERVER,
  ...CASES_CHANGES,
  ...CASES_OPS,
  ...CASES_ACL,
  ...CASES_NOTIFY,
  ...CASES_HLL,
  ...CASES_GEO,
  ...CASES_SORT,
  ...CASES_STREAMS,
  ...CASES_STREAMS_MORE,
  ...CASES_SCRIPTING,
  ...CASES_LUALIBS,
  ...CASES_SERVER_STATE,
  ...CASES_CORRUPT_DUMP,
];

/** `CONFORMANCE_CASES=text` runs only the cases whose name contains `text` (while working on them). */
const only = Deno.env.get("CONFORMANCE_CASES") ?? "";

/** `CONFORMANCE_NO_REDIS=1` runs the suite as if redis-server were not installed. */
const withRedis = hasRedis && Deno.env.get("CONFORMANCE_NO_REDIS") !== "1";
/** Why the comparisons with a real redis-server do not run, or null when they do. */
const noRedisReason = withRedis
  ? null
  : hasRedis
  ? "CONFORMANCE_NO_REDIS=1"
  : "redis-server not installed";

/** True when the comparison test runs; otherwise prints why it is skipped. */
function needsRedis(test: string): boolean {
  if (noRedisReason === null) return true;
  console.log(`SKIP: ${test}: ${noRedisReason}`);
  return false;
}

const DEEPEST_REPLY = 10000;

/** A connection that returns each reply as the exact bytes the server sent. */
class ReplyConn {
  /** Deep enough for a script's reply nested to Lua 5.1's stack limit (8000). */
  private readonly dec = new RespDecoder({ maxDepth: DEEPEST_REPLY });
  private raw = new Uint8Array(0);
  private readonly chunk = new Uint8Array(64 * 1024);
  private reading: Promise<number | null> | null = null;

  private constructor(private readonly conn: Deno.Conn) {}

  static async connect(port: number): Promise<ReplyConn> {
    return new ReplyConn(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  async send(args: string[]): Promise<void> {
    const bytes = encodeCommand(args);
    let off = 0;
    while (off < bytes.length) off += await this.conn.write(bytes.subarray(off));
  }

  /** One reply as a binary string; rejects on timeout or when the server closes. */
  async read(timeoutMs = 3000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.raw.length > 0 && this.dec.next() !== NEED_MORE) {
        const used = this.raw.length - this.dec.pending;
        const out = bytesToBinary(this.raw, 0, used);
        this.raw = this.raw.slice(used);
        return out;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("timeout");
      // A read outlives a timeout: the bytes it brings belong to the next reply.
      this.reading ??= this.conn.read(this.chunk);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const n = await Promise.race([
        this.reading,
        new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), left)),
      ]);
      clearTimeout(timer);
      if (n === "timeout") throw new Error("timeout");
      this.reading = null;
      if (n === null) throw new Error("closed");
      const got = this.chunk.subarray(0, n);
      this.dec.push(got);
      const next = new Uint8Array(this.raw.length + n);
      next.set(this.raw);
      next.set(got, this.raw.length);
      this.raw = next;
    }
  }

  async call(args: string[]): Promise<string> {
    await this.send(args);
    return await this.read();
  }

  close(): void {
    this.reading?.catch(() => {});
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }
}

const AGGREGATES = "*%~>";

/** Splits a raw aggregate reply into its header line and the raw bytes of each element. */
function split(raw: string): { head: string; items: string[] } | null {
  if (!AGGREGATES.includes(raw[0] ?? "")) return null;
  const eol = raw.indexOf("\r\n");
  const n = Number(raw.slice(1, eol));
  if (n < 0) return null;
  const count = raw[0] === "%" ? n * 2 : n;
  const items: string[] = [];
  let rest = raw.slice(eol + 2);
  for (let i = 0; i < count; i++) {
    const dec = new RespDecoder({ maxDepth: DEEPEST_REPLY });
    dec.push(Uint8Array.from(rest, (ch) => ch.charCodeAt(0)));
    if (dec.next() === NEED_MORE) throw new Error(`truncated aggregate: ${JSON.stringify(raw)}`);
    const len = rest.length - dec.pending;
    items.push(rest.slice(0, len));
    rest = rest.slice(len);
  }
  return { head: raw.slice(0, eol + 2), items };
}

/** The structure of a reply without its scalar contents (map keys are kept). */
function shapeOf(raw: string): string {
  const parts = split(raw);
  if (!parts) return raw[0] ?? "";
  if (raw[0] === "%") return `% ${parts.items.filter((_, i) => i % 2 === 0).join("")}`;
  return parts.head;
}

/** Pairs consecutive items (field/value replies) so that sorting keeps them together. */
function pairUp(items: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < items.length; i += 2) out.push(items[i]! + (items[i + 1] ?? ""));
  return out;
}

function sortedAggregate(raw: string, pairs = false): string {
  const parts = split(raw);
  if (!parts) return raw;
  const items = pairs || raw[0] === "%" ? pairUp(parts.items) : parts.items;
  return parts.head + items.sort().join("");
}

const SCAN_CURSOR: Record<string, number> = { SCAN: 1, HSCAN: 2, SSCAN: 2, ZSCAN: 2 };

/** Iterates a SCAN-family command from cursor 0 to the end; the union of its items, sorted. */
async function scanAll(conn: ReplyConn, cmd: string[]): Promise<string> {
  const name = cmd[0]!.toUpperCase();
  const at = SCAN_CURSOR[name]!;
  const seen = new Set<string>();
  let cursor = "0";
  for (let round = 0; round < 100000; round++) {
    const args = [...cmd];
    args[at] = cursor;
    const raw = await conn.call(args);
    const parts = split(raw);
    const inner = parts ? split(parts.items[1] ?? "") : null;
    if (!parts || !inner) return raw; // an error: compare it as is
    const items = name === "HSCAN" || name === "ZSCAN" ? pairUp(inner.items) : inner.items;
    for (const it of items) seen.add(it);
    const c = parts.items[0]!;
    cursor = c.slice(c.indexOf("\r\n") + 2, -2);
    if (cursor === "0") break;
  }
  return `scan of ${seen.size}: ${[...seen].sort().join("")}`;
}

/** Integers in `range` (but not -1/-2, which mean no TTL / no key) compare as "in range". */
function inRange(raw: string, [lo, hi]: [number, number]): string {
  if (raw[0] !== ":") return raw;
  const n = Number(raw.slice(1, -2));
  return n >= 0 && n >= lo && n <= hi ? `:in [${lo}, ${hi}]` : raw;
}

function mask(raw: string, what: Step["mask"], port: number): string {
  let out = raw;
  for (const m of what ?? []) {
    if (m === "id") out = out.replace(/(\$2\r\nid\r\n):\d+\r\n/, "$1:<id>\r\n");
    if (m === "port") {
      out = out.replaceAll(`$${String(port).length}\r\n${port}\r\n`, "$?\r\n<port>\r\n");
    }
  }
  return out;
}

/** Polls INFO until `n` clients are blocked, so that the next step races nothing. */
async function untilBlocked(conn: ReplyConn, n: number): Promise<string> {
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline) {
    if ((await conn.call(["INFO", "clients"])).includes(`\r\nblocked_clients:${n}\r\n`)) {
      return `(${n} blocked)`;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return `(not ${n} blocked)`;
}

/** One `name:value` line of an INFO reply (bulk or verbatim), or the reply when it has none. */
function infoField(raw: string, name: string): string {
  const line = raw.split(/\r?\n/).find((l) => l.startsWith(`${name}:`));
  // A command's time spent differs from run to run: its counts are compared.
  return line?.replace(/usec=\d+,usec_per_call=[\d.]+/, "usec=*") ?? raw;
}

function normalizeStep(s: string[] | Step): Step {
  return Array.isArray(s) ? { cmd: s } : s;
}

function expected(step: Step, proto: 2 | 3): string | undefined {
  return proto === 3 ? step.expect3 ?? step.expect : step.expect;
}

/** The comparable form of one step's reply. */
async function runStep(conn: ReplyConn, step: Step, port: number): Promise<string> {
  if (step.noReply) {
    // No reply is read; the next command's reply shows whether one was sent anyway.
    await conn.send(step.cmd);
    return "(sent)";
  }
  if (step.scanAll) return await scanAll(conn, step.cmd);
  if (step.blocked !== undefined) return await untilBlocked(conn, step.blocked);
  if (step.cmd.length > 0) await conn.send(step.cmd);
  const replies: string[] = [];
  for (let i = 0; i < (step.replies ?? 1); i++) replies.push(await conn.read());
  // Several replies (UNSUBSCRIBE from all): `sort` orders the replies, not their contents.
  if (replies.length > 1 && step.sort) return replies.sort().join("");
  const raw = mask(replies.join(""), step.mask, port);
  if (step.field) return infoField(raw, step.field);
  if (step.shape) return shapeOf(raw);
  if (step.range) return inRange(raw, step.range);
  if (step.sortScan) {
    const parts = split(raw);
    if (!parts) return raw;
    const pairs = /^[HZ]SCAN$/i.test(step.cmd[0]!);
    return parts.head + parts.items[0]! + sortedAggregate(parts.items[1]!, pairs);
  }
  if (step.sort) return sortedAggregate(raw);
  return raw;
}

async function runCase(port: number, kase: Case, proto: 2 | 3): Promise<string[]> {
  const conns = [await ReplyConn.connect(port), await ReplyConn.connect(port)];
  try {
    await conns[0]!.call(["FLUSHALL"]);
    if (proto === 3) { for (const c of conns) await c.call(["HELLO", "3"]); }
    const out: string[] = [];
    for (const s of kase.steps) {
      const step = normalizeStep(s);
      try {
        out.push(await runStep(conns[step.conn ?? 0]!, step, port));
      } catch (e) {
        out.push(`(${(e as Error).message})`);
      }
    }
    return out;
  } finally {
    for (const c of conns) c.close();
  }
}

function label(step: Step): string {
  const cmd = step.cmd.length
    ? step.cmd.join(" ").replace(
      /[^\x20-\x7e]/g,
      (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, "0")}`,
    )
    : "(read)";
  const text = `${step.conn ? "[conn 2] " : ""}${cmd}`;
  return text.length > 80 ? text.slice(0, 77) + "..." : text;
}

interface Mismatch {
  step: number;
  cmd: string;
  expected: string;
  actual: string;
}

function diff(kase: Case, expectedReplies: (string | undefined)[], actual: string[]): Mismatch[] {
  const out: Mismatch[] = [];
  kase.steps.forEach((s, i) => {
    const want = expectedReplies[i];
    if (want !== undefined && want !== actual[i]) {
      out.push({ step: i + 1, cmd: label(normalizeStep(s)), expected: want, actual: actual[i]! });
    }
  });
  return out;
}

/** One readable entry per mismatching step. */
function describe(mismatches: Mismatch[], want: string, got: string): string[] {
  return mismatches.map((m) =>
    `step ${m.step}: ${m.cmd}\n    ${want}: ${JSON.stringify(m.expected)}\n    ${got}: ${
      JSON.stringify(m.actual)
    }`
  );
}

function report(lines: string[]): void {
  if (lines.length > 0) throw new Error(`${lines.length} mismatches:\n${lines.join("\n")}`);
}

/** Check counts, printed once: steps compared per protocol. */
function countChecks(): { cases: number; checks: number; literal: number } {
  let checks = 0, literal = 0;
  for (const k of CASES) {
    for (const proto of [2, 3] as const) {
      if (k.proto && k.proto !== proto) continue;
      checks += k.steps.length;
      literal += k.steps.filter((s) => expected(normalizeStep(s), proto) !== undefined).length;
    }
  }
  return { cases: CASES.length, checks, literal };
}

Deno.test({
  name: "conformance: raw replies match a real redis-server 7.0",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const n = countChecks();
    if (!withRedis) {
      console.log(`SKIP: comparisons with redis-server (${noRedisReason}); literal replies only`);
    }
    console.log(`${n.cases} cases, ${n.checks} checks (${n.literal} with a literal reply)`);
    if (only) console.log(`SKIP: every case whose name lacks "${only}" (CONFORMANCE_CASES)`);
    await using ours = await startDataNode(["--enable-debug-command", "yes"]);
    await using redis = withRedis
      ? await startRedisServer(["--enable-debug-command", "yes"])
      : null;
    for (const kase of CASES) {
      if (!kase.name.includes(only)) continue;
      for (const proto of [2, 3] as const) {
        if (kase.proto && kase.proto !== proto) continue;
        const literal = kase.steps.map((s) => expected(normalizeStep(s), proto));
        if (!redis && literal.every((x) => x === undefined)) continue;
        await t.step(`${kase.name} (RESP${proto})`, async () => {
          const actual = await runCase(ours.port, kase, proto);
          if (redis) {
            const reference = await runCase(redis.port, kase, proto);
            // The literal replies are part of the suite: real Redis must agree with them.
            report([
              ...describe(diff(kase, literal, reference), "literal", "redis"),
              ...describe(diff(kase, reference, actual), "redis", "ours"),
            ]);
          } else {
            report(describe(diff(kase, literal, actual), "literal", "ours"));
          }
        });
      }
    }
  },
});

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
  ignore: !needsRedis("INFO has Redis 7.0's sections and field names, in Redis's order"),
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using ours = await startDataNode();
    await using redis = await startRedisServer();
    deepStrictEqual(await infoFields(ours.port), await infoFields(redis.port));
  },
});

/**
 * One COMMAND INFO entry: arity, flags, key positions, ACL categories, tips, key specs (flags,
 * begin search, find keys, notes) and its subcommands' entries, sets compared sorted.
 */
interface CommandShape {
  arity: unknown;
  flags: string;
  keys: unknown[];
  acl: string;
  tips: string;
  specs: unknown[];
  subs: Record<string, CommandShape | null>;
}

function commandShape(v: RespValue | undefined): CommandShape | null {
  if (!Array.isArray(v)) return null;
  const list = (x: RespValue | undefined) =>
    (Array.isArray(x) ? x : []).map(String).sort().join(" ");
  // Flags and ACL categories in Redis's order (that of their bits), as clients see them.
  const ordered = (x: RespValue | undefined) => (Array.isArray(x) ? x : []).map(String).join(" ");
  const specs = (Array.isArray(v[8]) ? v[8] : []).map((spec) => {
    const m = Array.isArray(spec) ? spec : [];
    const out: Record<string, unknown> = {};
    for (let i = 0; i + 1 < m.length; i += 2) {
      out[String(m[i])] = String(m[i]) === "flags" ? list(m[i + 1]) : m[i + 1];
    }
    return out;
  });
  const subs: Record<string, CommandShape | null> = {};
  for (const sub of Array.isArray(v[9]) ? v[9] : []) {
    if (Array.isArray(sub)) subs[String(sub[0])] = commandShape(sub);
  }
  return {
    arity: v[1],
    flags: ordered(v[2]),
    keys: [v[3], v[4], v[5]],
    acl: ordered(v[6]),
    tips: list(v[7]),
    specs,
    subs,
  };
}

/** The fields (subcommands' too) in which two COMMAND INFO shapes differ. */
function fieldDiffs(
  name: string,
  ours: CommandShape | null,
  redis: CommandShape | null,
): unknown[] {
  if (!ours || !redis) return ours === redis ? [] : [{ name, ours, redis }];
  const out: unknown[] = [];
  for (const k of Object.keys(redis) as (keyof CommandShape)[]) {
    if (k === "subs") continue;
    if (JSON.stringify(ours[k]) !== JSON.stringify(redis[k])) {
      out.push({ name, field: k, ours: ours[k], redis: redis[k] });
    }
  }
  for (const sub of Object.keys(redis.subs)) {
    out.push(...fieldDiffs(sub, ours.subs[sub] ?? null, redis.subs[sub] ?? null));
  }
  return out;
}

Deno.test({
  name: "COMMAND INFO matches redis-server for every command we implement",
  ignore: !needsRedis("COMMAND INFO matches redis-server for every command we implement"),
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
      // Subcommands we do not implement (CLIENT TRACKING...) are not compared here.
      if (sx && sy) {
        for (const name of Object.keys(sy.subs)) if (!(name in sx.subs)) delete sy.subs[name];
      }
      diffs.push(...fieldDiffs(n, sx, sy));
    }
    deepStrictEqual(diffs, []);
  },
});
