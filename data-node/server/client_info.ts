/** One CLIENT LIST / CLIENT INFO line, with Redis 7.0's fields in Redis's order. */
import type { Client } from "./client.ts";
import type { Server } from "./server.ts";

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

export function clientInfoLine(s: Server, c: Client): string {
  const now = s.clock.nowMs();
  const qbuf = c.parser.queryBufferLength;
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
    ["multi-mem", 0],
    ["rbs", c.replyBufSize],
    ["rbp", c.replyBufPeak],
    ["obl", 0],
    ["oll", 0],
    ["omem", c.outputPending],
    ["tot-mem", c.parser.buf.length + c.out.buf.length],
    ["events", "r"],
    ["cmd", c.lastCommand],
    ["user", c.user],
    ["redir", c.tracking === null ? -1 : c.tracking.redirect],
    ["resp", c.proto],
  ];
  return fields.map(([k, v]) => `${k}=${v}`).join(" ");
}
