/**
 * Redis 7.0's access control lists, as pure data and functions: users, selectors, the rule
 * language of ACL SETUSER and `user` directives, the canonical description ACL LIST prints, and
 * the permission check made before a command runs. No sockets, no files: the ACL command family
 * and the server shell feed it and act on its answers.
 */
import { createHash, randomBytes } from "node:crypto";
import { Buffer } from "node:buffer";
import { globMatch } from "../glob.ts";

/** Redis lists ACL categories in this order (its category bit order). */
export const ACL_ORDER: readonly string[] = [
  "keyspace",
  "read",
  "write",
  "set",
  "sortedset",
  "list",
  "hash",
  "string",
  "bitmap",
  "hyperloglog",
  "geo",
  "stream",
  "pubsub",
  "admin",
  "fast",
  "slow",
  "blocking",
  "dangerous",
  "connection",
  "transaction",
  "scripting",
];

/**
 * A command as the ACL needs to know it: its full name (`parent|sub` for subcommands), its
 * categories (without `@`) and its subcommands. The data node's and the sentinel's command
 * tables both fit this shape.
 */
export interface AclCommandSpec<D> {
  name: string;
  arity: number;
  acl: readonly string[];
  subcommands?: readonly D[] | undefined;
}

/** What the ACL asks of the server's command table beyond names and categories. */
export interface AclCommandHooks<D> {
  /** Commands anyone may run (AUTH, HELLO): Redis's no-auth flag. */
  noAuth(def: D): boolean;
  /** The keys of a call: argument index and the key spec's access flags. */
  keys(def: D, argv: string[]): [number, string[]][];
}

/** Key pattern permissions. */
export const PERM_R = 1;
export const PERM_W = 2;
export const PERM_RW = 3;

/** Why a rule was refused; the texts are Redis's. */
export const RULE_ERRORS = {
  unknown: "Unknown command or category name in ACL",
  syntax: "Syntax error",
  keysAfterAll:
    "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
  channelsAfterAll:
    "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
  noSuchPassword: "The password you are trying to remove from the user does not exist",
  badHash:
    "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
  duplicate: "Duplicate user found. A user can only be defined once in config files",
  subFirstArg: "Allowing first-arg of a subcommand is not supported",
} as const;

export type RuleError = keyof typeof RULE_ERRORS;

/** What a command refused by the ACL lacks: the command itself, a key or a channel. */
export type Denial = "command" | "key" | "channel";
const DENIAL_RANK: Record<Denial, number> = { command: 1, key: 2, channel: 4 };

export interface KeyPattern {
  pattern: string;
  perm: number;
}

/**
 * The commands a selector allows: one bit per command id, plus the "future commands" bit that
 * only +@all sets (it decides whether ACL LIST starts from +@all or -@all).
 */
export class Selector {
  allowed: Uint8Array;
  future = false;
  /** +@all and nothing taken away since: the check skips the bitmap. */
  allCommands = false;
  firstArgs = new Map<number, string[]>();
  allKeys = false;
  keys: KeyPattern[] = [];
  allChannels = false;
  channels: string[] = [];

  constructor(size: number, readonly root: boolean) {
    this.allowed = new Uint8Array(size);
  }

  clone(): Selector {
    const s = new Selector(this.allowed.length, this.root);
    s.allowed.set(this.allowed);
    s.future = this.future;
    s.allCommands = this.allCommands;
    for (const [k, v] of this.firstArgs) s.firstArgs.set(k, [...v]);
    s.allKeys = this.allKeys;
    s.keys = this.keys.map((k) => ({ ...k }));
    s.allChannels = this.allChannels;
    s.channels = [...this.channels];
    return s;
  }
}

export class User {
  enabled = false;
  nopass = false;
  /** 0: neither flag; Redis prints whichever of the two was set last. */
  sanitize: "" | "skip-sanitize-payload" | "sanitize-payload" = "";
  passwords: string[] = [];
  selectors: Selector[];

  constructor(readonly name: string, root: Selector) {
    this.selectors = [root];
  }

  get root(): Selector {
    return this.selectors[0]!;
  }

  /** Everything allowed in the root selector: the dispatcher's fast path. */
  get unrestricted(): boolean {
    const r = this.root;
    return r.allCommands && r.allKeys && r.allChannels;
  }
}

