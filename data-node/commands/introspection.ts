/** COMMAND and its subcommands: the command table, served as Redis 7 shapes it. */
import type { ClientState, Engine } from "../engine/types.ts";
import { globMatch } from "../../shared/glob.ts";
import { cmd } from "./define.ts";
import { type CommandDef, commandKeys, numkeysKeys } from "./types.ts";
import { replyHelp } from "./define.ts";
import { keyFlags } from "./key_specs.ts";

function writeKeySpecs(c: ClientState, d: CommandDef): void {
  const specs = d.keySpecs ?? [];
  c.out.set(specs.length);
  for (const s of specs) {
    c.out.map(s.notes === undefined ? 3 : 4);
    if (s.notes !== undefined) {
      c.out.bulk("notes");
      c.out.bulk(s.notes);
    }
    c.out.bulk("flags");
    c.out.set(s.flags.length);
    for (const f of s.flags) c.out.simple(f);
    c.out.bulk("begin_search");
    c.out.map(2);
    c.out.bulk("type");
    if ("unknown" in s.begin) {
      c.out.bulk("unknown");
      c.out.bulk("spec");
      c.out.map(0);
    } else if ("index" in s.begin) {
      c.out.bulk("index");
      c.out.bulk("spec");
      c.out.map(1);
      c.out.bulk("index");
      c.out.int(s.begin.index);
    } else {
      c.out.bulk("keyword");
      c.out.bulk("spec");
      c.out.map(2);
      c.out.bulk("keyword");
      c.out.bulk(s.begin.keyword);
      c.out.bulk("startfrom");
      c.out.int(s.begin.startfrom);
    }
    c.out.bulk("find_keys");
    c.out.map(2);
    c.out.bulk("type");
    const f = s.find;
    if ("unknown" in f) {
      c.out.bulk("unknown");
      c.out.bulk("spec");
      c.out.map(0);
    } else if ("lastkey" in f) {
      c.out.bulk("range");
      c.out.bulk("spec");
      c.out.map(3);
      c.out.bulk("lastkey");
      c.out.int(f.lastkey);
      c.out.bulk("keystep");
      c.out.int(f.keystep);
      c.out.bulk("limit");
      c.out.int(f.limit);
    } else {
      c.out.bulk("keynum");
      c.out.bulk("spec");
      c.out.map(3);
      c.out.bulk("keynumidx");
      c.out.int(f.keynumidx);
      c.out.bulk("firstkey");
      c.out.int(f.firstkey);
      c.out.bulk("keystep");
      c.out.int(f.keystep);
    }
  }
}

/** The order in which Redis 7.0 lists a command's flags (that of its flag bits). */
const FLAG_ORDER = new Map(
  [
    "write",
    "readonly",
    "denyoom",
    "module",
    "admin",
    "pubsub",
    "noscript",
    "blocking",
    "loading",
    "stale",
    "skip_monitor",
    "skip_slowlog",
    "asking",
    "fast",
    "no_auth",
    "no_mandatory_keys",
    "no_async_loading",
    "no_multi",
    "movablekeys",
    "allow_busy",
  ].map((f, i) => [f, i]),
);

/** A command's flags in Redis's order, computed once per definition. */
const orderedFlags = new WeakMap<CommandDef, readonly string[]>();

function flagsInOrder(d: CommandDef): readonly string[] {
  let f = orderedFlags.get(d);
  if (f === undefined) {
    const rank = (x: string) => FLAG_ORDER.get(x) ?? FLAG_ORDER.size;
    f = [...d.flags].sort((a, b) => rank(a) - rank(b));
    orderedFlags.set(d, f);
  }
  return f;
}

