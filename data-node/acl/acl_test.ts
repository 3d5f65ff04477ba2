import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { Acl, AclLog, mergeSelectorArgs, sha256Hex, type User } from "./acl.ts";
import { parseAclFile } from "./file.ts";
import fc from "fast-check";
import { buildCommandTable } from "../commands/table.ts";

const table = buildCommandTable();

function user(acl: Acl, ...rules: string[]): User {
  const u = acl.newUser("u");
  for (const r of rules) equal(acl.applyRule(u, r), null, r);
  return u;
}

function allowed(acl: Acl, u: User, ...argv: string[]): string {
  const def = acl.lookup(argv[0]!);
  const sub = def?.subcommands ? acl.lookup(`${argv[0]}|${argv[1]}`) : null;
  const r = acl.check(u, sub ?? def!, argv);
  return r === null ? "ok" : `${r.denial}@${r.index}`;
}

Deno.test("the default user allows everything and is described as Redis 7.0 does", () => {
  const acl = new Acl(table);
  const d = acl.defaultUser;
  ok(d.unrestricted);
  equal(acl.describeUser(d), "user default on nopass ~* &* +@all");
});

Deno.test("a new user is off, with no commands and, by default, no channels", () => {
  const acl = new Acl(table);
  equal(acl.describeUser(acl.newUser("x")), "user x off resetchannels -@all");
  acl.pubsubDefault = "allchannels";
  equal(acl.describeUser(acl.newUser("y")), "user y off &* -@all");
});

Deno.test("passwords are stored as SHA-256 and removed by password or hash", () => {
  const acl = new Acl(table);
  const u = user(acl, "on", ">a", ">b", ">a");
  deepStrictEqual(u.passwords, [sha256Hex("a"), sha256Hex("b")]);
  equal(acl.applyRule(u, "<a"), null);
  equal(acl.applyRule(u, "<a"), "noSuchPassword");
  equal(acl.applyRule(u, "#" + "A".repeat(64)), "badHash");
  equal(acl.applyRule(u, "!" + sha256Hex("b")), null);
  deepStrictEqual(u.passwords, []);
  acl.users.set("u", u);
  equal(acl.authenticate("u", "b"), null);
  acl.applyRule(u, ">c");
  equal(acl.authenticate("u", "c"), u);
  acl.applyRule(u, "off");
  equal(acl.authenticate("u", "c"), null);
});

Deno.test("categories are approximated by best fit, then single commands", () => {
  const acl = new Acl(table);
  equal(acl.describeCommands(user(acl, "-@all", "+@string").root), "-@all +@string");
  equal(acl.describeCommands(user(acl, "+@all", "-@dangerous").root), "+@all -@dangerous");
  equal(acl.describeCommands(user(acl, "-@all", "+get").root), "-@all +get");
  equal(acl.describeCommands(user(acl, "-@all", "+select|0").root), "-@all +select|0");
  equal(
    acl.describeCommands(user(acl, "-@all", "+@hash", "-hset").root),
    "-@all +@hash -hset",
  );
});

Deno.test("key patterns check reads and writes from the key specs' flags", () => {
  const acl = new Acl(table);
  const u = user(acl, "+@all", "%R~r*", "%W~w*", "~k*");
  equal(allowed(acl, u, "get", "r1"), "ok");
  equal(allowed(acl, u, "set", "r1", "v"), "key@1");
  equal(allowed(acl, u, "set", "w1", "v"), "ok");
  equal(allowed(acl, u, "get", "w1"), "key@1");
  equal(allowed(acl, u, "incr", "w1"), "key@1");
  equal(allowed(acl, u, "incr", "k1"), "ok");
  equal(allowed(acl, u, "mget", "k1", "x", "y"), "key@2");
  equal(acl.describeSelector(u.root), "%R~r* %W~w* ~k* resetchannels +@all");
});

Deno.test("channels: patterns match channels, a pattern subscription must be listed", () => {
  const acl = new Acl(table);
  const u = user(acl, "+@all", "~*", "&news.*");
  equal(allowed(acl, u, "publish", "news.x", "m"), "ok");
  equal(allowed(acl, u, "publish", "other", "m"), "channel@1");
  equal(allowed(acl, u, "psubscribe", "news.*"), "ok");
  equal(allowed(acl, u, "psubscribe", "news.x*"), "channel@1");
  equal(allowed(acl, u, "subscribe", "news.a", "x"), "channel@2");
});