/** One command as the ACL sees it: an id for the bitmaps, its categories, its subcommands. */
interface AclCommand<D> {
  id: number;
  def: D;
  cats: number;
  parent: AclCommand<D> | null;
  subs: AclCommand<D>[];
}

export function sha256Hex(s: string): string {
  return createHash("sha256").update(Buffer.from(s, "latin1")).digest("hex");
}

const HASH_RE = /^[0-9a-f]{64}$/;

/** C's isspace, or a NUL: characters a user name may not hold. */
export function hasSpaces(name: string): boolean {
  return /[ \t\n\v\f\r\0]/.test(name);
}

/**
 * The user table and the command catalogue it is checked against. `pubsubDefault` is
 * acl-pubsub-default: whether new users and selectors start with all channels.
 */
export class Acl<D extends AclCommandSpec<D>> {
  readonly users = new Map<string, User>();
  private readonly byName = new Map<string, AclCommand<D>>();
  private readonly top: AclCommand<D>[] = [];
  private readonly size: number;
  pubsubDefault: "allchannels" | "resetchannels" = "resetchannels";

  constructor(commands: Iterable<D>, private readonly hooks: AclCommandHooks<D>) {
    let id = 0;
    const mask = (d: D) => {
      let m = 0;
      for (const a of d.acl) {
        const i = ACL_ORDER.indexOf(a);
        if (i >= 0) m |= 1 << i;
      }
      return m;
    };
    for (const d of commands) {
      const ac: AclCommand<D> = { id: id++, def: d, cats: mask(d), parent: null, subs: [] };
      this.top.push(ac);
      this.byName.set(d.name, ac);
      for (const s of d.subcommands ?? []) {
        const sc: AclCommand<D> = { id: id++, def: s, cats: mask(s), parent: ac, subs: [] };
        ac.subs.push(sc);
        this.byName.set(s.name, sc);
      }
    }
    this.size = id;
    this.users.set("default", this.createDefault());
  }

  private createDefault(): User {
    const u = this.newUser("default");
    for (const op of ["+@all", "~*", "&*", "on", "nopass"]) this.applyRule(u, op);
    return u;
  }

  get defaultUser(): User {
    return this.users.get("default")!;
  }

  newUser(name: string): User {
    const u = new User(name, this.newSelector(true));
    return u;
  }

  private newSelector(root: boolean): Selector {
    const s = new Selector(this.size, root);
    if (this.pubsubDefault === "allchannels") s.allChannels = true;
    return s;
  }

  cloneUser(u: User): User {
    const n = new User(u.name, u.root.clone());
    n.selectors = u.selectors.map((s) => s.clone());
    n.enabled = u.enabled;
    n.nopass = u.nopass;
    n.sanitize = u.sanitize;
    n.passwords = [...u.passwords];
    return n;
  }

  /** Categories, in Redis's order. */
  categories(): readonly string[] {
    return ACL_ORDER;
  }

  /** Full names of the commands in a category (subcommands included), or null if unknown. */
  commandsInCategory(cat: string): string[] | null {
    const bit = ACL_ORDER.indexOf(cat.toLowerCase());
    if (bit < 0) return null;
    const out: string[] = [];
    for (const c of this.top) {
      if (c.cats & (1 << bit)) out.push(c.def.name);
      for (const s of c.subs) if (s.cats & (1 << bit)) out.push(s.def.name);
    }
    return out;
  }

  // ---- rules ----

  /**
   * Applies one rule to a user (ACL SETUSER's argument, a word of a `user` line); null when it
   * applied, else why not. A failed rule may have changed nothing.
   */
  applyRule(u: User, op: string): RuleError | null {
    // An empty rule changes nothing, as in Redis.
    if (op.length === 0) return null;
    const l = op.toLowerCase();
    switch (l) {
      case "on":
        u.enabled = true;
        return null;
      case "off":
        u.enabled = false;
        return null;
      case "skip-sanitize-payload":
      case "sanitize-payload":
        u.sanitize = l;
        return null;
      case "nopass":
        u.nopass = true;
        u.passwords = [];
        return null;
      case "resetpass":
        u.nopass = false;
        u.passwords = [];
        return null;
      case "clearselectors":
        u.selectors = [u.root];
        return null;
      case "reset":
        for (const r of ["resetpass", "resetkeys", "resetchannels"]) this.applyRule(u, r);
        if (this.pubsubDefault === "allchannels") this.applyRule(u, "allchannels");
        for (const r of ["off", "sanitize-payload", "clearselectors", "-@all"]) {
          this.applyRule(u, r);
        }
        return null;
    }
    const first = op[0];
    if (first === ">" || first === "<") {
      return this.passwordRule(u, first === ">", sha256Hex(op.slice(1)));
    }
    if (first === "#" || first === "!") {
      const hash = op.slice(1);
      if (!HASH_RE.test(hash)) return "badHash";
      return this.passwordRule(u, first === "#", hash);
    }
    if (first === "(" && op.endsWith(")")) {
      const sel = this.newSelector(false);
      for (const word of op.slice(1, -1).split(" ").filter(Boolean)) {
        const err = this.selectorRule(sel, word);
        if (err) return err;
      }
      u.selectors.push(sel);
      return null;
    }
    return this.selectorRule(u.root, op);
  }

