/**
 * Conformance cases for keyspace notifications and client-side caching: connection 1 is the
 * subscriber (or the tracking client) and reads exactly the messages a command raises. The
 * long differential runs are in tests/notifications_test.ts and tests/tracking_test.ts.
 */
import type { Case, Step } from "./cases.ts";

const other = (...cmd: string[]): Step => ({ cmd, conn: 1 });
/** Connection 1 reads `n` messages. */
const seen = (n: number): Step => ({ cmd: [], conn: 1, replies: n });
const events = (flags: string): string[] => ["CONFIG", "SET", "notify-keyspace-events", flags];

export const CASES_NOTIFY: Case[] = [
  {
    name: "notify-keyspace-events: keyspace and keyevent messages of a write, expire and del",
    steps: [
      events("KEA"),
      ["CONFIG", "GET", "notify-keyspace-events"],
      { cmd: ["PSUBSCRIBE", "__key*__:*"], conn: 1 },
      ["SET", "k", "v", "EX", "100"],
      seen(4),
      ["LPUSH", "l", "a"],
      ["LPOP", "l"],
      seen(6),
      ["DEL", "k", "nokey"],
      seen(2),
      events(""),
    ],
  },
  {
    name: "notify-keyspace-events: key creation (n) and key misses (m) by class",
    steps: [
      events("En"),
      ["CONFIG", "GET", "notify-keyspace-events"],
      { cmd: ["PSUBSCRIBE", "__keyevent@0__:*"], conn: 1 },
      ["HSET", "h", "f", "v"],
      ["HSET", "h", "g", "v"],
      ["SET", "s", "v"],
      seen(2),
      events("Em"),
      ["GET", "nokey"],
      ["SET", "nokey2", "v"],
      ["GET", "nokey3"],
      seen(2),
      events("Ag"),
      events(""),
    ],
  },
  {
    name: "client tracking: a RESP3 reader is told when another client changes its key",
    proto: 3,
    steps: [
      other("CLIENT", "TRACKING", "ON"),
      other("GET", "k"),
      ["SET", "k", "v"],
      seen(1),
      other("CLIENT", "TRACKINGINFO"),
      ["SET", "k", "w"],
      other("GET", "k"),
      ["FLUSHALL"],
      seen(1),
      other("CLIENT", "TRACKING", "OFF"),
    ],
  },
];
