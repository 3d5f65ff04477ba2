/** ACL: users, their rules, the denial log and the ACL file (see acl/acl.ts for the rules). */
import type { ClientState, Engine } from "../engine/types.ts";
import { cmd, container, ERR, parseI64, replyHelp, subcommandSyntaxError } from "./define.ts";
import type { CommandDef } from "./types.ts";
import {
  channelsToRecheck,
  genpass,
  hasSpaces,
  mergeSelectorArgs,
  RULE_ERRORS,
  type User,
} from "../acl/acl.ts";
import { cstr } from "../../shared/cstr.ts";
import { ACL_HELP, GENPASS_ERR, NO_ACLFILE } from "../../shared/acl/texts.ts";
import { writeLogEntries } from "../../shared/acl/acl.ts";

function setuser(s: Engine, c: ClientState, argv: string[]): void {
  // Every argument may tell something of the user (a password, a key pattern): none of them
  // shows in SLOWLOG or MONITOR, as in Redis, whether the command succeeds or not.
  for (let i = 2; i < argv.length; i++) c.redact(argv, i);
  const name = argv[2]!;
  if (hasSpaces(name)) return c.error("ERR Usernames can't contain spaces or null characters");
  const merged = mergeSelectorArgs(argv.slice(3));
  if ("unmatched" in merged) {
    return c.error(
      `ERR Unmatched parenthesis in acl selector starting at '${cstr(merged.unmatched)}'.`,
    );
  }
  // All the rules apply, or none: they are tried on a copy first.
  const existing = s.acl.users.get(name);
  const copy = existing ? s.acl.cloneUser(existing) : s.acl.newUser(name);
  for (const rule of merged.ok) {
    const err = s.acl.applyRule(copy, rule);
    if (err) {
      return c.error(`ERR Error in ACL SETUSER modifier '${cstr(rule)}': ${RULE_ERRORS[err]}`);
    }
  }
  if (existing) {
    // Subscribers whose channels the new rules no longer allow are disconnected, as in Redis.
    const recheck = channelsToRecheck(existing, copy);
    if (recheck) s.aclDisconnectSubscribers(existing, recheck, c);
    Object.assign(existing, copy);
  } else s.acl.users.set(name, copy);
  c.out.ok();
}

function getuser(s: Engine, c: ClientState, argv: string[]): void {
  const u = s.acl.users.get(argv[2]!);
  if (!u) return c.out.nullBulk();
  c.out.map(6);
  c.out.bulk("flags");
  const flags = [u.enabled ? "on" : "off"];
  if (u.nopass) flags.push("nopass");
  if (u.sanitize) flags.push(u.sanitize);
  c.out.set(flags.length);
  for (const f of flags) c.out.bulk(f);
  c.out.bulk("passwords");
  c.out.array(u.passwords.length);
  for (const p of u.passwords) c.out.bulk(p);
  describeSelectorFields(s, c, u, 0);
  c.out.bulk("selectors");
  c.out.array(u.selectors.length - 1);
  for (let i = 1; i < u.selectors.length; i++) {
    c.out.map(3);
    describeSelectorFields(s, c, u, i);
  }
}

function describeSelectorFields(s: Engine, c: ClientState, u: User, i: number): void {
  const sel = u.selectors[i]!;
  c.out.bulk("commands");
  c.out.bulk(s.acl.describeCommands(sel));
  c.out.bulk("keys");
  c.out.bulk(s.acl.describeKeys(sel));
  c.out.bulk("channels");
  c.out.bulk(s.acl.describeChannels(sel));
}

function deluser(s: Engine, c: ClientState, argv: string[]): void {
  let deleted = 0;
  for (const name of argv.slice(2)) {
    if (name === "default") return c.error("ERR The 'default' user cannot be removed");
  }
  for (const name of argv.slice(2)) {
    const u = s.acl.users.get(name);
    if (!u) continue;
    s.acl.users.delete(name);
    s.aclDisconnect(u, c);
    deleted++;
  }
  c.out.int(deleted);
}

function list(s: Engine, c: ClientState): void {
  const users = sortedUsers(s);
  c.out.array(users.length);
  for (const u of users) c.out.bulk(s.acl.describeUser(u));
}

