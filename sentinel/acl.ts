/**
 * Access control on the sentinel, as redis-sentinel 7.0 has it: the shared ACL engine
 * (shared/acl/acl.ts) checked against the sentinel's own command table, and the ACL command.
 *
 * The table lists the fifteen commands redis-sentinel 7.0 knows, with their subcommands, arities
 * and the ACL categories it reports for them (COMMAND INFO, ACL CAT). No sentinel command takes
 * keys, so key patterns are accepted and printed but never consulted.
 */
import {
  Acl,
  type AclCommandSpec,
  type AclLog,
  channelsToRecheck,
  genpass,
  hasSpaces,
  mergeSelectorArgs,
  RULE_ERRORS,
  subscriptionAllowed,
  type User,
  writeLogEntries,
} from "../shared/acl/acl.ts";
import { parseI64 } from "../shared/int64.ts";
import { formatUsers, parseAclFile, parseUserWords } from "../shared/acl/file.ts";
import { writeFileAtomicSync } from "../shared/fs.ts";
import { cstr } from "../shared/cstr.ts";
import { ACL_HELP, GENPASS_ERR, NO_ACLFILE } from "../shared/acl/texts.ts";

export interface SentinelCommandSpec extends AclCommandSpec<SentinelCommandSpec> {
  noAuth: boolean;
}

type Row = [string, number, string] | [string, number, string, [string, number, string][]];

const ADMIN = "admin slow dangerous";
const CONN = "slow connection";
const CONN_ADMIN = "admin slow dangerous connection";

/** name, arity, categories, subcommands: redis-sentinel 7.0's table. */
const TABLE: Row[] = [
  ["ping", -1, "fast connection"],
  ["auth", -2, "fast connection"],
  ["hello", -1, "fast connection"],
  ["info", -1, "slow dangerous"],
  ["role", 1, "admin fast dangerous"],
  ["sentinel", -2, ADMIN, [
    ["ckquorum", 3, ADMIN],
    ["config", -3, ADMIN],
    ["debug", -2, ADMIN],
    ["failover", 3, ADMIN],
    ["flushconfig", 2, ADMIN],
    ["get-master-addr-by-name", 3, ADMIN],
    ["help", 2, "slow"],
    ["info-cache", -3, ADMIN],
    ["is-master-down-by-addr", 6, ADMIN],
    ["master", 3, ADMIN],
    ["masters", 2, ADMIN],
    ["monitor", 6, ADMIN],
    ["myid", 2, ADMIN],
    ["pending-scripts", 2, ADMIN],
    ["remove", 3, ADMIN],
    ["replicas", 3, ADMIN],
    ["reset", 3, ADMIN],
    ["sentinels", 3, ADMIN],
    ["set", -5, ADMIN],
    ["simulate-failure", -3, ADMIN],
    ["slaves", 3, ADMIN],
  ]],
  ["subscribe", -2, "pubsub slow"],
  ["unsubscribe", -1, "pubsub slow"],
  ["psubscribe", -2, "pubsub slow"],
  ["punsubscribe", -1, "pubsub slow"],
  ["publish", 3, "pubsub fast"],
  ["client", -2, "slow", [
    ["caching", 3, CONN],
    ["getname", 2, CONN],
    ["getredir", 2, CONN],
    ["help", 2, CONN],
    ["id", 2, CONN],
    ["info", 2, CONN],
    ["kill", -3, CONN_ADMIN],
    ["list", -2, CONN_ADMIN],
    ["no-evict", 3, CONN_ADMIN],
    ["pause", -3, CONN_ADMIN],
    ["reply", 3, CONN],
    ["setname", 3, CONN],
    ["tracking", -3, CONN],
    ["trackinginfo", 2, CONN],
    ["unblock", -3, CONN_ADMIN],
    ["unpause", 2, CONN_ADMIN],
  ]],
  ["command", -1, CONN, [
    ["count", 2, CONN],
    ["docs", -2, CONN],
    ["getkeys", -4, CONN],
    ["getkeysandflags", -4, CONN],
    ["help", 2, CONN],
    ["info", -2, CONN],
    ["list", -2, CONN],
  ]],
  ["shutdown", -1, ADMIN],
  ["acl", -2, "slow", [
    ["cat", -2, "slow"],
    ["deluser", -3, ADMIN],
    ["dryrun", -4, ADMIN],
    ["genpass", -2, "slow"],
    ["getuser", 3, ADMIN],
    ["help", 2, "slow"],
    ["list", 2, ADMIN],
    ["load", 2, ADMIN],
    ["log", -2, ADMIN],
    ["save", 2, ADMIN],
    ["setuser", -3, ADMIN],
    ["users", 2, ADMIN],
    ["whoami", 2, "slow"],
  ]],
];

