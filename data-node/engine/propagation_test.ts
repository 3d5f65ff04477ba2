import { deepStrictEqual, equal } from "node:assert/strict";
import { RequestParser } from "../../shared/resp/mod.ts";
import { Propagation, type StreamConsumer, TO_AOF, TO_REPL } from "./propagation.ts";

/** A consumer that records (db, command) pairs. */
class Recorder implements StreamConsumer {
  readonly seen: string[] = [];
  append(dbId: number, command: Uint8Array): void {
    const p = new RequestParser({ maxBulkLen: 1 << 20 });
    p.feed(command);
    this.seen.push(`${dbId}:${p.next()!.join(" ")}`);
  }
}

function setup(): { p: Propagation; aof: Recorder; repl: Recorder } {
  const p = new Propagation();
  const aof = new Recorder(), repl = new Recorder();
  p.aof = aof;
  p.repl = repl;
  return { p, aof, repl };
}

Deno.test("a unit with one effect goes out bare, with several wrapped in MULTI/EXEC", () => {
  const { p, aof, repl } = setup();
  p.enter();
  p.also(0, ["SET", "a", "1"]);
  p.exit();
  p.enter();
  p.also(2, ["DEL", "x"]);
  p.enter(); // a nested unit (a command inside EXEC) does not emit on its own
  p.also(2, ["SET", "x", "1"]);
  p.exit();
  equal(aof.seen.length, 1);
  p.exit();
  const want = ["0:SET a 1", "2:MULTI", "2:DEL x", "2:SET x 1", "-1:EXEC"];
  deepStrictEqual(aof.seen, want);
  deepStrictEqual(repl.seen, want);
});

Deno.test("effects outside a unit (active expiry, eviction) go out at once and unwrapped", () => {
  const { p, aof } = setup();
  p.also(0, ["DEL", "a"]);
  p.also(0, ["DEL", "b"]);
  deepStrictEqual(aof.seen, ["0:DEL a", "0:DEL b"]);
});

Deno.test("a noWrap unit (KEYS, SCAN, RANDOMKEY) emits its expiries without MULTI", () => {
  const { p, aof } = setup();
  p.enter(true);
  p.also(0, ["DEL", "a"]);
  p.also(0, ["DEL", "b"]);
  p.exit();
  deepStrictEqual(aof.seen, ["0:DEL a", "0:DEL b"]);
});

Deno.test("replication-only effects skip the AOF and are not collected without a stream", () => {
  const { p, aof, repl } = setup();
  p.enter();
  p.also(0, ["SET", "a", "1"]);
  p.also(0, ["PUBLISH", "ch", "m"], TO_REPL);
  p.exit();
  deepStrictEqual(repl.seen, ["0:MULTI", "0:SET a 1", "0:PUBLISH ch m", "-1:EXEC"]);
  deepStrictEqual(aof.seen, ["0:MULTI", "0:SET a 1", "-1:EXEC"]);
  // No replication stream: PUBLISH is not an effect, the single SET goes out bare.
  const q = new Propagation();
  const only = new Recorder();
  q.aof = only;
  q.enter();
  q.also(0, ["SET", "a", "1"]);
  q.also(0, ["PUBLISH", "ch", "m"], TO_REPL);
  q.also(0, ["SET", "b", "1"], TO_AOF);
  q.exit();
  deepStrictEqual(only.seen, ["0:MULTI", "0:SET a 1", "0:SET b 1", "-1:EXEC"]);
});

Deno.test("nothing is collected while suspended or with no consumer", () => {
  const { p, aof } = setup();
  p.suspended = true;
  p.enter();
  p.also(0, ["SET", "a", "1"]);
  p.exit();
  p.suspended = false;
  deepStrictEqual(aof.seen, []);
  const bare = new Propagation();
  equal(bare.wanted, false);
  bare.enter();
  bare.also(0, ["SET", "a", "1"]);
  bare.exit();
  equal(bare.emitted, 0);
});

