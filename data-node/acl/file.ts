/**
 * Users written as lines (`user <name> <rule> ...`): the ACL file, `user` directives of the
 * config file, and what ACL SAVE and CONFIG REWRITE write. Pure: text in, users or errors out.
 */
import { splitArgs } from "../../shared/config/parse.ts";
import { type Acl, hasSpaces, mergeSelectorArgs, RULE_ERRORS, type User } from "./acl.ts";

/**
 * Parses ACL file text into a fresh set of users (the default user included, created as Redis
 * creates it when the file does not name it); or the errors, each as Redis words them.
 */
export function parseAclFile(
  acl: Acl,
  text: string,
  fileName: string,
): { users: Map<string, User> } | { errors: string } {
  const users = new Map<string, User>();
  let errors = "";
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "" || line.startsWith("#")) continue;
    const at = `${fileName}:${i + 1}`;
    const args = splitArgs(line);
    if (args === null) {
      errors += `${at}: unbalanced quotes in acl line. `;
      continue;
    }
    if (args[0] !== "user" || args.length < 2) {
      errors += `${at}: line should start with user keyword. `;
      continue;
    }
    const err = parseUserWords(acl, args.slice(1), users);
    if (err) errors += `${at}: ${err}. `;
  }
  if (errors) {
    return {
      errors: errors +
        "WARNING: ACL errors detected, no change to the previously active ACL rules was performed",
    };
  }
  if (!users.has("default")) users.set("default", defaultUser(acl));
  return { users };
}

/** One `user name rules...` declaration added to `users`; the reason when it is refused. */
export function parseUserWords(
  acl: Acl,
  words: string[],
  users: Map<string, User>,
): string | null {
  const name = words[0]!;
  if (hasSpaces(name)) return `username '${name}' contains invalid characters`;
  if (users.has(name)) return RULE_ERRORS.duplicate;
  const merged = mergeSelectorArgs(words.slice(1));
  if ("unmatched" in merged) {
    return `Unmatched parenthesis in acl selector starting at '${merged.unmatched}'`;
  }
  const u = acl.newUser(name);
  for (const rule of merged.ok) {
    const err = acl.applyRule(u, rule);
    if (err) return RULE_ERRORS[err];
  }
  users.set(name, u);
  return null;
}

function defaultUser(acl: Acl): User {
  const u = acl.newUser("default");
  for (const r of ["+@all", "~*", "&*", "on", "nopass"]) acl.applyRule(u, r);
  return u;
}

/** The users as lines (ACL LIST's order), for ACL SAVE and CONFIG REWRITE. */
export function formatUsers(acl: Acl): string[] {
  return [...acl.users.values()]
    .sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
    .map((u) => acl.describeUser(u));
}
