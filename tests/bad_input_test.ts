/**
 * Bad input on the wire: Redis's exact protocol error, that connection closed, every other
 * client still served, the process alive. Each case also runs against a real redis-server (when
 * installed) and the two must answer identically; so must odd-but-valid input and seeded random
 * garbage.
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import {
  hasRedis,
  type ManagedProcess,
  startDataNode,
  startRedisServer,
} from "./helpers/process.ts";
import { RawConn } from "./helpers/raw.ts";
import { seededRandom } from "./helpers/random.ts";
import { binaryToBytes, bytesToBinary } from "../shared/resp/bytes.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const te = new TextEncoder();
const ERR = (reason: string) => `-ERR Protocol error: ${reason}`;

/** Requests Redis rejects with a protocol error, and that error. */
const CASES: [string, string, string][] = [
  ["non-numeric bulk length", "*1\r\n$x\r\n", ERR("invalid bulk length")],
  ["empty bulk length", "*1\r\n$\r\n", ERR("invalid bulk length")],
  ["4 GB bulk length", "*1\r\n$4294967296\r\n", ERR("invalid bulk length")],
  ["bulk length past proto-max-bulk-len", "*1\r\n$536870913\r\n", ERR("invalid bulk length")],
  ["negative bulk length", "*1\r\n$-5\r\n", ERR("invalid bulk length")],
  ["bulk length -1", "*1\r\n$-1\r\n", ERR("invalid bulk length")],
  ["2^31 multibulk count", "*2147483648\r\n", ERR("invalid multibulk length")],
  ["non-numeric multibulk count", "*abc\r\n", ERR("invalid multibulk length")],
  ["multibulk count with a sign", "*+1\r\n$4\r\nPING\r\n", ERR("invalid multibulk length")],
  [
    "leading zero in a multibulk count",
    "*02\r\n$4\r\nECHO\r\n$1\r\nx\r\n",
    ERR("invalid multibulk length"),
  ],
  ["leading zero in a bulk length", "*2\r\n$04\r\nECHO\r\n$1\r\nx\r\n", ERR("invalid bulk length")],
  ["bulk length with a sign", "*1\r\n$+4\r\nPING\r\n", ERR("invalid bulk length")],
  ["deep nesting", "*1\r\n*1\r\n*1\r\n*1\r\n$4\r\nPING\r\n", ERR("expected '$', got '*'")],
  ["integer instead of bulk", "*2\r\n$3\r\nGET\r\n:1\r\n", ERR("expected '$', got ':'")],
  ["a letter instead of bulk", "*1\r\nPING\r\n", ERR("expected '$', got 'P'")],
  ["unbalanced quotes inline", 'SET a "b\r\n', ERR("unbalanced quotes in request")],
  ["single quote unbalanced", "SET a 'b\r\n", ERR("unbalanced quotes in request")],
  ["closing quote not followed by space", 'SET "a"b c\r\n', ERR("unbalanced quotes in request")],
  ["70 KB inline request without newline", "x".repeat(70 * 1024), ERR("too big inline request")],
  ["70 KB multibulk header", "*" + "1".repeat(70 * 1024), ERR("too big mbulk count string")],
  ["huge bulk header", "*1\r\n$" + "9".repeat(70 * 1024), ERR("too big bulk count string")],
  ["error after a good command", "PING\r\n*1\r\n$x\r\n", ERR("invalid bulk length")],
];

/** Odd but valid input: the whole output up to EOF must match Redis's. */
const ACCEPTED: [string, string][] = [
  ["empty multibulk is skipped", "*0\r\n*1\r\n$4\r\nPING\r\n"],
  ["negative multibulk is skipped", "*-1\r\n*1\r\n$4\r\nPING\r\n"],
  ["empty inline lines are skipped", "\r\n\n\r\nPING\r\n"],
  ["inline with bare LF", "PING\nECHO hi\n"],
  ["inline quoting and escapes", 'ECHO "a\\x41\\n\\"b" \'c\\\'d\'\r\nECHO "\\xZZ"\r\n'],
  ["inline with tabs and repeated spaces", "ECHO \t  x  \r\n"],
  ["bulk payload not followed by CRLF", "*1\r\n$4\r\nPINGxx*1\r\n$4\r\nPING\r\n"],
  ["zero-length bulk arguments", "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n"],
  ["pipelined mix of inline and multibulk", "PING\r\n*2\r\n$4\r\nECHO\r\n$1\r\nz\r\nPING\r\n"],
  ["inline unknown command", "NOSUCH a 'b c'\r\n"],
  ["binary bytes in inline", "ECHO \x01\x7f\xff\r\n"],
  // Redis looks for an inline request's newline with strchr: a NUL byte hides it for good.
  ["NUL byte in an inline request", "PING\r\nabc\x00def\r\nPING\r\n"],
  ["NUL byte after a multibulk", "*1\r\n$4\r\nPING\r\n\x00PING\r\n"],
  // Inline arguments end at space, tab, CR, LF only; \v and \f stay inside them.
  ["vertical tab and form feed inside inline arguments", "ECHO a\vb\r\nECHO a\fb\r\n"],
  ["vertical tab before an inline argument", "ECHO \vb\r\n"],
];

