/** One CLIENT LIST / CLIENT INFO line, with Redis 7.0's fields in Redis's order. */
import type { Client } from "./client.ts";
import type { Server } from "./server.ts";
import { BLOCK_BYTES } from "../replication/backlog.ts";

function flags(c: Client): string {
  let f = "";
  if (c.kind === "replica") f += "S";
  if (c.kind === "master") f += "M";
  if (c.subscriptionCount > 0 || c.shardChannels.size > 0) f += "P";
  if (c.multi) f += "x";
  if (c.blocked) f += "b";
  if (c.tracking !== null) f += "t";
  if (c.tracking?.brokenRedirect) f += "R";
  if (c.tracking?.bcast) f += "B";
  if (c.monitor) f += "O";
  if (c.dirtyCas) f += "d";
  if (c.closeAfterReply) f += "c";
  if (c.noEvict) f += "e";
  if (c.unixSocket) f += "U";
  return f === "" ? "N" : f;
}

/** Bytes a client's queued MULTI commands hold (their arguments and the queue's slots). */
export function multiMemory(c: Client): number {
  if (c.multi === null) return 0;
  let n = c.multi.length * 16;
  for (const q of c.multi) for (const a of q.argv) n += a.length + 8;
  return n;
}

/** A client's fixed cost besides its buffers (the connection's state), as tot-mem counts it. */
const CLIENT_BASE_BYTES = 1024;

/** A WATCHed key's bookkeeping, about what Redis spends on one (measured: ~60 bytes). */
const WATCHED_KEY_BYTES = 60;
/** A BCAST tracking prefix with its text, as Redis spends on a short one (measured: ~33 bytes). */
const TRACKING_PREFIX_BYTES = 40;

/**
 * What a client's connection holds, as Redis's tot-mem counts it and client eviction
 * (maxmemory-clients) weighs it: the query buffer with a partial command's arguments (a big
 * argument still arriving counts whole, as Redis allocates it so), the reply buffer and the
 * output waiting to be written, queued MULTI commands, WATCHed keys, tracking prefixes, and its
 * fixed state.
 */
export function clientMemory(c: Client): number {
  // The query buffer counts what it holds (unparsed bytes and a partial command's arguments):
  // its room shrinks back in the clients cron, as Redis hands a big argument's buffer to the
  // argument and starts a small one. While a big argument arrives the buffer is that argument's,
  // sized for it from its header on, so the figure stays the same until the argument is used.
  const big = c.parser.awaitedBigArgument;
  const input = big > 0
    ? Math.max(big, c.parser.pending)
    : Math.min(c.parser.memory, c.parser.pending + 16 * 1024);
  let watched = 0;
  for (const keys of c.watching.values()) watched += keys.size;
  const prefixes = c.tracking === null ? 0 : c.tracking.prefixes.size * TRACKING_PREFIX_BYTES;
  return CLIENT_BASE_BYTES + input + c.out.buf.length + c.outputPending + multiMemory(c) +
    8 * (c.channels.size + c.patterns.size + c.shardChannels.size) +
    watched * WATCHED_KEY_BYTES + prefixes;
}

export function clientInfoLine(s: Server, c: Client): string {
  const now = s.clock.nowMs();
  const qbuf = c.parser.queryBufferLength;
  const streamed = c.replicaLink === null ? 0 : s.replication.master.pendingOf(c.replicaLink);
  const fields: [string, string | number][] = [
    ["id", c.id],
    ["addr", c.addr],
    ["laddr", c.laddr],
    ["fd", c.fd],
    ["name", c.name],
    ["age", Math.floor((now - c.createdMs) / 1000)],
    ["idle", Math.floor((now - c.lastInteractionMs) / 1000)],
    ["flags", flags(c)],
    ["db", c.db.id],
    ["sub", c.channels.size],
    ["psub", c.patterns.size],
    ["ssub", c.shardChannels.size],
    ["multi", c.multi ? c.multi.length : -1],
    ["qbuf", qbuf],
    ["qbuf-free", Math.max(0, c.parser.allocated - qbuf)],
    ["argv-mem", 0],
    ["multi-mem", multiMemory(c)],
    ["rbs", c.replyBufSize],
    ["rbp", c.replyBufPeak],
    ["obl", 0],
    // A replica's output is the replication stream it has still to send (16 KB blocks).
    ["oll", streamed === 0 ? 0 : Math.ceil(streamed / BLOCK_BYTES)],
    ["omem", c.outputPending + streamed],
    ["tot-mem", clientMemory(c)],
    ["events", "r"],
    ["cmd", c.lastCommand],
    ["user", c.user],
    ["redir", c.tracking === null ? -1 : c.tracking.redirect],
    ["resp", c.proto],
  ];
  return fields.map(([k, v]) => `${k}=${v}`).join(" ");
}
