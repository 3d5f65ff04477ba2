/**
 * Users written as lines (`user <name> <rule> ...`): the ACL file, `user` directives of the
 * config file, and what ACL SAVE and CONFIG REWRITE write. Pure: text in, users or errors out.
 */
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
    // As Redis: no quoting and no comments; words are separated by single spaces.
    const line = lines[i]!.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, "");
    if (line === "") continue;
    const at = `${fileName}:${i + 1}`;
    const args = line.split(" ");
    if (args[0] !== "user" || args.length < 2) {
      errors += `${at} should start with user keyword followed by the username. `;
      continue;
    }
    const name = args[1]!;
    if (users.has(name)) {
      errors += `WARNING: Duplicate user '${name}' found on line ${i + 1}. `;
      continue;
    }
    const merged = mergeSelectorArgs(args.slice(2));
    if ("unmatched" in merged) {
      errors += `${at}: Unmatched parenthesis in selector definition.`;
      continue;
    }
    const u = acl.newUser(name);
    let reported = false;
    for (const rule of merged.ok) {
      const err = acl.applyRule(u, rule.replace(/^[\t\r\n]+|[\t\r\n]+$/g, ""));
      if (err === "unknown") {
        errors += `${at}: Error in applying operation '${rule}': ${RULE_ERRORS[err]}. `;
      } else if (err && !reported) {
        // Only the first other error of a line: it may be the cause of the next ones.
        errors += `${at}: ${RULE_ERRORS[err]}. `;
        reported = true;
      }
    }
    users.set(name, u);
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