/**
 * Sends bytes on a fresh connection and returns everything the server writes until it closes
 * the connection (`closed`) or goes quiet for `quietMs`. With `halfClose`, our side's EOF
 * follows the bytes, so the server closes once it has answered whatever was complete.
 */
async function drain(
  port: number,
  bytes: Uint8Array,
  halfClose: boolean,
  quietMs = 1500,
): Promise<{ out: string; closed: boolean }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    // The server may close while a big request is still being written.
    await conn.write(bytes).catch(() => {});
    if (halfClose) await conn.closeWrite().catch(() => {});
    let out = "";
    const buf = new Uint8Array(64 * 1024);
    let pending: Promise<number | null> | null = null;
    for (;;) {
      pending ??= conn.read(buf).catch(() => null);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const n = await Promise.race([
        pending,
        new Promise<"quiet">((r) => timer = setTimeout(() => r("quiet"), quietMs)),
      ]);
      clearTimeout(timer);
      if (n === "quiet") return { out, closed: false };
      pending = null;
      if (n === null) return { out, closed: true };
      out += bytesToBinary(buf, 0, n);
    }
  } finally {
    conn.close();
  }
}

/** The output of a request followed by EOF (everything answered, then closed). */
async function exchange(port: number, bytes: Uint8Array): Promise<string> {
  const r = await drain(port, bytes, true, 5000);
  return r.closed ? r.out : r.out + "(not closed)";
}

async function stillServing(
  node: ManagedProcess,
  bystander: RawConn,
  password?: string,
): Promise<void> {
  ok(node.alive, "process died");
  equal(String(await bystander.call("PING")), "PONG");
  using fresh = await RawConn.connect(node.port);
  if (password) equal(String(await fresh.call("AUTH", password)), "OK");
  equal(String(await fresh.call("PING")), "PONG");
}

Deno.test({
  name: "malformed requests get Redis's protocol error, close that connection only",
  ...opts,
  fn: async (t) => {
    await using ours = await startDataNode();
    await using redis = hasRedis ? await startRedisServer() : null;
    if (!redis) console.log("SKIP: redis-server not installed: comparison with real Redis");
    using bystander = await RawConn.connect(ours.port);
    for (const [name, bytes, error] of CASES) {
      await t.step(name, async () => {
        // A good command before the bad one is answered first.
        const before = bytes.startsWith("PING") ? "+PONG\r\n" : "";
        const want = { out: `${before}${error}\r\n`, closed: true };
        if (redis) {
          deepStrictEqual(await drain(redis.port, binaryToBytes(bytes), false), want, "redis");
        }
        deepStrictEqual(await drain(ours.port, binaryToBytes(bytes), false), want);
        await stillServing(ours, bystander);
      });
    }
  },
});

Deno.test({
  name: "odd but valid requests are answered as Redis answers them",
  ...opts,
  fn: async (t) => {
    await using ours = await startDataNode();
    await using redis = hasRedis ? await startRedisServer() : null;
    if (!redis) console.log("SKIP: redis-server not installed: odd requests need Redis");
    for (const [name, bytes] of ACCEPTED) {
      await t.step(name, async () => {
        const got = await exchange(ours.port, binaryToBytes(bytes));
        ok(!got.includes("Protocol error"), got);
        if (redis) equal(got, await exchange(redis.port, binaryToBytes(bytes)));
      });
    }
  },
});

