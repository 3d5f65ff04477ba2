/** Conformance cases (see cases.ts for the step format): SLOWLOG, LATENCY, LOLWUT, MODULE. */
import { c, type Case } from "./cases.ts";

export const CASES_OPS: Case[] = [
  {
    name: "slowlog: help, arity, count validation, len and reset",
    steps: [
      c("SLOWLOG", "HELP"),
      c("SLOWLOG", "HELP", "x"),
      c("SLOWLOG"),
      c("SLOWLOG", "NOPE"),
      c("SLOWLOG", "GET", "x"),
      c("SLOWLOG", "GET", "-2"),
      c("SLOWLOG", "GET", "1", "2"),
      c("SLOWLOG", "LEN", "x"),
      c("SLOWLOG", "RESET"),
      c("SLOWLOG", "LEN"),
      c("SLOWLOG", "GET"),
      c("SLOWLOG", "GET", "-1"),
      c("SLOWLOG", "GET", "0"),
    ],
  },
  {
    name: "slowlog: the command that reset it is the first entry; max-len trims",
    steps: [
      c("CONFIG", "SET", "slowlog-log-slower-than", "0"),
      c("CONFIG", "SET", "slowlog-max-len", "3"),
      c("SLOWLOG", "RESET"),
      c("SET", "a", "1"),
      c("GET", "a"),
      c("INCR", "a"),
      c("PING"),
      c("CONFIG", "SET", "slowlog-log-slower-than", "-1"),
      c("SLOWLOG", "LEN"),
      c("CONFIG", "SET", "slowlog-max-len", "1"),
      c("SLOWLOG", "LEN"),
      c("CONFIG", "SET", "slowlog-max-len", "128"),
      c("CONFIG", "SET", "slowlog-log-slower-than", "10000"),
      c("SLOWLOG", "RESET"),
    ],
  },
  {
    name: "latency: help, unknown events, reset counts, arity",
    steps: [
      c("LATENCY", "HELP"),
      c("LATENCY", "HELP", "xxx"),
      c("LATENCY"),
      c("LATENCY", "NOPE"),
      c("LATENCY", "RESET"),
      c("LATENCY", "LATEST"),
      c("LATENCY", "HISTORY", "blabla"),
      c("LATENCY", "RESET", "blabla"),
      c("LATENCY", "GRAPH", "blabla"),
      c("LATENCY", "HISTORY"),
      c("LATENCY", "GRAPH", "a", "b"),
      c("LATENCY", "HISTOGRAM", "blabla"),
      c("LATENCY", "HISTOGRAM", "blabla", "blabla2"),
    ],
  },
  {
    name: "latency histogram: calls per command and subcommand after CONFIG RESETSTAT",
    steps: [
      c("CONFIG", "RESETSTAT"),
      c("SET", "a", "b"),
      c("SET", "c", "d"),
      c("CLIENT", "GETNAME"),
      // Only the call counts are compared: the bucket bounds depend on timing.
      { cmd: ["LATENCY", "HISTOGRAM", "set"], shape: true },
      { cmd: ["LATENCY", "HISTOGRAM", "client"], shape: true },
      { cmd: ["LATENCY", "HISTOGRAM", "client|getname", "nope"], shape: true },
      { cmd: ["INFO", "latencystats"], shape: true },
    ],
  },
  {
    name: "lolwut: the version line, version arguments, bad numbers",
    steps: [
      c("LOLWUT"),
      c("LOLWUT", "VERSION", "7"),
      c("LOLWUT", "VERSION", "4"),
      c("LOLWUT", "VERSION", "-1"),
      c("LOLWUT", "VERSION", "x"),
      c("LOLWUT", "VERSION", "5", "x"),
      c("LOLWUT", "VERSION", "6", "1", "y"),
      c("LOLWUT", "VERSION", "5", "1", "1", "1"),
      c("LOLWUT", "VERSION", "5", "2", "1", "1"),
      c("LOLWUT", "extra", "args"),
    ],
  },
  {
    name: "module: list is empty, load and unload refused as Redis does by default",
    steps: [
      c("MODULE", "LIST"),
      c("MODULE", "HELP"),
      c("MODULE", "LOAD", "/nonexistent.so"),
      c("MODULE", "LOADEX", "/nonexistent.so", "CONFIG", "a", "b"),
      c("MODULE", "UNLOAD", "x"),
      c("MODULE", "UNLOAD"),
      c("MODULE", "NOPE"),
      // Refused before MULTI queues it, so the transaction is aborted.
      c("MULTI"),
      c("MODULE", "LOADEX", "a"),
      c("MODULE", "LIST"),
      c("EXEC"),
    ],
  },
  {
    name: "arguments read as Redis's C code reads them",
    steps: [
      // Any 64-bit replica count; a timeout whose deadline is past INT64_MAX (Redis wraps it).
      c("WAIT", "9223372036854775807", "1"),
      c("WAIT", "0", "9223372036854775807"),
      c("WAIT", "1", "-1"),
      c("WAIT", "x", "1"),
      // A pause whose deadline wraps ends at once.
      c("CLIENT", "PAUSE", "9223372036854775807"),
      c("PING"),
      c("CLIENT", "UNPAUSE"),
      // MIGRATE reads its port with atoi, after looking for the keys.
      c("MIGRATE", "127.0.0.1", "a", "nokey", "0", "0"),
      c("MIGRATE", "127.0.0.1", "1", "nokey", "x", "0"),
      // "%s" stops at a NUL byte.
      c("XADD", "s", "1-1", "f", "v"),
      c("XCLAIM", "s", "\x00g\n", "c", "1", "1-1"),
      c("XGROUP", "CREATECONSUMER", "s", "g\x00x", "c"),
      // Stream IDs read as string2ull reads them: strtoull's spaces and signs when not strict.
      c("XADD", "t", "+1", "f", "v"),
      c("XADD", "t", " 2", "f", "v"),
      c("XADD", "t", "3-+2", "f", "v"),
      c("XADD", "t", "4--1", "f", "v"),
      c("XADD", "t", "5--01", "f", "v"),
      c("XADD", "t", "-0", "f", "v"),
      c("XTRIM", "t", "MINID", "+1", "a"),
      c("XRANGE", "t", "+2", "( 4"),
      // An empty ACL rule changes nothing.
      c("ACL", "SETUSER", "u1", "", "x"),
      c("ACL", "SETUSER", "u1", "", "on"),
      c("ACL", "DELUSER", "u1"),
      // Outside cluster mode every CLUSTER subcommand is refused.
      c("CLUSTER", "KEYSLOT", "a"),
      c("CLUSTER", "HELP"),
    ],
  },
];
