/**
 * Stream commands on an engine without sockets: what their effects replicate as (and that a
 * replica applying them ends up with the same stream, groups and PELs), and blocking reads.
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { engineHarness, type Harness } from "../engine/harness.ts";
import { processCommand } from "../server/dispatch.ts";
import { NEED_MORE, RequestParser, RespDecoder, type RespValue } from "../../shared/resp/mod.ts";
import type { StreamConsumer } from "../engine/propagation.ts";
import type { Client } from "../server/client.ts";

/** Records the commands a server propagates. */
class Recorder implements StreamConsumer {
  readonly seen: string[][] = [];
  append(_dbId: number, command: Uint8Array): void {
    const p = new RequestParser({ maxBulkLen: 1 << 20 });
    p.feed(command);
    for (let argv = p.next(); argv; argv = p.next()) this.seen.push(argv);
  }
}

function recorded(h: Harness): Recorder {
  const r = new Recorder();
  h.server.propagation.aof = r;
  return r;
}

/** The effects since the last call, without MULTI/EXEC wrappers. */
function effects(r: Recorder): string[] {
  const out = r.seen.filter((a) => a[0] !== "MULTI" && a[0] !== "EXEC").map((a) => a.join(" "));
  r.seen.length = 0;
  return out;
}

function withoutSeenTimes(v: RespValue): RespValue {
  if (!Array.isArray(v)) return v;
  return v.map((x, i) => (i > 0 && v[i - 1] === "seen-time" ? 0 : withoutSeenTimes(x)));
}

function reply(c: Client): RespValue {
  const dec = new RespDecoder();
  dec.push(c.out.take());
  const v = dec.next();
  if (v === NEED_MORE) throw new Error("no reply");
  return v;
}

Deno.test("XADD with * replicates the generated ID; approximate trims replicate as exact", () => {
  const h = engineHarness([["stream-node-max-entries", "2"]]);
  try {
    const r = recorded(h);
    const now = h.clock.nowMs();
    equal(String(h.run("XADD", "s", "*", "a", "1")), `${now}-0`);
    equal(String(h.run("XADD", "s", `${now}-*`, "a", "2")), `${now}-1`);
    h.run("XADD", "s", "MAXLEN", "~", "1", "*", "a", "3");
    deepStrictEqual(effects(r), [
      `XADD s ${now}-0 a 1`,
      `XADD s ${now}-1 a 2`,
      // Nodes of two: the first node went, one entry is left besides the new one.
      `XADD s MAXLEN = 1 ${now}-2 a 3`,
    ]);
    equal(h.run("XLEN", "s"), 1);
    equal(
      String(h.run("XADD", "s", "5-0", "a", "4")),
      "ERR The ID specified in XADD is equal or smaller than the target stream top item",
    );
    h.clock.advance(10);
    h.run("XADD", "s", "*", "a", "5");
    h.run("XADD", "s", "*", "a", "6");
    // Nodes: [now-2, now+10-0] and [now+10-1]; the first one is all below the minimum.
    equal(h.run("XTRIM", "s", "MINID", "~", `${now + 10}-1`), 2);
    const eff = effects(r);
    equal(eff[eff.length - 1], `XTRIM s MINID = ${now + 10}-1`);
  } finally {
    h.close();
  }
});

