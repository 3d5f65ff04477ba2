import { deepStrictEqual, equal, ok } from "node:assert/strict";
import {
  type Advance,
  advance,
  type HandshakeOptions,
  type HandshakeState,
  parsePreamble,
  psyncOutcome,
  start,
} from "./handshake.ts";

const base: HandshakeOptions = {
  auth: null,
  listeningPort: 6380,
  announceIp: "",
  cached: null,
};

/** Feeds replies in order; returns every command sent and the final step. */
function run(o: HandshakeOptions, replies: string[]): { sent: string[][]; last: Advance } {
  const first = start();
  const sent = [...first.send];
  let state: HandshakeState = first.state;
  let last: Advance = first;
  for (const r of replies) {
    last = advance(state, o, r);
    if ("state" in last) {
      state = last.state;
      sent.push(...last.send);
    } else {
      break;
    }
  }
  return { sent, last };
}

Deno.test("a fresh replica: PING, then REPLCONFs in one batch, then PSYNC ? -1 alone", () => {
  const first = start();
  deepStrictEqual(first.send, [["PING"]]);
  const afterPing = advance(first.state, base, "+PONG");
  ok("state" in afterPing);
  deepStrictEqual(afterPing.send, [
    ["REPLCONF", "listening-port", "6380"],
    ["REPLCONF", "capa", "eof", "capa", "psync2"],
  ]);
  // PSYNC waits for both replies: a master refuses it behind pending output.
  const afterPort = advance(afterPing.state, base, "+OK");
  ok("state" in afterPort);
  deepStrictEqual(afterPort.send, []);
  const afterCapa = advance(afterPort.state, base, "+OK");
  ok("state" in afterCapa);
  deepStrictEqual(afterCapa.send, [["PSYNC", "?", "-1"]]);
  const done = advance(afterCapa.state, base, `+FULLRESYNC ${"a".repeat(40)} 1234`);
  deepStrictEqual(done, {
    done: { kind: "full", replId: "a".repeat(40), offset: 1234 },
    warnings: [],
  });
});

Deno.test("auth, an announced ip, a cached master, FAILOVER and the RDB channel capability", () => {
  const o: HandshakeOptions = {
    auth: { user: "repl", pass: "secret" },
    listeningPort: 7000,
    announceIp: "10.0.0.5",
    cached: { replId: "b".repeat(40), offset: 99 },
    failover: true,
    rdbChannel: true,
  };
  const { sent, last } = run(o, ["-NOAUTH Authentication required.", "+OK", "+OK", "+OK", "+OK"]);
  deepStrictEqual(sent, [
    ["PING"],
    ["AUTH", "repl", "secret"],
    ["REPLCONF", "listening-port", "7000"],
    ["REPLCONF", "ip-address", "10.0.0.5"],
    ["REPLCONF", "capa", "eof", "capa", "psync2", "capa", "rdb-channel-repl"],
    ["PSYNC", "b".repeat(40), "100", "FAILOVER"],
  ]);
  ok("state" in last);
});

Deno.test("refusals: a bad PING reply or AUTH ends the attempt; a refused REPLCONF is a warning", () => {
  deepStrictEqual(run(base, ["-ERR nonsense"]).last, {
    error: "Error reply to PING from master: 'ERR nonsense'",
  });
  const withAuth = { ...base, auth: { user: "", pass: "x" } };
  deepStrictEqual(run(withAuth, ["+PONG", "-WRONGPASS invalid username-password pair"]).last, {
    error: "Unable to AUTH to MASTER: WRONGPASS invalid username-password pair",
  });
  const { last } = run(base, ["+PONG", "-ERR Unrecognized REPLCONF option", "+OK", "+CONTINUE"]);
  ok("done" in last);
  deepStrictEqual(last.done, { kind: "continue", replId: null });
  equal(last.warnings.length, 1);
  ok(last.warnings[0]!.includes("listening-port"));
});

Deno.test("PSYNC replies and payload preambles", () => {
  const id = "c".repeat(40);
  deepStrictEqual(psyncOutcome(`+CONTINUE ${id}`), { kind: "continue", replId: id });
  deepStrictEqual(psyncOutcome("+RDBCHANNELSYNC 17"), { kind: "rdbchannel", clientId: 17 });
  equal(psyncOutcome("+FULLRESYNC short 1").kind, "retry");
  equal(psyncOutcome("-NOMASTERLINK Can't SYNC while not connected with my master").kind, "retry");
  equal(psyncOutcome("-LOADING Redis is loading the dataset in memory").kind, "retry");
  equal(psyncOutcome("-ERR unknown command 'PSYNC'").kind, "nopsync");
  equal(psyncOutcome("garbage").kind, "retry");
  deepStrictEqual(parsePreamble("$1024"), { kind: "length", length: 1024 });
  deepStrictEqual(parsePreamble(`$EOF:${id}`), { kind: "eof", mark: id });
  equal(parsePreamble("$EOF:short").kind, "error");
  equal(parsePreamble("$-5").kind, "error");
  equal(parsePreamble("+OK").kind, "error");
  equal(parsePreamble("-ERR no").kind, "error");
});