  private passwordRule(u: User, add: boolean, hash: string): RuleError | null {
    const i = u.passwords.indexOf(hash);
    if (add) {
      if (i < 0) u.passwords.push(hash);
    } else {
      if (i < 0) return "noSuchPassword";
      u.passwords.splice(i, 1);
    }
    u.nopass = false;
    return null;
  }

  /** A rule about commands, keys or channels, applied to one selector. */
  selectorRule(s: Selector, op: string): RuleError | null {
    const l = op.toLowerCase();
    if (l === "allkeys" || op === "~*") {
      s.allKeys = true;
      s.keys = [];
    } else if (l === "resetkeys") {
      s.allKeys = false;
      s.keys = [];
    } else if (l === "allchannels" || op === "&*") {
      s.allChannels = true;
      s.channels = [];
    } else if (l === "resetchannels") {
      s.allChannels = false;
      s.channels = [];
    } else if (l === "allcommands" || l === "+@all") {
      s.allowed.fill(1);
      s.future = true;
      s.allCommands = true;
      s.firstArgs.clear();
    } else if (l === "nocommands" || l === "-@all") {
      s.allowed.fill(0);
      s.future = false;
      s.allCommands = false;
      s.firstArgs.clear();
    } else if (op[0] === "~" || op[0] === "%") {
      return keyRule(s, op);
    } else if (op[0] === "&") {
      if (s.allChannels) return "channelsAfterAll";
      const pat = op.slice(1);
      if (!s.channels.includes(pat)) s.channels.push(pat);
    } else if ((op[0] === "+" || op[0] === "-") && op[1] === "@") {
      const bit = ACL_ORDER.indexOf(l.slice(2));
      if (bit < 0) return "unknown";
      this.setCategory(s, bit, op[0] === "+");
    } else if (op[0] === "+" || op[0] === "-") {
      return this.commandRule(s, op.slice(1), op[0] === "+");
    } else {
      return "syntax";
    }
    return null;
  }

  private commandRule(s: Selector, name: string, allow: boolean): RuleError | null {
    const bar = name.lastIndexOf("|");
    if (bar < 0 || !allow) {
      const c = this.byName.get(name.toLowerCase());
      if (!c) return "unknown";
      changePerm(s, c, allow);
      return null;
    }
    const parent = this.byName.get(name.slice(0, bar).toLowerCase());
    if (!parent) return "unknown";
    if (parent.parent) return "subFirstArg";
    const sub = name.slice(bar + 1);
    if (sub === "") return "syntax";
    if (parent.subs.length) {
      const c = this.byName.get(name.toLowerCase());
      if (!c) return "unknown";
      changePerm(s, c, true);
      return null;
    }
    // A first argument of a command without subcommands (SELECT|0): allowed on its own.
    const list = s.firstArgs.get(parent.id) ?? [];
    if (!list.some((a) => a.toLowerCase() === sub.toLowerCase())) list.push(sub);
    s.firstArgs.set(parent.id, list);
    return null;
  }

  private setCategory(s: Selector, bit: number, allow: boolean): void {
    const m = 1 << bit;
    for (const c of this.top) {
      if (c.cats & m) changePerm(s, c, allow);
      for (const sc of c.subs) if (sc.cats & m) changePerm(s, sc, allow);
    }
  }

  // ---- description (ACL LIST, GETUSER) ----

  describeUser(u: User): string {
    let out = `user ${u.name} `;
    out += u.enabled ? "on " : "off ";
    if (u.nopass) out += "nopass ";
    if (u.sanitize) out += u.sanitize + " ";
    for (const p of u.passwords) out += `#${p} `;
    out += this.describeSelector(u.root);
    for (const s of u.selectors.slice(1)) out += ` (${this.describeSelector(s)})`;
    return out;
  }

