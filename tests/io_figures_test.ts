/**
 * Figures about clients' input and output, compared with a real redis-server: the query buffer
 * in CLIENT INFO/LIST (qbuf), INFO's recent largest client buffers, and the counts of socket
 * reads and writes.
 */
import { equal, ok } from "node:assert/strict";
import { requireBinary, startDataNode, startRedisServer } from "./helpers/process.ts";
import { eventually, RawConn } from "./helpers/raw.ts";
import { encodeCommand } from "../shared/resp/mod.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

const SERVERS = {
  "data-node": () => startDataNode(),
  "redis-server": () => startRedisServer(),
} as const;

const enc = (...args: string[]) => encodeCommand(args);
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
};

function field(line: string, name: string): number {
  const m = new RegExp(`(?:^| )${name}=(\\d+)`).exec(line);
  if (!m) throw new Error(`no ${name} in ${line}`);
  return Number(m[1]);
}

async function clientLine(w: RawConn, name: string): Promise<string> {
  const list = String(await w.call("CLIENT", "LIST"));
  const line = list.split("\n").find((l) => l.includes(` name=${name} `));
  if (!line) throw new Error(`no client ${name} in ${list}`);
  return line;
}

/** Integer fields of one INFO reply. */
async function info(w: RawConn, ...names: string[]): Promise<number[]> {
  const text = String(await w.call("INFO", "everything"));
  return names.map((name) => {
    const m = new RegExp(`\r\n${name}:(\\d+)\r\n`).exec(text);
    if (!m) throw new Error(`no ${name} in INFO`);
    return Number(m[1]);
  });
}

function skip(kind: string, what: string): boolean {
  return kind === "redis-server" && !requireBinary("redis-server", what);
}

/** qbuf + qbuf-free: the query buffer's allocated size. */
async function queryBufferSize(w: RawConn, name: string): Promise<number> {
  const line = await clientLine(w, name);
  return field(line, "qbuf") + field(line, "qbuf-free");
}

const WITH_DEBUG = ["--enable-debug-command", "yes"];
const DEBUG_SERVERS = {
  "data-node": () => startDataNode(WITH_DEBUG),
  "redis-server": () => startRedisServer(WITH_DEBUG),
} as const;

for (const [kind, start] of Object.entries(DEBUG_SERVERS)) {
  Deno.test({
    name: `the reply buffer shrinks when idle and grows for big replies, rbs/rbp (${kind})`,
    ...opts,
    ignore: skip(kind, "reply buffer resizing"),
    fn: async () => {
      await using n = await start();
      using a = await RawConn.connect(n.port);
      using w = await RawConn.connect(n.port);
      const rbs = async () => field(await clientLine(w, "a"), "rbs");
      const errText = async (...args: string[]) => String(await w.call(...args));
      equal(
        await errText("DEBUG", "REPLYBUFFER", "peak-reset-time", "x"),
        "ERR value is not an integer or out of range",
      );
      equal(
        await errText("DEBUG", "REPLYBUFFER", "nope", "1"),
        "ERR unknown subcommand or wrong number of arguments for 'REPLYBUFFER'. Try DEBUG HELP.",
      );
      equal(await w.call("DEBUG", "REPLYBUFFER", "peak-reset-time", "100"), "OK");
      await a.call("CLIENT", "SETNAME", "a");
      ok(field(await clientLine(w, "a"), "rbp") <= await rbs());
      // Idle: down to 1 KB.
      await eventually(
        async () => {
          const size = await rbs();
          return size >= 1024 && size < 2046;
        },
        "rbs shrunk",
        3000,
      );
      await w.call("SET", "bigval", "x".repeat(32768));
      equal(await w.call("DEBUG", "REPLYBUFFER", "peak-reset-time", "never"), "OK");
      // Replies that fill it: doubled up to 16 KB.
      await eventually(
        async () => {
          await a.call("GET", "bigval");
          const size = await rbs();
          return size >= 16384 && size < 32768;
        },
        "rbs grown",
        5000,
      );
      equal(await w.call("DEBUG", "REPLYBUFFER", "peak-reset-time", "reset"), "OK");
      equal(await w.call("DEBUG", "REPLYBUFFER", "resizing", "0"), "OK");
    },
  });
}