/** One COMMAND INFO entry: name, arity, flags, keys, ACL categories, tips, specs, subcommands. */
export function writeCommandInfo(c: ClientState, d: CommandDef): void {
  const [first, last, step] = d.keys ?? [0, 0, 0];
  c.out.array(10);
  c.out.bulk(d.name);
  c.out.int(d.arity);
  const flags = flagsInOrder(d);
  c.out.set(flags.length);
  for (const f of flags) c.out.simple(f);
  c.out.int(first);
  c.out.int(last);
  c.out.int(step);
  c.out.set(d.acl.length);
  for (const a of d.acl) c.out.simple(`@${a}`);
  const tips = d.tips ?? [];
  c.out.set(tips.length);
  for (const t of tips) c.out.bulk(t);
  writeKeySpecs(c, d);
  // Redis replies an empty set when there are no subcommands, else an array of them.
  const subs = d.subcommands ?? [];
  if (subs.length === 0) c.out.set(0);
  else c.out.array(subs.length);
  for (const sd of subs) writeCommandInfo(c, sd);
}

function writeDocs(c: ClientState, d: CommandDef): void {
  const subs = d.subcommands ?? [];
  c.out.map(subs.length > 0 ? 5 : 4);
  c.out.bulk("summary");
  c.out.bulk(d.summary);
  c.out.bulk("since");
  c.out.bulk(d.since);
  c.out.bulk("group");
  c.out.bulk(d.group);
  c.out.bulk("complexity");
  c.out.bulk(d.complexity);
  if (subs.length > 0) {
    c.out.bulk("subcommands");
    c.out.map(subs.length);
    for (const sd of subs) {
      c.out.bulk(sd.name);
      writeDocs(c, sd);
    }
  }
}

/** Whether the command takes key arguments at all (key specs, a key range or a key finder). */
function hasKeyArguments(d: CommandDef): boolean {
  if (d.numkeys) return true;
  if (d.keySpecs && d.keySpecs.some((k) => !k.flags.includes("not_key"))) return true;
  return d.keys !== undefined && d.keys[0] > 0;
}

function findDef(table: Map<string, CommandDef>, name: string): CommandDef | undefined {
  const lower = name.toLowerCase();
  const bar = lower.indexOf("|");
  if (bar < 0) return table.get(lower);
  return table.get(lower.slice(0, bar))?.subcommands?.find((x) => x.name === lower);
}

const COMMAND_HELP = [
  "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "(no subcommand)",
  "    Return details about all Redis commands.",
  "COUNT",
  "    Return the total number of commands in this Redis server.",
  "LIST",
  "    Return a list of all commands in this Redis server.",
  "INFO [<command-name> ...]",
  "    Return details about multiple Redis commands.",
  "    If no command names are given, documentation details for all",
  "    commands are returned.",
  "DOCS [<command-name> ...]",
  "    Return documentation details about multiple Redis commands.",
  "    If no command names are given, documentation details for all",
  "    commands are returned.",
  "GETKEYS <full-command>",
  "    Return the keys from a full Redis command.",
  "GETKEYSANDFLAGS <full-command>",
  "    Return the keys and the access flags from a full Redis command.",
  "HELP",
  "    Prints this help.",
];