  describeSelector(s: Selector): string {
    let out = "";
    if (s.allKeys) out += "~* ";
    else for (const k of s.keys) out += describeKey(k) + " ";
    if (s.allChannels) out += "&* ";
    else {
      out += "resetchannels ";
      for (const ch of s.channels) out += `&${ch} `;
    }
    return out + this.describeCommands(s);
  }

  describeKeys(s: Selector): string {
    if (s.allKeys) return "~*";
    return s.keys.map(describeKey).join(" ");
  }

  describeChannels(s: Selector): string {
    if (s.allChannels) return "&*";
    return s.channels.map((c) => `&${c}`).join(" ");
  }

  /**
   * The command rules as Redis 7.0 prints them: +@all or -@all, then the categories that best
   * approximate the bitmap (each taking more commands in common than it gets wrong), then the
   * single commands still different, then allowed first arguments.
   */
  describeCommands(s: Selector): string {
    const additive = !s.future;
    const parts: string[] = [additive ? "-@all" : "+@all"];
    const fake = new Selector(this.size, false);
    if (!additive) this.selectorRule(fake, "+@all");
    const temp = new Selector(this.size, false);
    temp.allowed.set(s.allowed);
    for (;;) {
      let best = -1, minDiff = Number.MAX_SAFE_INTEGER, maxSame = 0;
      for (let j = 0; j < ACL_ORDER.length; j++) {
        const [on, off] = this.countCategory(temp, j);
        const diff = additive ? off : on, same = additive ? on : off;
        if (same > diff && (diff < minDiff || (diff === minDiff && same > maxSame))) {
          best = j;
          minDiff = diff;
          maxSame = same;
        }
      }
      if (best < 0) break;
      this.setCategory(fake, best, additive);
      this.setCategory(temp, best, !additive);
      parts.push(`${additive ? "+" : "-"}@${ACL_ORDER[best]}`);
    }
    const single = (c: AclCommand<D>) => {
      const want = s.allowed[c.id] === 1;
      if (want !== (fake.allowed[c.id] === 1)) {
        parts.push(`${want ? "+" : "-"}${c.def.name}`);
        changePerm(fake, c, want);
      }
    };
    for (const c of this.top) {
      single(c);
      for (const sc of c.subs) single(sc);
      const first = s.firstArgs.get(c.id);
      if (s.allowed[c.id] === 0 && first) {
        for (const a of first) parts.push(`+${c.def.name}|${a}`);
      }
    }
    return parts.join(" ");
  }

  private countCategory(s: Selector, bit: number): [number, number] {
    let on = 0, off = 0;
    const m = 1 << bit;
    const count = (c: AclCommand<D>) => {
      if (c.cats & m) s.allowed[c.id] ? on++ : off++;
    };
    for (const c of this.top) {
      count(c);
      c.subs.forEach(count);
    }
    return [on, off];
  }

  // ---- checks ----

  /** AUTH: the user when the password opens it (enabled, nopass or a matching hash). */
  authenticate(name: string, pass: string): User | null {
    const u = this.users.get(name);
    if (!u || !u.enabled) return null;
    if (u.nopass) return u;
    const h = sha256Hex(pass);
    return u.passwords.includes(h) ? u : null;
  }

  /**
   * Whether a user may run a command with these arguments: null, or what is denied and the
   * argument index of the key or channel (0 for the command). With several selectors, any
   * selector allowing it allows it; otherwise the most specific denial wins, as in Redis.
   */
  check(u: User, def: D, argv: string[]): { denial: Denial; index: number } | null {
    let worst: Denial = "command", worstIdx = 0;
    for (const s of u.selectors) {
      const r = this.checkSelector(s, def, argv);
      if (r === null) return null;
      const rank = DENIAL_RANK[r.denial], wr = DENIAL_RANK[worst];
      if (rank > wr || (rank === wr && r.index > worstIdx)) {
        worst = r.denial;
        worstIdx = r.index;
      }
    }
    return { denial: worst, index: worstIdx };
  }

