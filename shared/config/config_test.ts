import { deepStrictEqual, equal, throws } from "node:assert/strict";
import { ConfigError, parseConfigText, splitArgs } from "./parse.ts";
import { parseServerArgs } from "./args.ts";
import { Config, ConfigSetError, formatMemory, type ParamDef, parseMemory } from "./schema.ts";

Deno.test("splitArgs follows Redis's quoting and escapes", () => {
  deepStrictEqual(splitArgs(`set "a b" 'c d' "\\x41\\n" 'it\\'s'`), [
    "set",
    "a b",
    "c d",
    "A\n",
    "it's",
  ]);
  deepStrictEqual(splitArgs(`save ""`), ["save", ""]);
  equal(splitArgs(`a "b`), null);
  equal(splitArgs(`a "b"c`), null);
});

Deno.test("config text: comments, include, errors with file and line", () => {
  const files: Record<string, string> = { "inc.conf": "port 7001\n" };
  const lines = parseConfigText("# c\n\nport 7000\ninclude inc.conf\nsave 900 1\n", "main.conf", {
    readInclude: (p) => files[p]!,
  });
  deepStrictEqual(lines.map((l) => [l.name, l.args, l.file, l.line]), [
    ["port", ["7000"], "main.conf", 3],
    ["port", ["7001"], "inc.conf", 1],
    ["save", ["900", "1"], "main.conf", 5],
  ]);
  throws(
    () => parseConfigText('x "y\n', "f.conf"),
    (e: Error) =>
      e instanceof ConfigError && e.message === "f.conf:1: Unbalanced quotes in configuration line",
  );
});

Deno.test("command lines parse the way redis-server takes them", () => {
  const a = parseServerArgs([
    "/etc/r.conf",
    "--port",
    "7000",
    "--save",
    "",
    "--replicaof",
    "h",
    "6379",
  ]);
  equal(a.configFile, "/etc/r.conf");
  deepStrictEqual(a.overrides.map((l) => [l.name, l.args]), [
    ["port", ["7000"]],
    ["save", [""]],
    ["replicaof", ["h", "6379"]],
  ]);
  equal(parseServerArgs(["--help"]).help, true);
});

Deno.test("command lines: values starting with --, a name and value in one argument, bare --save", () => {
  const lines = (...argv: string[]) =>
    parseServerArgs(argv).overrides.map((l) => [l.name, ...l.args].join("|"));
  // The first word after a bare directive is its value even when it starts with "--".
  deepStrictEqual(lines("--port", "--loglevel", "verbose"), ["port|--loglevel|verbose"]);
  deepStrictEqual(lines("--title", "--my--title", "--loglevel", "verbose"), [
    "title|--my--title",
    "loglevel|verbose",
  ]);
  // "--name value" in one argument, quotes inside it taken as in a config file.
  deepStrictEqual(lines("--maxmemory 700mb", "--maxmemory-policy 'volatile-lru'"), [
    "maxmemory|700mb",
    "maxmemory-policy|volatile-lru",
  ]);
  // Words before the first directive name one themselves (after a config file).
  deepStrictEqual(
    parseServerArgs(["r.conf", "loglevel", "verbose", "--port", "1"]).overrides
      .map((l) => [l.name, ...l.args].join("|")),
    ["loglevel|verbose", "port|1"],
  );
  // A bare --save before another directive, or last, is `save ""`.
  deepStrictEqual(lines("--save", "--loglevel", "verbose"), ["save|", "loglevel|verbose"]);
  deepStrictEqual(lines("--loglevel", "verbose", "--save"), ["loglevel|verbose", "save|"]);
  deepStrictEqual(lines("--p", "--save", "--save", ""), ["p|--save", "save|"]);
  // Values keep their bytes: quotes, backslashes, control characters.
  deepStrictEqual(parseServerArgs(["--x", 'a "b\\c', "\x01\n"]).overrides[0]!.args, [
    'a "b\\c',
    "\x01\n",
  ]);
  // An error shows the line as built from the arguments.
  const def: ParamDef = { name: "port", type: { kind: "int", min: 0, max: 65535 }, default: "1" };
  const cfg = new Config([def]);
  throws(
    () => cfg.load(parseServerArgs(["--port", "6379", "6380"]).overrides),
    (e: Error) => e.message.includes(`'port "6379" "6380"'`) && /wrong number/.test(e.message),
  );
});