Deno.test("a unit with very many effects streams them inside one MULTI/EXEC", () => {
  const { p, aof } = setup();
  p.enter();
  const n = 10_000;
  for (let i = 0; i < n; i++) p.also(0, ["SREM", "s", String(i)]);
  p.exit();
  equal(aof.seen.length, n + 2);
  equal(aof.seen[0], "0:MULTI");
  equal(aof.seen[n + 1], "-1:EXEC");
  equal(aof.seen[n], `0:SREM s ${n - 1}`);
});

Deno.test("a consumer that encodes for itself gets the effects only it takes as arguments", () => {
  class ArgvRecorder extends Recorder {
    appendArgv(dbId: number, argv: readonly string[]): void {
      this.seen.push(`argv ${dbId}:${argv.join(" ")}`);
    }
  }
  const p = new Propagation();
  const repl = new ArgvRecorder();
  p.repl = repl;
  p.enter();
  p.also(0, ["SET", "a", "1"]);
  p.exit();
  p.enter();
  p.also(1, ["SET", "b", "2"]);
  p.also(1, ["DEL", "c"]);
  p.exit();
  deepStrictEqual(repl.seen, [
    "argv 0:SET a 1",
    "1:MULTI",
    "argv 1:SET b 2",
    "argv 1:DEL c",
    "-1:EXEC",
  ]);
  // With the AOF on, effects both take go encoded once to both; a replication-only one does not.
  const aof = new Recorder();
  p.aof = aof;
  repl.seen.length = 0;
  p.enter();
  p.also(0, ["SET", "a", "1"]);
  p.also(0, ["PUBLISH", "ch", "m"], TO_REPL);
  p.exit();
  deepStrictEqual(repl.seen, ["0:MULTI", "0:SET a 1", "argv 0:PUBLISH ch m", "-1:EXEC"]);
  deepStrictEqual(aof.seen, ["0:MULTI", "0:SET a 1", "-1:EXEC"]);
});

Deno.test("a client's command propagated unchanged is copied from its request bytes", async () => {
  const { engineHarness } = await import("./harness.ts");
  const { encodeCommand } = await import("../../shared/resp/mod.ts");
  const h = engineHarness();
  try {
    const s = h.server;
    const stream = s.createReplicationStream();
    const c = h.client;
    const bin = (t: string) => Uint8Array.from(t, (ch) => ch.charCodeAt(0));
    const from = stream.offset + 1;
    // Copied (canonical multibulks, lower-case names kept), encoded (inline, a non-CRLF line),
    // rewritten (SET EX) and queued (EXEC's commands, parsed long before EXEC runs).
    c.parser.feed(bin(
      "*3\r\n$3\r\nset\r\n$2\r\nk1\r\n$3\r\n\xff\x00v\r\n" +
        "SET k2 v2\r\n" +
        "*3\rX$3\r\nSET\r\n$2\r\nk3\r\n$2\r\nv3\r\n" +
        "*5\r\n$3\r\nSET\r\n$2\r\nk4\r\n$1\r\nv\r\n$2\r\nEX\r\n$3\r\n100\r\n" +
        "*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n" +
        "*1\r\n$4\r\nEXEC\r\n*2\r\n$3\r\nDEL\r\n$2\r\nk1\r\n",
    ));
    equal(s.processInput(c), undefined);
    const got = new TextDecoder("latin1").decode(stream.since(from)!);
    const pxat = String(h.clock.nowMs() + 100_000);
    const want = [
      ["SELECT", "0"],
      ["set", "k1", "\xff\x00v"],
      ["SET", "k2", "v2"],
      ["SET", "k3", "v3"],
      ["SET", "k4", "v", "PXAT", pxat],
      ["MULTI"],
      ["INCR", "n"],
      ["INCR", "n"],
      ["EXEC"],
      ["DEL", "k1"],
    ].map((a) => new TextDecoder("latin1").decode(encodeCommand(a))).join("");
    equal(got, want);
  } finally {
    h.close();
  }
});