  private checkSelector(
    s: Selector,
    def: D,
    argv: string[],
  ): { denial: Denial; index: number } | null {
    if (!s.allCommands && !this.hooks.noAuth(def)) {
      const c = this.byName.get(def.name);
      if (!c || !s.allowed[c.id]) {
        const first = c ? s.firstArgs.get(c.id) : undefined;
        const idx = c?.parent ? 2 : 1;
        const arg = argv[idx]?.toLowerCase();
        if (!first || arg === undefined || !first.some((a) => a.toLowerCase() === arg)) {
          return { denial: "command", index: 0 };
        }
      }
    }
    if (!s.allKeys) {
      for (const [i, flags] of this.hooks.keys(def, argv)) {
        if (!keyAllowed(s, argv[i]!, flags)) return { denial: "key", index: i };
      }
    }
    if (!s.allChannels) {
      for (const [i, pattern] of callChannels(def.name, argv)) {
        if (!channelAllowed(s.channels, argv[i]!, pattern)) {
          return { denial: "channel", index: i };
        }
      }
    }
    return null;
  }

  /**
   * Whether one of the selectors allowing this call also reads every key (allkeys, or a `*`
   * pattern with read permission): SORT's BY and GET patterns need that, as in Redis.
   */
  readsAllKeys(u: User, def: D, argv: string[]): boolean {
    return u.selectors.some((s) =>
      this.checkSelector(s, def, argv) === null &&
      (s.allKeys || s.keys.some((k) => (k.perm & PERM_R) === PERM_R && k.pattern === "*"))
    );
  }

  /** Whether a user may receive a channel's messages (PUBSUB-style checks of a channel name). */
  channelAllowed(u: User, channel: string, pattern: boolean): boolean {
    return u.selectors.some((s) => s.allChannels || channelAllowed(s.channels, channel, pattern));
  }

  lookup(name: string): D | null {
    return this.byName.get(name.toLowerCase())?.def ?? null;
  }
}

function changePerm<D>(s: Selector, c: AclCommand<D>, allow: boolean): void {
  s.allowed[c.id] = allow ? 1 : 0;
  if (!allow) s.allCommands = false;
  s.firstArgs.delete(c.id);
  for (const sc of c.subs) {
    s.allowed[sc.id] = allow ? 1 : 0;
  }
}

function keyRule(s: Selector, op: string): RuleError | null {
  if (s.allKeys) return "keysAfterAll";
  let perm = 0, off = 1;
  if (op[0] === "%") {
    for (; off < op.length; off++) {
      const ch = op[off]!.toUpperCase();
      if (ch === "R" && !(perm & PERM_R)) perm |= PERM_R;
      else if (ch === "W" && !(perm & PERM_W)) perm |= PERM_W;
      else if (ch === "~") {
        off++;
        break;
      } else return "syntax";
    }
  } else perm = PERM_RW;
  // "%R" and "~" alone are accepted, as in Redis: they name the empty pattern.
  if (perm === 0) return "syntax";
  const pattern = op.slice(off);
  if (pattern === "*" && perm === PERM_RW) {
    s.allKeys = true;
    s.keys = [];
    return null;
  }
  const found = s.keys.find((k) => k.pattern === pattern);
  if (found) found.perm |= perm;
  else s.keys.push({ pattern, perm });
  return null;
}

function describeKey(k: KeyPattern): string {
  if (k.perm === PERM_RW) return `~${k.pattern}`;
  return `%${k.perm === PERM_R ? "R" : "W"}~${k.pattern}`;
}

/** Access flags of a key spec as ACL permissions: ACCESS reads; INSERT, UPDATE, DELETE write. */
function keyAllowed(s: Selector, key: string, flags: string[]): boolean {
  let need = 0;
  for (const f of flags) {
    const l = f.toLowerCase();
    if (l === "access") need |= PERM_R;
    else if (l === "insert" || l === "update" || l === "delete") need |= PERM_W;
  }
  for (const k of s.keys) {
    if ((k.perm & need) !== need) continue;
    if (globMatch(k.pattern, key)) return true;
  }
  return false;
}

/** The channels a call publishes or subscribes to: [argument index, is a pattern]. */
function callChannels(name: string, argv: string[]): [number, boolean][] {
  switch (name) {
    case "publish":
    case "spublish":
      return argv.length > 1 ? [[1, false]] : [];
    case "subscribe":
    case "ssubscribe":
    case "psubscribe": {
      const out: [number, boolean][] = [];
      for (let i = 1; i < argv.length; i++) out.push([i, name === "psubscribe"]);
      return out;
    }
  }
  return [];
}