function sortedUsers(s: Engine): User[] {
  return [...s.acl.users.values()].sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

function users(s: Engine, c: ClientState): void {
  const all = sortedUsers(s);
  c.out.array(all.length);
  for (const u of all) c.out.bulk(u.name);
}

function whoami(_s: Engine, c: ClientState): void {
  c.out.bulk(c.user);
}

function cat(s: Engine, c: ClientState, argv: string[]): void {
  if (argv.length > 3) return subcommandSyntaxError(c, argv, "ACL");
  if (argv.length === 2) {
    const cats = s.acl.categories();
    c.out.array(cats.length);
    for (const x of cats) c.out.bulk(x);
    return;
  }
  const names = s.acl.commandsInCategory(argv[2]!);
  if (names === null) return c.error(`ERR Unknown category '${cstr(argv[2]!)}'`);
  c.out.array(names.length);
  for (const n of names) c.out.bulk(n);
}

function genpassCmd(_s: Engine, c: ClientState, argv: string[]): void {
  if (argv.length > 3) return subcommandSyntaxError(c, argv, "ACL");
  let bits = 256;
  if (argv.length === 3) {
    const v = parseI64(argv[2]!);
    if (v === null) return c.error(ERR.notInt);
    if (v <= 0n || v > 4096n) return c.error(GENPASS_ERR);
    bits = Number(v);
  }
  c.out.bulk(genpass(bits));
}

function log(s: Engine, c: ClientState, argv: string[]): void {
  if (argv.length > 3) return subcommandSyntaxError(c, argv, "ACL");
  let count = 10;
  if (argv.length === 3) {
    if (argv[2]!.toLowerCase() === "reset") {
      s.aclLog.entries = [];
      return c.out.ok();
    }
    const v = parseI64(argv[2]!);
    if (v === null) return c.error(ERR.notInt);
    count = v < 0n ? 0 : Number(v > 1000000n ? 1000000n : v);
  }
  writeLogEntries(c.out, s.aclLog.entries.slice(0, count), s.nowMs);
}

function dryrun(s: Engine, c: ClientState, argv: string[]): void {
  const u = s.acl.users.get(argv[2]!);
  if (!u) return c.error(`ERR User '${cstr(argv[2]!)}' not found`);
  const args = argv.slice(3);
  // The name is a command's own ("xgroup|create" names no command), as Redis looks it up.
  let def = args[0]!.includes("|") ? undefined : s.acl.lookup(args[0]!);
  // A container's subcommand is looked up from the second argument; an unknown one is an
  // unknown command, as in Redis.
  if (def?.subcommands && args.length >= 2) def = s.acl.lookup(`${def.name}|${args[1]!}`);
  if (!def) return c.error(`ERR Command '${cstr(args[0]!)}' not found`);
  const arityOk = def.arity > 0 ? args.length === def.arity : args.length >= -def.arity;
  if (!arityOk) return c.error(`ERR wrong number of arguments for '${def.name}' command`);
  const denied = s.acl.check(u, def, args);
  if (!denied) return c.out.ok();
  c.out.bulk(denialText(denied.denial, def.name, args[denied.index] ?? ""));
}

function denialText(denial: string, command: string, object: string): string {
  if (denial === "command") return `This user has no permissions to run the '${command}' command`;
  if (denial === "key") return `This user has no permissions to access the '${object}' key`;
  return `This user has no permissions to access the '${object}' channel`;
}

function save(s: Engine, c: ClientState): void {
  if (!s.config.getString("aclfile")) return c.error(NO_ACLFILE);
  const err = s.aclSave();
  if (err) {
    return c.error(
      "ERR There was an error trying to save the ACLs. Please check the server logs for more information",
    );
  }
  c.out.ok();
}

function load(s: Engine, c: ClientState): void {
  if (!s.config.getString("aclfile")) return c.error(NO_ACLFILE);
  const err = s.aclLoad(c);
  if (err) return c.error(`ERR ${err}`);
  c.out.ok();
}

const ADMIN = "admin noscript loading stale";
const PLAIN = "noscript loading stale";
const sub = (
  name: string,
  arity: number,
  flags: string,
  handler: (s: Engine, c: ClientState, argv: string[]) => void,
  summary: string,
  since = "6.0.0",
): CommandDef =>
  cmd(`acl|${name}`, arity, flags, null, "server", handler, {
    summary,
    since,
    complexity: "O(N). Where N is the number of configured users.",
  });

export const ACL_COMMANDS: CommandDef[] = [
  container("acl", "server", [
    sub("cat", -2, PLAIN, cat, "Lists the ACL categories, or the commands inside a category."),
    sub("deluser", -3, ADMIN, deluser, "Deletes ACL users, and terminates their connections."),
    sub(
      "dryrun",
      -4,
      ADMIN,
      dryrun,
      "Simulates the execution of a command by a user, without executing the command.",
      "7.0.0",
    ),
    sub(
      "genpass",
      -2,
      PLAIN,
      genpassCmd,
      "Generates a pseudorandom, secure password that can be used to identify ACL users.",
    ),
    sub("getuser", 3, ADMIN, getuser, "Lists the ACL rules of a user."),
    sub("list", 2, ADMIN, list, "Dumps the effective rules in ACL file format."),
    sub("load", 2, ADMIN, load, "Reloads the rules from the configured ACL file."),
    sub("log", -2, ADMIN, log, "Lists recent security events generated due to ACL rules."),
    sub("save", 2, ADMIN, save, "Saves the effective ACL rules in the configured ACL file."),
    sub("setuser", -3, ADMIN, setuser, "Creates and modifies an ACL user and its rules."),
    sub("users", 2, ADMIN, users, "Lists all ACL users."),
    sub(
      "whoami",
      2,
      PLAIN,
      whoami,
      "Returns the authenticated username of the current connection.",
    ),
    sub(
      "help",
      2,
      "loading stale",
      (_s, c) => replyHelp(c, ACL_HELP),
      "Returns helpful text about the different subcommands.",
    ),
  ], { summary: "A container for Access List Control commands.", since: "6.0.0" }),
];