export function introspectionCommands(table: Map<string, CommandDef>): CommandDef[] {
  const all = () => [...table.values()];

  const info = (_s: Engine, c: ClientState, argv: string[]) => {
    const defs = argv.length <= 2 ? all() : argv.slice(2).map((n) => findDef(table, n));
    c.out.array(defs.length);
    for (const d of defs) d ? writeCommandInfo(c, d) : c.out.nullBulk();
  };

  const docs = (_s: Engine, c: ClientState, argv: string[]) => {
    const defs = argv.length <= 2 ? all() : argv.slice(2).map((n) => findDef(table, n)).filter(
      (d): d is CommandDef => d !== undefined,
    );
    c.out.map(defs.length);
    for (const d of defs) {
      c.out.bulk(d.name);
      writeDocs(c, d);
    }
  };

  const getkeys = (withFlags: boolean) => (_s: Engine, c: ClientState, argv: string[]) => {
    const sub = argv.slice(2);
    // A "container|sub" name is no command name here (Redis looks argv up as typed).
    let d = sub[0]!.includes("|") ? undefined : findDef(table, sub[0]!);
    if (d?.subcommands && sub.length > 1) d = findDef(table, `${sub[0]}|${sub[1]}`) ?? d;
    // Redis's order: unknown command, a command without keys at all, arity, then the keys found.
    if (!d) return c.error("ERR Invalid command specified");
    if (!hasKeyArguments(d)) return c.error("ERR The command has no key arguments");
    const arityOk = d.arity > 0 ? sub.length === d.arity : sub.length >= -d.arity;
    if (!arityOk) return c.error("ERR Invalid number of arguments specified for command");
    const found = d.numkeys
      ? numkeysKeys(d.numkeys, sub)
      : { keys: commandKeys(d, sub), fromSpecs: true };
    // Keys past the end of the arguments are skipped, as Redis does for variadic commands.
    const idx = found.keys.filter((i) => i < sub.length);
    if (idx.length === 0) {
      if (d.flags.includes("no_mandatory_keys")) return c.out.array(0);
      return c.error("ERR Invalid arguments specified for command");
    }
    c.out.array(idx.length);
    if (!withFlags) {
      for (const i of idx) c.out.bulk(sub[i]!);
      return;
    }
    const flagsOf = keyFlags(d.name, d.keySpecs ?? [], sub);
    for (const i of idx) {
      c.out.array(2);
      c.out.bulk(sub[i]!);
      const flags = found.fromSpecs ? flagsOf(i) : [];
      c.out.set(flags.length);
      for (const f of flags) c.out.simple(f);
    }
  };

  // COMMAND LIST names subcommands too ("client|list"), each right after its container.
  const allWithSubcommands = () => all().flatMap((d) => [d, ...(d.subcommands ?? [])]);
  const list = (_s: Engine, c: ClientState, argv: string[]) => {
    let names = allWithSubcommands().map((d) => d.name);
    if (argv.length === 5 && argv[2]!.toLowerCase() === "filterby") {
      const kind = argv[3]!.toLowerCase(), val = argv[4]!;
      if (kind === "pattern") names = names.filter((n) => globMatch(val, n, true));
      else if (kind === "aclcat") {
        const cat = val.toLowerCase().replace(/^@/, "");
        names = allWithSubcommands().filter((d) => d.acl.includes(cat)).map((d) => d.name);
      } else if (kind === "module") names = [];
      else return c.error("ERR syntax error");
    } else if (argv.length !== 2) return c.error("ERR syntax error");
    c.out.array(names.length);
    for (const n of names) c.out.bulk(n);
  };

  const bare = (_s: Engine, c: ClientState) => {
    const defs = all();
    c.out.array(defs.length);
    for (const d of defs) writeCommandInfo(c, d);
  };

  const m = (summary: string) => ({ summary, since: "7.0.0", acl: ["connection"] });
  const sub = (n: string, arity: number, h: CommandDef["handler"], summary: string) =>
    cmd(`command|${n}`, arity, "loading stale", null, "server", h ?? null, m(summary));
  const def = cmd("command", -1, "loading stale", null, "server", bare, {
    summary: "Returns detailed information about all commands.",
    since: "2.8.13",
    acl: ["connection"],
    subcommands: [
      sub("count", 2, (_s, c) => c.out.int(table.size), "Returns a count of commands."),
      sub("info", -2, info, "Returns information about one, multiple or all commands."),
      sub("docs", -2, docs, "Returns documentary information about one, multiple or all commands."),
      sub("getkeys", -4, getkeys(false), "Extracts the key names from an arbitrary command."),
      sub(
        "getkeysandflags",
        -4,
        getkeys(true),
        "Extracts the key names and access flags for an arbitrary command.",
      ),
      sub("list", -2, list, "Returns a list of command names."),
      sub(
        "help",
        2,
        (_s, c) => replyHelp(c, COMMAND_HELP),
        "Returns helpful text about the different subcommands.",
      ),
    ],
  });
  return [def];
}