/**
 * After SETUSER, the channel patterns subscribers of the changed user must now be checked
 * against, or null when none need checking: a selector allows all channels, or every channel
 * pattern the user had is still listed (Redis 7.0's two shortcuts, kept as they are).
 */
export function channelsToRecheck(before: User, after: User): string[] | null {
  if (after.selectors.some((s) => s.allChannels)) return null;
  const upcoming = after.selectors.flatMap((s) => s.channels);
  // Losing allchannels needs a check as much as losing a pattern does.
  const kept = before.selectors.every((s) =>
    !s.allChannels && s.channels.every((c) => upcoming.includes(c))
  );
  return kept ? null : upcoming;
}

/** Whether a subscription (a channel, or a pattern when `pattern`) is allowed by a list. */
export function subscriptionAllowed(list: string[], name: string, pattern: boolean): boolean {
  return channelAllowed(list, name, pattern);
}

/** Channel patterns match channels; a pattern subscription must equal an allowed pattern. */
function channelAllowed(list: string[], channel: string, pattern: boolean): boolean {
  for (const p of list) {
    if (pattern ? p === channel : globMatch(p, channel)) return true;
  }
  return false;
}

/** ACL GENPASS: `bits` random bits as lowercase hex (rounded up to whole hex digits). */
export function genpass(bits: number): string {
  const chars = Math.ceil(bits / 4);
  return randomBytes(Math.ceil(chars / 2)).toString("hex").slice(0, chars);
}

/**
 * Joins SETUSER arguments so that a selector split over several arguments ("(~x", "+get)")
 * becomes one rule; else the argument that opened an unmatched parenthesis. As in Redis, an
 * argument that opens a selector while one is open starts it over (the open one is dropped).
 */
export function mergeSelectorArgs(args: string[]): { ok: string[] } | { unmatched: string } {
  const out: string[] = [];
  let open: string | null = null, opener = "";
  for (const a of args) {
    if (a.startsWith("(") && !a.endsWith(")")) {
      open = opener = a;
    } else if (open !== null) {
      open += " " + a;
      if (a.endsWith(")")) {
        out.push(open);
        open = null;
      }
    } else out.push(a);
  }
  if (open !== null) return { unmatched: opener };
  return { ok: out };
}

/** One ACL LOG entry: similar denials within a minute are counted in one entry. */
export interface LogEntry {
  count: number;
  reason: Denial | "auth";
  context: "toplevel" | "multi" | "lua";
  object: string;
  username: string;
  createdMs: number;
  clientInfo: string;
}

/** Where ACL LOG writes its reply (the data node's and the sentinel's client writers). */
export interface LogReplyWriter {
  array(n: number): void;
  map(n: number): void;
  bulk(s: string): void;
  int(n: number): void;
  double(n: number): void;
}

/** ACL LOG's reply: each entry as a map of Redis 7.0's seven fields. */
export function writeLogEntries(out: LogReplyWriter, entries: LogEntry[], nowMs: number): void {
  out.array(entries.length);
  for (const e of entries) {
    out.map(7);
    out.bulk("count");
    out.int(e.count);
    out.bulk("reason");
    out.bulk(e.reason);
    out.bulk("context");
    out.bulk(e.context);
    out.bulk("object");
    out.bulk(e.object);
    out.bulk("username");
    out.bulk(e.username);
    out.bulk("age-seconds");
    out.double((nowMs - e.createdMs) / 1000);
    out.bulk("client-info");
    out.bulk(e.clientInfo);
  }
}

/** Denials within this time of an equal entry add to its count. */
const LOG_GROUPING_MS = 60_000;

/** The ACL LOG: newest first, at most `maxLen` entries (acllog-max-len). */
export class AclLog {
  entries: LogEntry[] = [];

  add(e: Omit<LogEntry, "count">, maxLen: number): void {
    const i = this.entries.findIndex((o) =>
      o.reason === e.reason && o.context === e.context && o.object === e.object &&
      o.username === e.username && e.createdMs - o.createdMs < LOG_GROUPING_MS
    );
    if (i >= 0) {
      const o = this.entries[i]!;
      this.entries.splice(i, 1);
      this.entries.unshift({ ...e, count: o.count + 1 });
    } else {
      this.entries.unshift({ ...e, count: 1 });
    }
    this.trim(maxLen);
  }

  trim(maxLen: number): void {
    if (this.entries.length > maxLen) this.entries.length = maxLen;
  }
}