/** The sentinel's commands, by name. */
export const SENTINEL_TABLE: ReadonlyMap<string, SentinelCommandSpec> = new Map(
  TABLE.map(([name, arity, cats, subs]) => [name, {
    name,
    arity,
    acl: cats.split(" "),
    noAuth: name === "auth" || name === "hello",
    subcommands: subs?.map(([sub, a, c]): SentinelCommandSpec => ({
      name: `${name}|${sub}`,
      arity: a,
      acl: c.split(" "),
      noAuth: false,
    })),
  }]),
);

export type SentinelAcl = Acl<SentinelCommandSpec>;

export function newSentinelAcl(): SentinelAcl {
  return new Acl(SENTINEL_TABLE.values(), { noAuth: (d) => d.noAuth, keys: () => [] });
}

/**
 * The command a call runs: the container's subcommand when it has subcommands (null when the
 * subcommand is unknown), or the command itself. Undefined for an unknown command.
 */
export function lookupCall(argv: string[]): SentinelCommandSpec | null | undefined {
  const top = SENTINEL_TABLE.get(argv[0]!.toLowerCase());
  if (!top) return undefined;
  if (!top.subcommands || argv.length < 2) return top;
  return top.subcommands.find((s) => s.name === `${top.name}|${argv[1]!.toLowerCase()}`) ?? null;
}

/** Whether argv has the number of arguments the command's arity asks for. */
export function arityOk(def: SentinelCommandSpec, argc: number): boolean {
  return def.arity > 0 ? argc === def.arity : argc >= -def.arity;
}

/** The permission error texts of a denial, as Redis words them. */
export function denialText(denial: string, command: string, object: string): string {
  if (denial === "command") return `no permissions to run the '${command}' command`;
  if (denial === "key") return `no permissions to access the '${object}' key`;
  return `no permissions to access the '${object}' channel`;
}

/** What the ACL command needs from the server. */
export interface AclHost {
  readonly acl: SentinelAcl;
  readonly aclLog: AclLog;
  readonly aclfile: string;
  /** Closes the connections of a user (the caller's own after its reply). */
  disconnectUser(u: User, self: object | null): void;
  /** Closes the user's subscribers whose subscriptions `allowed` no longer allows. */
  disconnectSubscribers(u: User, allowed: string[], self: object | null): void;
  /** Replaces the users, as ACL LOAD and startup do. */
  installUsers(users: Map<string, User>, self: object | null): void;
}

/** The calling connection, as the ACL command sees it. */
export interface AclCaller {
  readonly user: User;
  readonly out: {
    ok(): void;
    bulk(s: string): void;
    nullBulk(): void;
    int(n: number): void;
    array(n: number): void;
    map(n: number): void;
    set(n: number): void;
    simple(s: string): void;
    double(n: number): void;
  };
  error(msg: string): void;
}

