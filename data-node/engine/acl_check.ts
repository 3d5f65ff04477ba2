/**
 * The ACL check of a call and the ACL LOG entry of a denial, shared by the dispatcher (at
 * queue time in MULTI), EXEC (rules may change between MULTI and EXEC) and AUTH/HELLO.
 */
import type { ClientState, Engine } from "./types.ts";
import type { CommandDef } from "../commands/types.ts";
import type { Denial, LogEntry } from "../acl/acl.ts";

/** Records a denial in the ACL LOG (object: the command, key, channel, or AUTH/HELLO). */
export function logDenial(
  s: Engine,
  c: ClientState,
  reason: Denial | "auth",
  object: string,
  username: string,
  context: LogEntry["context"] = c.multi ? "multi" : "toplevel",
): void {
  s.aclLog.add({
    reason,
    context,
    object,
    username,
    createdMs: s.clock.nowMs(),
    clientInfo: s.clientInfoLine(c),
  }, s.config.get<number>("acllog-max-len"));
}

/**
 * What the client's user may not do in this call (logged), or null when allowed. Clients
 * without a user (trusted callers) and users allowed everything pass without a check.
 */
export function aclDenied(
  s: Engine,
  c: ClientState,
  def: CommandDef,
  argv: string[],
  context?: LogEntry["context"],
): Denial | null {
  const user = c.aclUser;
  if (user === null || user.unrestricted) return null;
  const denied = s.acl.check(user, def, argv);
  if (denied === null) return null;
  // A refused command still is the client's last command (CLIENT INFO's cmd=), as in Redis.
  if (context === undefined) c.lastCommand = def.name;
  const object = denied.denial === "command" ? def.name : argv[denied.index]!;
  logDenial(s, c, denied.denial, object, user.name, context);
  return denied.denial;
}