Deno.test("group reads, claims and acks replicate as Redis 7.0 sends them; a replica agrees", () => {
  const h = engineHarness();
  const replica = engineHarness();
  try {
    const r = recorded(h);
    const t = h.clock.nowMs();
    for (let i = 1; i <= 4; i++) h.run("XADD", "s", `${i}-0`, "f", String(i));
    h.run("XGROUP", "CREATE", "s", "g", "0");
    h.run("XREADGROUP", "GROUP", "g", "alice", "COUNT", "2", "STREAMS", "s", ">");
    h.clock.advance(100);
    h.run("XREADGROUP", "GROUP", "g", "bob", "NOACK", "COUNT", "1", "STREAMS", "s", ">");
    h.run("XCLAIM", "s", "g", "bob", "50", "1-0", "JUSTID");
    h.run("XDEL", "s", "2-0");
    h.run("XAUTOCLAIM", "s", "g", "carol", "0", "0");
    h.run("XACK", "s", "g", "1-0");
    h.run("XCLAIM", "s", "g", "bob", "0", "9-0", "LASTID", "9-0");
    const eff = effects(r);
    deepStrictEqual(eff, [
      "XADD s 1-0 f 1",
      "XADD s 2-0 f 2",
      "XADD s 3-0 f 3",
      "XADD s 4-0 f 4",
      "XGROUP CREATE s g 0",
      // Each claim carries the group's last ID as it was after that entry.
      `XCLAIM s g alice 0 1-0 TIME ${t} RETRYCOUNT 1 FORCE JUSTID LASTID 1-0`,
      `XCLAIM s g alice 0 2-0 TIME ${t} RETRYCOUNT 1 FORCE JUSTID LASTID 2-0`,
      "XGROUP CREATECONSUMER s g bob",
      "XGROUP SETID s g 3-0 ENTRIESREAD 3",
      `XCLAIM s g bob 0 1-0 TIME ${t + 100} RETRYCOUNT 1 FORCE JUSTID LASTID 3-0`,
      "XDEL s 2-0",
      // The pending entry is claimed; the deleted one leaves the PEL (replicated as a claim
      // that finds it gone).
      `XCLAIM s g carol 0 1-0 TIME ${t + 100} RETRYCOUNT 2 FORCE JUSTID LASTID 3-0`,
      `XCLAIM s g alice 0 2-0 TIME ${t} RETRYCOUNT 1 FORCE JUSTID LASTID 3-0`,
      "XACK s g 1-0",
      "XGROUP SETID s g 9-0 ENTRIESREAD 3",
    ]);
    replica.clock.advance(h.clock.nowMs() - replica.clock.nowMs());
    for (const line of eff) replica.run(...line.split(" "));
    // Seen times are when each side last saw the consumer act; everything else agrees.
    deepStrictEqual(
      withoutSeenTimes(replica.run("XINFO", "STREAM", "s", "FULL")),
      withoutSeenTimes(h.run("XINFO", "STREAM", "s", "FULL")),
    );
    deepStrictEqual(
      replica.run("XPENDING", "s", "g", "-", "+", "10"),
      h.run("XPENDING", "s", "g", "-", "+", "10"),
    );
  } finally {
    h.close();
    replica.close();
  }
});

Deno.test("a blocked XREAD is served by XADD, in the order clients blocked; XREADGROUP too", async () => {
  const h = engineHarness();
  try {
    const a = h.newClient(), b = h.newClient(), g = h.newClient();
    h.run("XADD", "s", "1-0", "f", "old");
    h.run("XGROUP", "CREATE", "s", "grp", "$");
    const pa = processCommand(h.server, a, ["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    const pb = processCommand(h.server, b, [
      "XREAD",
      "COUNT",
      "1",
      "BLOCK",
      "0",
      "STREAMS",
      "s",
      "$",
    ]);
    const pg = processCommand(h.server, g, [
      "XREADGROUP",
      "GROUP",
      "grp",
      "c",
      "BLOCK",
      "0",
      "STREAMS",
      "s",
      ">",
    ]);
    ok(pa instanceof Promise && pb instanceof Promise && pg instanceof Promise);
    equal(h.server.blocking.blockedCount, 3);
    h.run("XADD", "s", "2-0", "f", "new");
    await Promise.all([pa, pb, pg]);
    const want = [["s", [["2-0", ["f", "new"]]]]];
    deepStrictEqual(reply(a), want);
    deepStrictEqual(reply(b), want);
    deepStrictEqual(reply(g), want);
    deepStrictEqual(h.run("XPENDING", "s", "grp"), [1, "2-0", "2-0", [["c", "1"]]]);
    // A blocked XREADGROUP whose key goes away gets an error.
    const pe = processCommand(h.server, g, [
      "XREADGROUP",
      "GROUP",
      "grp",
      "c",
      "BLOCK",
      "0",
      "STREAMS",
      "s",
      ">",
    ]);
    h.run("DEL", "s");
    await pe;
    equal(String(reply(g)), "UNBLOCKED the stream key no longer exists");
  } finally {
    h.close();
  }
});