for (const [kind, start] of Object.entries(SERVERS)) {
  Deno.test({
    name: `the query buffer is released when idle and cut down to its recent peak (${kind})`,
    ...opts,
    ignore: skip(kind, "query buffer resizing"),
    fn: async () => {
      await using n = await start();
      using a = await RawConn.connect(n.port);
      using w = await RawConn.connect(n.port);
      await a.call("CLIENT", "SETNAME", "a");
      // One read's room (16 KB), under the 32 KB resize threshold.
      const first = await queryBufferSize(w, "a");
      ok(first >= 16384 && first < 32768, String(first));
      // Idle for more than 2 s: released.
      await eventually(async () => await queryBufferSize(w, "a") === 0, "qbuf released", 8000);
      // A 400 KB argument leaves a buffer bigger than 32 KB; small commands since then bring it
      // down to their peak, not to nothing.
      equal(await a.call("SET", "x", "A".repeat(400000)), "OK");
      const big = await queryBufferSize(w, "a");
      ok(big > 32768, String(big));
      await eventually(
        async () => {
          await a.call("SET", "x", "A".repeat(100));
          return await queryBufferSize(w, "a") < big;
        },
        "qbuf cut down",
        3000,
      );
      const after = await queryBufferSize(w, "a");
      ok(after > 0 && after < big, String(after));
    },
  });

  Deno.test({
    name: `qbuf counts what was read and not yet trimmed, as Redis does (${kind})`,
    ...opts,
    ignore: skip(kind, "qbuf"),
    fn: async () => {
      await using n = await start();
      using a = await RawConn.connect(n.port);
      using w = await RawConn.connect(n.port);
      await a.call("CLIENT", "SETNAME", "a");
      // One write: PING, CLIENT INFO and the start of a PING. While CLIENT INFO runs, the query
      // buffer holds all of it (Redis trims after the batch).
      const partial = new TextEncoder().encode("*1\r\n$4\r\nPI");
      await a.write(concat(enc("PING"), enc("CLIENT", "INFO"), partial));
      equal(String(await a.read()), "PONG");
      equal(field(String(await a.read()), "qbuf"), 14 + 26 + partial.length);
      // Then only the partial bulk's data is left (its header was read).
      equal(field(await clientLine(w, "a"), "qbuf"), 2);
      await a.write(new TextEncoder().encode("NG\r\n"));
      equal(String(await a.read()), "PONG");
      const line = await clientLine(w, "a");
      equal(field(line, "qbuf"), 0);
      ok(field(line, "qbuf-free") > 0);
    },
  });

  Deno.test({
    name: `INFO reports the largest recent client input and output buffers (${kind})`,
    ...opts,
    ignore: skip(kind, "client_recent_max_input_buffer"),
    fn: async () => {
      await using n = await start();
      using a = await RawConn.connect(n.port);
      using sub = await RawConn.connect(n.port);
      using w = await RawConn.connect(n.port);
      // A command whose 100 kB argument has not fully arrived.
      await a.write(new TextEncoder().encode(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n`));
      await a.write(new Uint8Array(60000).fill(120));
      await eventually(
        async () => (await info(w, "client_recent_max_input_buffer"))[0]! >= 60000,
        "client_recent_max_input_buffer over 60000",
      );
      // A subscriber that does not read: its replies pile up in the server.
      await sub.call("SUBSCRIBE", "ch");
      const message = "m".repeat(1 << 20);
      for (let i = 0; i < 16; i++) await w.call("PUBLISH", "ch", message);
      await eventually(
        async () => (await info(w, "client_recent_max_output_buffer"))[0]! >= 1 << 20,
        "client_recent_max_output_buffer over 1 MB",
      );
    },
  });

  Deno.test({
    name: `INFO counts socket reads and writes as Redis does (${kind})`,
    ...opts,
    ignore: skip(kind, "total_reads_processed"),
    fn: async () => {
      await using n = await start();
      using c = await RawConn.connect(n.port);
      const counts = () => info(c, "total_reads_processed", "total_writes_processed");
      const before = await counts();
      for (let i = 0; i < 7; i++) await c.call("PING");
      const after = await counts();
      // Seven PINGs and the second INFO were read; seven PONGs and the first INFO written.
      equal(after[0]! - before[0]!, 8);
      equal(after[1]! - before[1]!, 8);
      // Five pipelined commands in one write: one read, one write.
      await c.write(concat(...Array.from({ length: 5 }, () => enc("PING"))));
      for (let i = 0; i < 5; i++) await c.read();
      const piped = await counts();
      equal(piped[0]! - after[0]!, 2);
      equal(piped[1]! - after[1]!, 2);
    },
  });
}