Deno.test("selectors: any selector allowing a call allows it; else the worst denial wins", () => {
  const acl = new Acl(table);
  const u = user(acl, "-@all", "+get", "~a*", "(~b* +set)");
  equal(allowed(acl, u, "get", "a"), "ok");
  equal(allowed(acl, u, "set", "b", "v"), "ok");
  equal(allowed(acl, u, "set", "a", "v"), "key@1");
  equal(allowed(acl, u, "del", "a"), "command@0");
  equal(
    acl.describeUser(u),
    "user u off ~a* resetchannels -@all +get (~b* resetchannels -@all +set)",
  );
  equal(acl.applyRule(u, "clearselectors"), null);
  equal(u.selectors.length, 1);
});

Deno.test("first arguments allow one form of a command without subcommands", () => {
  const acl = new Acl(table);
  const u = user(acl, "-@all", "+select|0", "~*");
  equal(allowed(acl, u, "select", "0"), "ok");
  equal(allowed(acl, u, "select", "1"), "command@0");
  equal(acl.applyRule(u, "+config|get|x"), "subFirstArg");
  equal(acl.applyRule(u, "+nosuch"), "unknown");
});

Deno.test("selector arguments split over several words are joined", () => {
  deepStrictEqual(mergeSelectorArgs(["on", "(~x", "+get)", "(~y)"]), {
    ok: ["on", "(~x +get)", "(~y)"],
  });
  // The error names the argument that opened the selector; a second opener starts over.
  deepStrictEqual(mergeSelectorArgs(["(~x", "+get"]), { unmatched: "(~x" });
  deepStrictEqual(mergeSelectorArgs(["(~a", "(~b", "+get)"]), { ok: ["(~b +get)"] });
  deepStrictEqual(mergeSelectorArgs(["(~a", "+get)", "(~b", "(~c"]), { unmatched: "(~c" });
});

Deno.test("the ACL log groups equal denials and keeps at most acllog-max-len entries", () => {
  const log = new AclLog();
  const e = {
    reason: "command" as const,
    context: "toplevel" as const,
    object: "get",
    username: "u",
    clientInfo: "",
  };
  log.add({ ...e, createdMs: 0 }, 10);
  log.add({ ...e, createdMs: 1000 }, 10);
  equal(log.entries.length, 1);
  equal(log.entries[0]!.count, 2);
  log.add({ ...e, createdMs: 120_000 }, 10);
  equal(log.entries.length, 2);
  log.add({ ...e, object: "set", createdMs: 120_001 }, 2);
  equal(log.entries.length, 2);
  equal(log.entries[0]!.object, "set");
});

Deno.test("an ACL file round-trips through its description", () => {
  const acl = new Acl(table);
  const text = "user default on nopass ~* &* +@all\n" +
    "user alice on #" + sha256Hex("pw") +
    " ~k* resetchannels &c -@all +get (~x resetchannels -@all +set)\n";
  const parsed = parseAclFile(acl, text, "users.acl");
  ok("users" in parsed);
  const alice = parsed.users.get("alice")!;
  equal(acl.describeUser(alice), text.split("\n")[1]);
  const bad = parseAclFile(acl, "user x +nosuch\nnot a user line\n", "users.acl");
  ok("errors" in bad);
  equal(
    bad.errors,
    "users.acl:1: Error in applying operation '+nosuch': Unknown command or category name in " +
      "ACL. users.acl:2 should start with user keyword followed by the username. WARNING: ACL " +
      "errors detected, no change to the previously active ACL rules was performed",
  );
});

Deno.test("any rule sequence leaves a user whose description loads back to the same user", () => {
  const acl = new Acl(table);
  const tokens = [
    "on",
    "off",
    "nopass",
    "resetpass",
    ">a",
    "<a",
    "#" + "c".repeat(64),
    "reset",
    "+@all",
    "-@all",
    "+@string",
    "-@hash",
    "+@read",
    "-@write",
    "+@dangerous",
    "-@fast",
    "+get",
    "-get",
    "+config",
    "-config|set",
    "+config|get",
    "+select|0",
    "+client|id",
    "~k*",
    "%R~r*",
    "%W~w*",
    "allkeys",
    "resetkeys",
    "&c*",
    "allchannels",
    "resetchannels",
    "(~x +set)",
    "(%R~y -@all +@read)",
    "clearselectors",
    "sanitize-payload",
    "bogus",
    "+nosuch",
  ];
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...tokens), { maxLength: 12 }), (rules) => {
      const u = acl.newUser("p");
      for (const r of rules) acl.applyRule(u, r);
      const line = acl.describeUser(u);
      const parsed = parseAclFile(acl, line + "\n", "f");
      if (!("users" in parsed)) throw new Error(`${line}: ${parsed.errors}`);
      const back = parsed.users.get("p")!;
      equal(acl.describeUser(back), line);
      deepStrictEqual([...back.root.allowed], [...u.root.allowed]);
    }),
    { numRuns: 300 },
  );
});