function sortedUsers(acl: SentinelAcl): User[] {
  return [...acl.users.values()].sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/**
 * ACL <subcommand>, after the dispatcher checked the subcommand exists, its arity and the
 * caller's permission.
 */
export function aclCommand(h: AclHost, c: AclCaller, argv: string[], nowMs: number): void {
  const sub = argv[1]!.toLowerCase();
  const acl = h.acl;
  const syntax = () =>
    c.error(
      `ERR unknown subcommand or wrong number of arguments for '${cstr(argv[1]!)}'. Try ACL HELP.`,
    );
  switch (sub) {
    case "setuser": {
      const name = argv[2]!;
      if (hasSpaces(name)) return c.error("ERR Usernames can't contain spaces or null characters");
      const merged = mergeSelectorArgs(argv.slice(3));
      if ("unmatched" in merged) {
        return c.error(
          `ERR Unmatched parenthesis in acl selector starting at '${cstr(merged.unmatched)}'.`,
        );
      }
      const existing = acl.users.get(name);
      const copy = existing ? acl.cloneUser(existing) : acl.newUser(name);
      for (const rule of merged.ok) {
        const err = acl.applyRule(copy, rule);
        if (err) {
          return c.error(`ERR Error in ACL SETUSER modifier '${cstr(rule)}': ${RULE_ERRORS[err]}`);
        }
      }
      if (existing) {
        const recheck = channelsToRecheck(existing, copy);
        if (recheck) h.disconnectSubscribers(existing, recheck, c);
        Object.assign(existing, copy);
      } else acl.users.set(name, copy);
      return c.out.ok();
    }
    case "getuser": {
      const u = acl.users.get(argv[2]!);
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
      const selector = (i: number) => {
        const s = u.selectors[i]!;
        c.out.bulk("commands");
        c.out.bulk(acl.describeCommands(s));
        c.out.bulk("keys");
        c.out.bulk(acl.describeKeys(s));
        c.out.bulk("channels");
        c.out.bulk(acl.describeChannels(s));
      };
      selector(0);
      c.out.bulk("selectors");
      c.out.array(u.selectors.length - 1);
      for (let i = 1; i < u.selectors.length; i++) {
        c.out.map(3);
        selector(i);
      }
      return;
    }
    case "deluser": {
      if (argv.slice(2).includes("default")) {
        return c.error("ERR The 'default' user cannot be removed");
      }
      let deleted = 0;
      for (const name of argv.slice(2)) {
        const u = acl.users.get(name);
        if (!u) continue;
        acl.users.delete(name);
        h.disconnectUser(u, c);
        deleted++;
      }
      return c.out.int(deleted);
    }
    case "list":
    case "users": {
      const all = sortedUsers(acl);
      c.out.array(all.length);
      for (const u of all) c.out.bulk(sub === "list" ? acl.describeUser(u) : u.name);
      return;
    }
    case "whoami":
      return c.out.bulk(c.user.name);
    case "cat": {
      if (argv.length > 3) return syntax();
      if (argv.length === 2) {
        const cats = acl.categories();
        c.out.array(cats.length);
        for (const x of cats) c.out.bulk(x);
        return;
      }
      const names = acl.commandsInCategory(argv[2]!);
      if (names === null) return c.error(`ERR Unknown category '${cstr(argv[2]!)}'`);
      c.out.array(names.length);
      for (const n of names) c.out.bulk(n);
      return;
    }
    case "genpass": {
      if (argv.length > 3) return syntax();
      let bits = 256;
      if (argv.length === 3) {
        const v = parseI64(argv[2]!);
        if (v === null) return c.error("ERR value is not an integer or out of range");
        if (v <= 0n || v > 4096n) return c.error(GENPASS_ERR);
        bits = Number(v);
      }
      return c.out.bulk(genpass(bits));
    }
    case "log": {
      if (argv.length > 3) return syntax();
      let count = 10;
      if (argv.length === 3) {
        if (argv[2]!.toLowerCase() === "reset") {
          h.aclLog.entries = [];
          return c.out.ok();
        }
        const v = parseI64(argv[2]!);
        if (v === null) return c.error("ERR value is not an integer or out of range");
        count = v < 0n ? 0 : Number(v > 1000000n ? 1000000n : v);
      }
      writeLogEntries(c.out, h.aclLog.entries.slice(0, count), nowMs);
      return;
    }
    case "dryrun": {
      const u = acl.users.get(argv[2]!);
      if (!u) return c.error(`ERR User '${cstr(argv[2]!)}' not found`);
      const args = argv.slice(3);
      const def = lookupCall(args);
      if (!def) return c.error(`ERR Command '${cstr(args[0]!)}' not found`);
      if (!arityOk(def, args.length)) {
        return c.error(`ERR wrong number of arguments for '${def.name}' command`);
      }
      const denied = acl.check(u, def, args);
      if (!denied) return c.out.ok();
      return c.out.bulk(
        `This user has ${denialText(denied.denial, def.name, args[denied.index] ?? "")}`,
      );
    }
    case "save": {
      if (!h.aclfile) return c.error(NO_ACLFILE);
      try {
        writeFileAtomicSync(h.aclfile, formatUsers(acl).join("\n") + "\n");
      } catch {
        return c.error(
          "ERR There was an error trying to save the ACLs. Please check the server logs for more information",
        );
      }
      return c.out.ok();
    }
    case "load": {
      if (!h.aclfile) return c.error(NO_ACLFILE);
      const err = loadAclFile(h, c);
      if (err) return c.error(`ERR ${err}`);
      return c.out.ok();
    }
    case "help":
      c.out.array(ACL_HELP.length);
      for (const l of ACL_HELP) c.out.simple(l);
      return;
  }
  c.error(`ERR unknown subcommand '${cstr(argv[1]!)}'. Try ACL HELP.`);
}

/** Reads the ACL file into the user table; the error as Redis words it, or null. */
export function loadAclFile(h: AclHost, self: AclCaller | null): string | null {
  let text: string;
  try {
    text = Deno.readTextFileSync(h.aclfile);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound
      ? "No such file or directory"
      : (e as Error).message.replace(/ \(os error.*$/, "");
    return `Error loading ACLs, opening file '${h.aclfile}': ${why}`;
  }
  const parsed = parseAclFile(h.acl, text, h.aclfile);
  if ("errors" in parsed) return parsed.errors;
  h.installUsers(parsed.users, self);
  return null;
}

/** The users of `user` lines in sentinel.conf; the reason startup must stop, or null. */
export function usersFromLines(acl: SentinelAcl, lines: string[][]): Map<string, User> | string {
  const users = new Map<string, User>();
  for (const words of lines) {
    const err = parseUserWords(acl, words, users);
    if (err) return `Error in user declaration '${words[0]}': ${err}`;
  }
  return users;
}

export { subscriptionAllowed };
