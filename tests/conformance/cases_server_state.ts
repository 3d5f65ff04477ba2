/**
 * Conformance cases (see cases.ts for the step format): commands judged against the server's
 * state when they run (a replica link gone stale, CLIENT PAUSE), and function name lookups.
 * Every case leaves the server as it found it.
 */
import type { Case, Step } from "./cases.ts";
import { c, sorted } from "./cases.ts";

const other = (...cmd: string[]): Step => ({ cmd, conn: 1 });
/** Sends on the second connection without reading: the command is expected to wait. */
const sendOther = (...cmd: string[]): Step => ({ cmd, conn: 1, replies: 0 });
const readOther: Step = { cmd: [], conn: 1 };
const blocked = (n: number): Step => ({ cmd: [], blocked: n });
const field = (name: string, ...cmd: string[]): Step => ({ cmd, field: name });

export const CASES_SERVER_STATE: Case[] = [
  {
    name: "REPLCONF rdb-filter-only takes a list of what to include, and functions is all there is",
    steps: [
      c("REPLCONF", "rdb-filter-only", "functions"),
      c("REPLCONF", "rdb-filter-only", ""),
      c("REPLCONF", "rdb-filter-only", "FUNCTIONS functions"),
      c("REPLCONF", "rdb-filter-only", "functions keys"),
      c("REPLCONF", "rdb-filter-only", "'fun ctions'"),
      c("REPLCONF", "rdb-filter-only", '"functions'),
    ],
  },
  {
    name: "clients_in_timeout_table counts only blocked clients that have a timeout",
    steps: [
      sendOther("BLPOP", "tq", "0"),
      blocked(1),
      field("clients_in_timeout_table", "INFO", "clients"),
      c("RPUSH", "tq", "a"),
      readOther,
      sendOther("BLPOP", "tq", "100"),
      blocked(1),
      field("clients_in_timeout_table", "INFO", "clients"),
      c("RPUSH", "tq", "b"),
      readOther,
    ],
  },
  {
    name: "DEBUG's cluster subcommands outside cluster mode",
    steps: [
      c("DEBUG", "CLUSTERLINK", "KILL", "all", "0123456789012345678901234567890123456789"),
      c("DEBUG", "DROP-CLUSTER-PACKET-FILTER", "1"),
      c("DEBUG", "DROP-CLUSTER-PACKET-FILTER", "x"),
      c("DEBUG", "DROP-CLUSTER-PACKET-FILTER", "-1"),
    ],
  },
  {
    name: "EXEC checks the queued commands against a replica link that went stale meanwhile",
    steps: [
      c("CONFIG", "SET", "replica-serve-stale-data", "no"),
      c("SET", "k", "v"),
      c("MULTI"),
      c("GET", "k"),
      other("REPLICAOF", "localhsot", "0"),
      c("EXEC"),
      // A transaction of commands that may run on stale data still runs.
      c("MULTI"),
      c("PING"),
      c("EXEC"),
      c("GET", "k"),
      c("REPLICAOF", "NO", "ONE"),
      c("CONFIG", "SET", "replica-serve-stale-data", "yes"),
      c("GET", "k"),
    ],
  },
  {
    name: "CLIENT PAUSE WRITE holds what may replicate; the held clients count as blocked",
    steps: [
      c("PFADD", "h", "a"),
      c("CLIENT", "PAUSE", "100000", "WRITE"),
      // Reads pass.
      c("GET", "k"),
      sendOther("PFCOUNT", "h"),
      blocked(1),
      c("CLIENT", "UNPAUSE"),
      readOther,
      c("CLIENT", "PAUSE", "100000", "WRITE"),
      sendOther("PUBLISH", "ch", "m"),
      blocked(1),
      c("CLIENT", "UNPAUSE"),
      readOther,
      // A script without flags may write; one declaring no-writes runs at once.
      c("CLIENT", "PAUSE", "100000", "WRITE"),
      sendOther("EVAL", "return 1", "0"),
      blocked(1),
      c("EVAL", "#!lua flags=no-writes\nreturn 2", "0"),
      c("CLIENT", "UNPAUSE"),
      readOther,
      // EXEC of a transaction that queued a write waits; one of reads does not.
      other("MULTI"),
      other("SET", "k", "v"),
      c("CLIENT", "PAUSE", "100000", "WRITE"),
      sendOther("EXEC"),
      blocked(1),
      c("MULTI"),
      c("GET", "k"),
      c("EVAL", "#!lua flags=no-writes\nreturn 3", "0"),
      c("EXEC"),
      c("CLIENT", "UNPAUSE"),
      readOther,
      field("blocked_clients", "INFO", "clients"),
      c("GET", "k"),
    ],
  },
  {
    name: "CLIENT PAUSE WRITE holds a write before MULTI queues it",
    steps: [
      c("CLIENT", "PAUSE", "100000", "WRITE"),
      other("MULTI"),
      other("GET", "k"),
      sendOther("SET", "k", "queued"),
      blocked(1),
      c("CLIENT", "UNPAUSE"),
      readOther,
      other("EXEC"),
      c("GET", "k"),
    ],
  },
  {
    name: "keys whose TTL passes during CLIENT PAUSE look gone but expire only after it",
    steps: [
      c("CONFIG", "RESETSTAT"),
      c("MULTI"),
      c("SET", "a", "1", "PX", "10"),
      c("SET", "b", "2", "PX", "10"),
      c("CLIENT", "PAUSE", "100000", "WRITE"),
      c("EXEC"),
      c("DEBUG", "SLEEP", "0.2"),
      c("GET", "a"),
      c("EXISTS", "a", "b"),
      c("DBSIZE"),
      field("expired_keys", "INFO", "stats"),
      c("CLIENT", "UNPAUSE"),
      c("GET", "a"),
      c("GET", "b"),
      c("DBSIZE"),
      field("expired_keys", "INFO", "stats"),
    ],
  },
  {
    name: "function names are found whatever their case; library names are exact",
    steps: [
      c("FUNCTION", "FLUSH"),
      c(
        "FUNCTION",
        "LOAD",
        "#!lua name=lib1\nredis.register_function('test', function() return 1 end)",
      ),
      c("FCALL", "TEST", "0"),
      c("FCALL", "Test", "0"),
      c("FCALL_RO", "TEST", "0"),
      // Another library may not take the name in another case.
      c(
        "FUNCTION",
        "LOAD",
        "#!lua name=lib2\nredis.register_function('TEST', function() return 2 end)",
      ),
      c("FUNCTION", "LIST", "LIBRARYNAME", "LIB1"),
      c("FUNCTION", "DELETE", "LIB1"),
      c(
        "FUNCTION",
        "LOAD",
        "REPLACE",
        "#!LUA name=lib1\nredis.register_function('TEST', function() return 4 end)",
      ),
      c("FCALL", "test", "0"),
      c("FUNCTION", "DELETE", "lib1"),
      c("FCALL", "test", "0"),
    ],
  },
  {
    name: "FUNCTION argument errors, a library that loads too long, register_function at run time",
    steps: [
      c("FUNCTION", "FLUSH"),
      c(
        "FUNCTION",
        "LOAD",
        "#!lua name=lib\nredis.register_function('f', function() return 1 end)",
      ),
      c("FCALL", "f", "bad"),
      c("FCALL", "f", "1"),
      c("FCALL", "f", "-1"),
      c("FCALL", "nofunc", "bad"),
      c("FUNCTION", "RESTORE", "a", "b", "c"),
      c("FUNCTION", "FLUSH", "sync", "extra"),
      c("FUNCTION", "FLUSH", "bad"),
      c("FUNCTION", "LOAD", "#!lua name=loop\nlocal a = 1\nwhile 1 do a = a + 1 end"),
      c("FUNCTION", "LIST", "LIBRARYNAME", "loop"),
      c(
        "FUNCTION",
        "LOAD",
        "#!lua name=lib2\nredis.register_function('f1', function() " +
          "redis.register_function('f2', function() return 2 end) return 1 end)",
      ),
      c("FCALL", "f1", "0"),
      c("EVAL", "return type(redis.register_function)", "0"),
      c("FCALL", "f", "0"),
      c("FUNCTION", "FLUSH"),
      // The header's words split as Redis splits arguments; checked in Redis's order.
      ...[
        "#!lua name=foo name=bar",
        '#!lua name="foo"',
        "#!lua NAME=foo2",
        "#!lua name=foo x=1",
        "#!py name=foo",
        "#!py name=f-o",
        "#!lua",
        '#!lua name="unbalanced',
      ].map((h) =>
        c(
          "FUNCTION",
          "LOAD",
          "REPLACE",
          `${h}\nredis.register_function('foo', function() return 1 end)`,
        )
      ),
      c("FUNCTION", "LOAD", "#!lua name=noline"),
      c("FUNCTION", "FLUSH"),
    ],
  },
  {
    name: "hidden configs answer CONFIG GET by name only",
    steps: [
      c("CONFIG", "GET", "key-load-delay"),
      c("CONFIG", "GET", "*load-delay*"),
      // Several names: Redis answers in its table's order.
      sorted("CONFIG", "GET", "rdb-key-save-delay", "watchdog-period", "use-exit-on-panic"),
      c("CONFIG", "GET", "loading-process-events-interval-bytes"),
      c("CONFIG", "SET", "key-load-delay", "-5"),
      c("CONFIG", "GET", "key-load-delay"),
      c("CONFIG", "SET", "loading-process-events-interval-bytes", "100"),
      c("CONFIG", "SET", "key-load-delay", "0"),
      c("CONFIG", "GET", "*watchdog*"),
    ],
  },
];