const DEFS: ParamDef[] = [
  { name: "port", type: { kind: "int", min: 0, max: 65535 }, default: "6379" },
  { name: "maxmemory", type: { kind: "memory" }, default: "0" },
  {
    name: "appendonly",
    type: { kind: "bool" },
    default: "no",
    notSupported: (v) => (v ? "not yet" : undefined),
  },
  {
    name: "policy",
    aliases: ["old-policy"],
    type: { kind: "enum", values: ["a", "b"] },
    default: "a",
  },
  { name: "daemonize", type: { kind: "bool" }, default: "no", mutable: false },
];

Deno.test("CONFIG SET calls hooks only for changed values and undoes them on a failure", () => {
  const c = new Config(DEFS);
  const calls: string[] = [];
  c.onChange("maxmemory", (v) => void calls.push(`maxmemory ${v}`));
  c.onChange("port", (v) => (calls.push(`port ${v}`), v === 7000 ? "Unable to listen" : undefined));
  c.configSet([["maxmemory", "0"], ["port", "6379"]]);
  deepStrictEqual(calls, [], "values set to what they are call nothing");
  throws(
    () => c.configSet([["maxmemory", "10"], ["port", "7000"]]),
    /possibly related to argument 'port'\) - Unable to listen/,
  );
  // The hook that ran before the failing one runs again with the old value.
  deepStrictEqual(calls, ["maxmemory 10", "port 7000", "maxmemory 0"]);
  equal(c.get<number>("maxmemory"), 0);
  equal(c.get<number>("port"), 6379);
});

Deno.test("a memory directive that takes percentages shows and rewrites them as given", () => {
  const c = new Config([
    { name: "clients", type: { kind: "memory", percent: true }, default: "0" },
  ]);
  c.configSet([["clients", "10%"]]);
  equal(c.getString("clients"), "10%");
  equal(c.get<number>("clients"), -10);
  const file = Deno.makeTempFileSync();
  try {
    c.rewrite(file);
    equal(Deno.readTextFileSync(file).trim().split("\n").at(-1), "clients 10%");
  } finally {
    Deno.removeSync(file);
  }
});

Deno.test("memory units follow Redis (k=1000, kb=1024) and rewrite compactly", () => {
  equal(parseMemory("1k"), 1000);
  equal(parseMemory("1KB"), 1024);
  equal(parseMemory("2gb"), 2 * 1024 ** 3);
  equal(parseMemory("x"), null);
  equal(formatMemory(1024 * 1024), "1mb");
  equal(formatMemory(1000), "1000");
});

Deno.test("CONFIG SET is atomic and answers with Redis's texts", () => {
  const c = new Config(DEFS);
  c.configSet([["maxmemory", "1mb"], ["old-policy", "b"]]);
  equal(c.get<number>("maxmemory"), 1048576);
  equal(c.getString("policy"), "b");
  const err = (pairs: [string, string][]) => {
    try {
      c.configSet(pairs);
    } catch (e) {
      if (e instanceof ConfigSetError) return e.message;
    }
    return "no error";
  };
  equal(
    err([["maxmemory", "2mb"], ["port", "x"]]),
    "ERR CONFIG SET failed (possibly related to argument 'port') - argument couldn't be parsed into an integer",
  );
  equal(c.get<number>("maxmemory"), 1048576, "nothing changed");
  equal(err([["nope", "1"]]), "ERR Unknown option or number of arguments for CONFIG SET - 'nope'");
  equal(
    err([["daemonize", "yes"]]),
    "ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config",
  );
  equal(
    err([["port", "1"], ["port", "2"]]),
    "ERR CONFIG SET failed (possibly related to argument 'port') - duplicate parameter",
  );
  equal(
    err([["policy", "z"]]),
    "ERR CONFIG SET failed (possibly related to argument 'policy') - argument(s) must be one of the following: a, b",
  );
  equal(
    err([["appendonly", "yes"]]),
    "ERR CONFIG SET failed (possibly related to argument 'appendonly') - not yet",
  );
  deepStrictEqual(c.configGet(["*policy"]), [["policy", "b"], ["old-policy", "b"]]);
});
