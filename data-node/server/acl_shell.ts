/**
 * The ACL's side effects on the server: the requirepass link to the default user, denials
 * logged with the client's CLIENT INFO line, connections closed when their user goes, and the
 * ACL file read and written.
 */
import type { Server } from "./server.ts";
import type { Client } from "./client.ts";
import { subscriptionAllowed, type User } from "../acl/acl.ts";
import { formatUsers, parseAclFile, parseUserWords } from "../acl/file.ts";
import { getLogger } from "../../shared/log.ts";

const log = getLogger(["data-node", "acl"]);

/** requirepass is the default user's only password; empty means nopass (Redis's coupling). */
export function wireRequirepass(s: Server): void {
  const apply = (pass: string) => {
    const u = s.acl.defaultUser;
    s.acl.applyRule(u, "resetpass");
    s.acl.applyRule(u, pass === "" ? "nopass" : `>${pass}`);
  };
  if (s.config.getString("requirepass") !== "") apply(s.config.getString("requirepass"));
  s.config.onChange("requirepass", (v) => {
    apply(v as string);
    return undefined;
  });
  s.acl.pubsubDefault = s.config.getString("acl-pubsub-default") as "allchannels";
  s.config.onChange("acl-pubsub-default", (v) => {
    s.acl.pubsubDefault = v as "allchannels";
    return undefined;
  });
}

/** Closes every connection authenticated as `u` (the caller's own after its reply). */
export function disconnectUser(s: Server, u: User, self: Client | null): void {
  for (const c of [...s.clients.values()]) {
    if (c.aclUser !== u) continue;
    if (c === self) c.closeAfterReply = true;
    else s.freeClient(c);
  }
}

/** Closes `u`'s subscribers holding a channel or pattern that `allowed` no longer allows. */
export function disconnectSubscribers(
  s: Server,
  u: User,
  allowed: string[],
  self: Client | null,
): void {
  for (const c of [...s.clients.values()]) {
    if (c.aclUser !== u || c.subscriptionCount + c.shardChannels.size === 0) continue;
    const ok = [...c.patterns].every((p) => subscriptionAllowed(allowed, p, true)) &&
      [...c.channels].every((ch) => subscriptionAllowed(allowed, ch, false)) &&
      [...c.shardChannels].every((ch) => subscriptionAllowed(allowed, ch, false));
    if (ok) continue;
    if (c === self) c.closeAfterReply = true;
    else s.freeClient(c);
  }
}

/**
 * Users from the config file (`user` lines) or the ACL file, at startup; the reason startup
 * must stop, or null. Redis refuses both sources at once.
 */
export function loadUsersAtStartup(s: Server, userLines: string[][]): string | null {
  const aclfile = s.config.getString("aclfile");
  if (aclfile && userLines.length) {
    return "Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.";
  }
  if (aclfile) return aclLoad(s, null);
  const users = new Map<string, User>();
  for (const words of userLines) {
    const err = parseUserWords(s.acl, words, users);
    if (err) return `Error in user declaration '${words[0]}': ${err}`;
  }
  installUsers(s, users, null);
  return null;
}

/** ACL LOAD: the file's users replace all others; their connections are closed. */
export function aclLoad(s: Server, self: Client | null): string | null {
  const file = s.config.getString("aclfile");
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound
      ? "No such file or directory"
      : (e as Error).message.replace(/ \(os error.*$/, "");
    return `Error loading ACLs, opening file '${file}': ${why}`;
  }
  const parsed = parseAclFile(s.acl, text, file);
  if ("errors" in parsed) return parsed.errors;
  installUsers(s, parsed.users, self);
  return null;
}

/**
 * Replaces the user table. The default user keeps its identity (its connections stay and see
 * the new rules); connections of every other previous user are closed, as in Redis.
 */
function installUsers(s: Server, users: Map<string, User>, self: Client | null): void {
  const old = [...s.acl.users.values()];
  const def = s.acl.defaultUser;
  const newDef = users.get("default");
  if (newDef) Object.assign(def, newDef);
  s.acl.users.clear();
  s.acl.users.set("default", def);
  for (const [name, u] of users) if (name !== "default") s.acl.users.set(name, u);
  for (const u of old) if (u !== def) disconnectUser(s, u, self);
}

/** ACL SAVE: every user as a line, written to a temporary file then renamed over the old. */
export function aclSave(s: Server): string | null {
  const file = s.config.getString("aclfile");
  const tmp = `${file}.tmp-${Deno.pid}`;
  try {
    Deno.writeTextFileSync(tmp, formatUsers(s.acl).join("\n") + "\n");
    Deno.renameSync(tmp, file);
  } catch (e) {
    log.warn("Opening temp ACL file for ACL SAVE: {err}", { err: (e as Error).message });
    return (e as Error).message;
  }
  return null;
}