Deno.test({
  name: "an unauthenticated client cannot send big requests when a password is set",
  ...opts,
  fn: async () => {
    const args = ["--requirepass", "secret"];
    await using ours = await startDataNode(args);
    await using redis = hasRedis ? await startRedisServer(args) : null;
    using bystander = await RawConn.connect(ours.port);
    equal(String(await bystander.call("AUTH", "secret")), "OK");
    const cases: [string, string][] = [
      ["*20\r\n" + "$1\r\nx\r\n".repeat(20), ERR("unauthenticated multibulk length")],
      ["*11\r\n", ERR("unauthenticated multibulk length")],
      ["*2\r\n$3\r\nGET\r\n$16385\r\n", ERR("unauthenticated bulk length")],
    ];
    for (const [bytes, error] of cases) {
      const want = { out: `${error}\r\n`, closed: true };
      if (redis) deepStrictEqual(await drain(redis.port, te.encode(bytes), false), want, "redis");
      deepStrictEqual(await drain(ours.port, te.encode(bytes), false), want);
      await stillServing(ours, bystander, "secret");
    }
    // Within the limits, an unauthenticated client gets NOAUTH and stays connected.
    const small = "*10\r\n$4\r\nMGET\r\n" + "$1\r\nx\r\n".repeat(9) +
      "*2\r\n$3\r\nGET\r\n$16384\r\n" +
      "k".repeat(16384) + "\r\n";
    const noauth = "-NOAUTH Authentication required.\r\n".repeat(2);
    if (redis) equal(await exchange(redis.port, te.encode(small)), noauth, "redis");
    equal(await exchange(ours.port, te.encode(small)), noauth);
    using c = await RawConn.connect(ours.port);
    equal(String(await c.call("GET", "k")), "NOAUTH Authentication required.");
    equal(String(await c.call("AUTH", "secret")), "OK");
    equal(await c.call("GET", "k"), null);
    // Once authenticated, the big requests are fine.
    await c.write(te.encode("*20\r\n$4\r\nMSET\r\n" + "$1\r\nx\r\n".repeat(19)));
    equal(String(await c.read()), "ERR wrong number of arguments for 'mset' command");
  },
});

Deno.test({
  name: "random garbage: answered as Redis answers it, and never crashes the server",
  ...opts,
  fn: async () => {
    await using ours = await startDataNode();
    await using redis = hasRedis ? await startRedisServer() : null;
    if (!redis) console.log("SKIP: redis-server not installed: garbage is only sent to our node");
    using bystander = await RawConn.connect(ours.port);
    const rand = seededRandom(20261125);
    // Mostly protocol characters, so that the garbage reaches deep into the parser.
    const alphabet = te.encode("*$:+-\r\n\r\n0123456789abcXYZ \"'\\");
    const diffs: string[] = [];
    for (let round = 0; round < 200; round++) {
      const len = 1 + Math.floor(rand() * 200);
      const bytes = new Uint8Array(len);
      for (let i = 0; i < len; i++) {
        bytes[i] = rand() < 0.7
          ? alphabet[Math.floor(rand() * alphabet.length)]!
          : Math.floor(rand() * 256);
      }
      const got = await exchange(ours.port, bytes);
      if (redis) {
        const want = await exchange(redis.port, bytes);
        if (got !== want) {
          diffs.push(
            `round ${round}: ${JSON.stringify(bytesToBinary(bytes))}\n  redis: ${
              JSON.stringify(want)
            }\n  ours:  ${JSON.stringify(got)}`,
          );
        }
      }
      ok(ours.alive, `process died in round ${round}`);
    }
    await stillServing(ours, bystander);
    equal(String(await bystander.call("SET", "after", "garbage")), "OK");
    equal(diffs.length, 0, `${diffs.length} rounds differ:\n${diffs.slice(0, 10).join("\n")}`);
  },
});

Deno.test({
  name: "a client whose query buffer passes client-query-buffer-limit is disconnected",
  ...opts,
  fn: async () => {
    await using ours = await startDataNode(["--client-query-buffer-limit", "1mb"]);
    using bystander = await RawConn.connect(ours.port);
    using c = await RawConn.connect(ours.port);
    // A multibulk that never completes: its arguments pile up until the limit.
    await c.write(te.encode("*100000000\r\n"));
    const chunk = te.encode("$10\r\n0123456789\r\n".repeat(4096));
    let closed = false;
    for (let i = 0; i < 200 && !closed; i++) {
      await c.write(chunk).catch(() => closed = true);
    }
    equal(closed || await c.closedByServer(3000), true);
    await stillServing(ours, bystander);
  },
});
