/**
 * A seeded random-argument fuzzer: runs the same random command lines on our data node and on a
 * real redis-server 7.0 and reports every place where the raw reply bytes or the resulting
 * keyspace differ.
 *
 *   deno run -A tests/fuzz/args_fuzz.ts [--seed N] [--iterations N] [--commands a,b,@group,...]
 *     [--start I] [--proto 2|3|both] [--report FILE] [--no-minimize] [--verbose]
 *
 * Every iteration is replayable on its own: its random stream depends only on (seed, iteration).
 * An iteration builds a small dataset on keys k1..k3 (strings, lists, hashes, sets and sorted sets
 * in their different encodings, some with an expiry), then runs one random command line (sometimes
 * inside MULTI/EXEC) on a fresh or reset connection, in RESP2 and again in RESP3, and compares:
 * the raw reply bytes (with a few per-command relaxations for replies Redis itself leaves
 * unspecified: random picks, clocks, ids, hash-table order), then TYPE, OBJECT ENCODING, expiry and
 * a full read of every key in db 0, and DBSIZE of dbs 1..15.
 *
 * Arguments come from a vocabulary of key names, edge-case integers and floats, lex ranges, glob
 * patterns, short binary strings, DUMP payloads and the option tokens of the command's
 * `COMMAND DOCS` in redis-server (recursively, subcommands included); three quarters of the command
 * lines follow the documented argument grammar (a quarter of those then get mutated: arguments
 * dropped, inserted, replaced, repeated), the rest are 0..8 arguments drawn at random. The dataset
 * leans towards the command's data type so that not every run ends in WRONGTYPE.
 *
 * Not run: SHUTDOWN, DEBUG, MONITOR, the SUBSCRIBE family, SAVE/BGSAVE/BGREWRITEAOF, CLIENT KILL and
 * PAUSE. Blocking commands get a 0.01 s timeout instead of any that would block for long (malformed
 * and out-of-range timeouts are kept: they are error paths). CONFIG SET only gets parameter names
 * that are harmless or undone before the next run. Counts between 2^53 and 2^63 are left out of the
 * vocabulary on purpose: `SRANDMEMBER key -9007199254740992` makes redis-server 7.0 allocate until
 * it dies.
 *
 * Mismatches are grouped by command and by a normalized kind; each group keeps a few reproducers,
 * which are confirmed (re-run) and shrunk (dataset keys and arguments dropped while the same kind
 * of mismatch remains). The report goes to stdout, and to --report FILE when given.
 */
import { type ManagedProcess, startDataNode, startRedisServer } from "../helpers/process.ts";
import { seededRandom } from "../helpers/random.ts";

type Rng = () => number;

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  seed: number;
  iterations: number;
  start: number;
  commands: string[] | null;
  protos: (2 | 3)[];
  report: string | null;
  minimize: boolean;
  verbose: boolean;
}

function parseOptions(argv: string[]): Options {
  const o: Options = {
    seed: 1,
    iterations: 3000,
    start: 0,
    commands: null,
    protos: [2, 3],
    report: null,
    minimize: true,
    verbose: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const eq = a.indexOf("=");
    const name = eq > 0 ? a.slice(0, eq) : a;
    const inline = eq > 0 ? a.slice(eq + 1) : undefined;
    const value = (): string => inline ?? next();
    switch (name) {
      case "--seed":
        o.seed = Number(value());
        break;
      case "--iterations":
        o.iterations = Number(value());
        break;
      case "--start":
        o.start = Number(value());
        break;
      case "--commands":
        o.commands = value().split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
        break;
      case "--proto": {
        const v = value();
        o.protos = v === "2" ? [2] : v === "3" ? [3] : [2, 3];
        break;
      }
      case "--report":
        o.report = value();
        break;
      case "--no-minimize":
        o.minimize = false;
        break;
      case "--verbose":
        o.verbose = true;
        break;
      case "--help":
        console.log(
          "deno run -A tests/fuzz/args_fuzz.ts [--seed N] [--iterations N] " +
            "[--commands a,b,@group] [--start I] [--proto 2|3|both] [--report FILE] " +
            "[--no-minimize] [--verbose]",
        );
        Deno.exit(0);
        break;
      default:
        throw new Error(`unknown option ${a}`);
    }
  }
  if (!Number.isInteger(o.seed) || !Number.isInteger(o.iterations) || o.iterations < 0) {
    throw new Error("--seed and --iterations take integers");
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// Bytes: every argument and reply is a binary string (one char per byte, codes 0..255).

function bytesToBin(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 8192) {
    s += String.fromCharCode(...b.subarray(i, Math.min(b.length, i + 8192)));
  }
  return s;
}

function binToBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

function encodeCmd(args: readonly string[]): Uint8Array {
  let s = `*${args.length}\r\n`;
  for (const a of args) s += `$${a.length}\r\n${a}\r\n`;
  return binToBytes(s);
}

/** JSON with every byte outside printable ASCII escaped, so a report shows exact bytes. */
function esc(s: string): string {
  return JSON.stringify(s).replace(
    /[\x7f-\xff]/g,
    (c) => `\\u00${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

/** An argument as redis-cli takes it. */
function cliArg(a: string): string {
  if (/^[A-Za-z0-9_.:+\-*?\[\]()#|^]+$/.test(a)) return a;
  let out = '"';
  for (const ch of a) {
    const c = ch.charCodeAt(0);
    if (ch === '"' || ch === "\\") out += "\\" + ch;
    else if (c >= 0x20 && c < 0x7f) out += ch;
    else out += `\\x${c.toString(16).padStart(2, "0")}`;
  }
  return out + '"';
}

function cliLine(args: readonly string[]): string {
  return args.map(cliArg).join(" ");
}

// ---------------------------------------------------------------------------------------------
// A tiny RESP2/RESP3 reader that keeps the exact bytes of each reply.

interface Node {
  /** Type byte. */
  t: string;
  /** Header line (without the type byte). */
  line: string;
  /** Bulk-like payload. */
  body?: string;
  /** Aggregate elements (maps and attributes: key, value, key, value, ...). */
  kids?: Node[];
  /** The exact bytes of this reply. */
  raw: string;
}

/** Parses one reply at `pos`; null when more bytes are needed. */
function parseAt(s: string, pos: number): [Node, number] | null {
  const eol = s.indexOf("\r\n", pos);
  if (eol < 0) return null;
  const t = s[pos]!;
  const line = s.slice(pos + 1, eol);
  let p = eol + 2;
  switch (t) {
    case "+":
    case "-":
    case ":":
    case "_":
    case ",":
    case "#":
    case "(":
      return [{ t, line, raw: s.slice(pos, p) }, p];
    case "$":
    case "!":
    case "=": {
      const n = Number(line);
      if (!Number.isInteger(n)) throw new Error(`bad length ${esc(line)}`);
      if (n < 0) return [{ t, line, raw: s.slice(pos, p) }, p];
      if (s.length < p + n + 2) return null;
      const body = s.slice(p, p + n);
      p += n + 2;
      return [{ t, line, body, raw: s.slice(pos, p) }, p];
    }
    case "*":
    case "~":
    case ">":
    case "%":
    case "|": {
      const n = Number(line);
      if (!Number.isInteger(n)) throw new Error(`bad count ${esc(line)}`);
      if (n < 0) return [{ t, line, raw: s.slice(pos, p) }, p];
      const count = t === "%" || t === "|" ? 2 * n : n;
      const kids: Node[] = [];
      for (let i = 0; i < count + (t === "|" ? 1 : 0); i++) {
        const r = parseAt(s, p);
        if (r === null) return null;
        kids.push(r[0]);
        p = r[1];
      }
      return [{ t, line, kids, raw: s.slice(pos, p) }, p];
    }
    default:
      throw new Error(`bad RESP type byte ${esc(t)} in ${esc(s.slice(pos, pos + 40))}`);
  }
}

function parseOne(raw: string): Node | null {
  if (raw.startsWith("<")) return null; // a marker: <timeout>, <closed>
  try {
    const r = parseAt(raw, 0);
    return r ? r[0] : null;
  } catch {
    return null;
  }
}

/** Plain JS value of a reply (for docs and state reads). */
type Js = string | number | null | Js[] | Map<string, Js> | { error: string };
function toJs(n: Node): Js {
  switch (n.t) {
    case "$":
    case "=":
      return n.body ?? null;
    case "+":
    case ",":
    case "(":
    case "#":
      return n.line;
    case ":":
      return Number(n.line);
    case "_":
      return null;
    case "-":
      return { error: n.line };
    case "!":
      return { error: n.body ?? "" };
    case "%": {
      const m = new Map<string, Js>();
      const k = n.kids!;
      for (let i = 0; i < k.length; i += 2) m.set(String(toJs(k[i]!)), toJs(k[i + 1]!));
      return m;
    }
    default:
      return n.kids ? n.kids.map(toJs) : null;
  }
}

/** A raw reply's scalar text, for simple lookups. */
function scalar(n: Node | undefined): string | null {
  if (!n) return null;
  if (n.body !== undefined) return n.body;
  if (n.t === "$" || n.t === "*" || n.t === "_") return null;
  return n.line;
}

const isErr = (raw: string): boolean => raw[0] === "-" || raw[0] === "!";

/** The first line of an error reply. */
function errText(raw: string): string {
  const n = parseOne(raw);
  if (!n) return raw;
  return n.t === "!" ? n.body ?? "" : n.line;
}

// ---------------------------------------------------------------------------------------------
// Connections

const TIMEOUT = "<timeout>";
const CLOSED = "<closed>";

class Conn {
  private buf = "";
  private readonly chunk = new Uint8Array(256 * 1024);
  private reading: Promise<number | null> | null = null;
  private dead = false;

  private constructor(private readonly conn: Deno.TcpConn) {}

  static async open(port: number): Promise<Conn> {
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    c.setNoDelay(true);
    return new Conn(c);
  }

  get closed(): boolean {
    return this.dead;
  }

  async send(cmds: readonly (readonly string[])[]): Promise<void> {
    const parts = cmds.map(encodeCmd);
    const total = parts.reduce((n, p) => n + p.length, 0);
    const bytes = new Uint8Array(total);
    let off = 0;
    for (const p of parts) {
      bytes.set(p, off);
      off += p.length;
    }
    off = 0;
    try {
      while (off < bytes.length) off += await this.conn.write(bytes.subarray(off));
    } catch {
      this.dead = true;
    }
  }

  /** The exact bytes of the next reply, or TIMEOUT / CLOSED. */
  async read(timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.buf.length > 0) {
        const r = parseAt(this.buf, 0);
        if (r) {
          this.buf = this.buf.slice(r[1]);
          return r[0].raw;
        }
      }
      if (this.dead) return CLOSED;
      const left = deadline - Date.now();
      if (left <= 0) return TIMEOUT;
      // A read outlives a timeout: what it brings belongs to the next reply.
      this.reading ??= this.conn.read(this.chunk).catch(() => null);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const n = await Promise.race([
        this.reading,
        new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), left)),
      ]);
      clearTimeout(timer);
      if (n === "timeout") return TIMEOUT;
      this.reading = null;
      if (n === null) {
        this.dead = true;
        continue;
      }
      this.buf += bytesToBin(this.chunk.subarray(0, n));
    }
  }

  async call(args: readonly string[], timeoutMs = 10000): Promise<string> {
    await this.send([args]);
    return await this.read(timeoutMs);
  }

  /** Sends all commands in one write and reads one reply for each. */
  async pipeline(cmds: readonly (readonly string[])[], timeoutMs = 10000): Promise<string[]> {
    await this.send(cmds);
    const out: string[] = [];
    for (let i = 0; i < cmds.length; i++) out.push(await this.read(timeoutMs));
    return out;
  }

  close(): void {
    if (!this.dead) {
      this.dead = true;
    }
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }
}

// ---------------------------------------------------------------------------------------------
// Command docs (from redis-server) and argument generation

interface ArgSpec {
  name: string;
  type: string;
  token?: string;
  flags: string[];
  args: ArgSpec[];
}

interface CmdDoc {
  name: string;
  group: string;
  args: ArgSpec[];
  subs: Map<string, CmdDoc>;
}

function parseArgSpec(v: Js): ArgSpec {
  const m = v instanceof Map ? v : new Map<string, Js>();
  const flags = m.get("flags");
  const kids = m.get("arguments");
  const spec: ArgSpec = {
    name: String(m.get("name") ?? ""),
    type: String(m.get("type") ?? "string"),
    flags: Array.isArray(flags) ? flags.map(String) : [],
    args: Array.isArray(kids) ? kids.map(parseArgSpec) : [],
  };
  const token = m.get("token");
  if (typeof token === "string") spec.token = token;
  return spec;
}

function parseDoc(name: string, v: Js): CmdDoc {
  const m = v instanceof Map ? v : new Map<string, Js>();
  const args = m.get("arguments");
  const subs = m.get("subcommands");
  const doc: CmdDoc = {
    name,
    group: String(m.get("group") ?? ""),
    args: Array.isArray(args) ? args.map(parseArgSpec) : [],
    subs: new Map(),
  };
  if (subs instanceof Map) {
    for (const [full, sv] of subs) {
      const sub = full.includes("|") ? full.slice(full.indexOf("|") + 1) : full;
      doc.subs.set(sub.toLowerCase(), parseDoc(full, sv));
    }
  }
  return doc;
}

/** Every token of an argument tree. */
function tokensOf(specs: ArgSpec[], out = new Set<string>()): Set<string> {
  for (const s of specs) {
    if (s.token) out.add(s.token);
    tokensOf(s.args, out);
  }
  return out;
}

const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const chance = (r: Rng, p: number): boolean => r() < p;

const KEYS = ["k1", "k2", "k3"];
const LONG = "x".repeat(70);
const INTS = [
  "0",
  "1",
  "-1",
  "2",
  "3",
  "10",
  "100",
  "-100",
  "9223372036854775807",
  "-9223372036854775808",
  "9223372036854775808",
  "-9223372036854775809",
  "18446744073709551616",
  "4294967296",
  "01",
  "+1",
  "-0",
  "00",
];
const FLOATS = [
  "1.5",
  "-0.0",
  "inf",
  "-inf",
  "+inf",
  "nan",
  "1e308",
  "1e309",
  "-1e309",
  "0x10",
  " 1",
  "1 ",
  "",
  "0.1",
  "1e-320",
  "3.0",
  "-2.5",
  "1.",
  ".5",
  ".",
  "infinity",
  "-Infinity",
  "1e",
  "5e-1",
  "2.5",
];
const VALID_FLOATS = ["1.5", "-2.5", "0.1", "inf", "-inf", "3.0"];
const LEX = ["[a", "(b", "-", "+", "a", "[", "(", "[b", "(a", "[c", "[f1", "(z"];
const RANGE = ["(1", "(2.5", "(-inf", "(inf", "1", "2", "-inf", "+inf", "0", "-1", "(x"];
const GLOBS = ["*", "k*", "?", "k[12]", "*a*", "[", "\\", "[^a]*", "k?", "*\\", "f*", "[a-c]"];
const MEMBERS = ["a", "b", "c", "d", "f1", "f2", "x", "1", "2", "10", "-1", "1.5", "hello", ""];
const BINCHARS = ["\x00", "\r", "\n", "\xff", "\x80", " ", "a", "1", "*", "\t", '"', "é"];
const ENCODINGS = ["i8", "u8", "i64", "u63", "u64", "i1", "u0", "i65", "x8", "i16", "u1"];
const BIT_OFFSETS = ["0", "1", "7", "#0", "#1", "#-1", "-1", "100", "#100", "9223372036854775807"];
const CONFIG_PARAMS = [
  "maxmemory",
  "hz",
  "save",
  "*max*entries*",
  "list-max-*",
  "zset-*",
  "appendonly",
  "databases",
  "maxmemory-policy",
  "set-max-intset-entries",
  "hash-max-listpack-value",
  "notify-keyspace-events",
  "lazyfree*",
  "timeout",
  "port",
  "nosuch",
];
const CONFIG_SET_PARAMS = ["nosuch", "daemonize", "databases", "hz", "save", "maxmemory"];
/** Restored after every CONFIG command: what the fuzzer may have changed. */
const BASELINE_CONFIG = ["CONFIG", "SET", "hz", "10", "save", "", "maxmemory", "0", "timeout", "0"];
const INFO_SECTIONS = ["server", "keyspace", "all", "default", "everything", "nosuch", "stats"];

function binary(r: Rng): string {
  const n = Math.floor(r() * 5);
  let s = "";
  for (let i = 0; i < n; i++) {
    const c = pick(r, BINCHARS);
    s += c === "é" ? "\xc3\xa9" : c;
  }
  return s;
}

const key = (r: Rng): string => chance(r, 0.08) ? "k4" : pick(r, KEYS);

interface GenCtx {
  r: Rng;
  tokens: string[];
  dumps: string[];
  cmdNames: string[];
}

/** A value from the whole vocabulary. */
function anyValue(c: GenCtx): string {
  const x = c.r();
  if (x < 0.25) return key(c.r);
  if (x < 0.4) return pick(c.r, INTS);
  if (x < 0.5) return pick(c.r, FLOATS);
  if (x < 0.7 && c.tokens.length > 0) {
    const t = pick(c.r, c.tokens);
    return chance(c.r, 0.2) ? t.toLowerCase() : t;
  }
  if (x < 0.75) return pick(c.r, LEX);
  if (x < 0.8) return pick(c.r, GLOBS);
  if (x < 0.92) return pick(c.r, MEMBERS);
  return binary(c.r);
}

function valueFor(c: GenCtx, spec: ArgSpec, cmd: string): string {
  const r = c.r;
  if (chance(r, 0.03)) return anyValue(c);
  const n = spec.name.toLowerCase();
  switch (spec.type) {
    case "key":
      return key(r);
    case "integer":
      if (n === "numkeys") return pick(r, ["1", "2", "3", "0", "-1"]);
      if ((n === "value" || n === "bit") && /bit/.test(cmd) && chance(r, 0.8)) {
        return pick(r, ["0", "1"]);
      }
      return pick(r, INTS.slice(0, chance(r, 0.7) ? 8 : INTS.length));
    case "double":
      return chance(r, 0.35) ? pick(r, FLOATS) : pick(r, [...INTS.slice(0, 8), ...VALID_FLOATS]);
    case "pattern":
      return pick(r, GLOBS);
    case "unix-time":
      return pick(r, ["0", "1", "2000000000", "9999999999999", "-1", "4102444800", "100"]);
  }
  if (n === "encoding") return pick(r, ENCODINGS);
  if (n === "offset" && cmd === "bitfield") return pick(r, BIT_OFFSETS);
  if (n === "serialized-value" && c.dumps.length) return pick(r, c.dumps);
  if (n === "parameter") {
    // CONFIG SET only gets names whose change cannot break later runs (or is undone, see BASELINE).
    return pick(r, /^config\|set/.test(cmd) ? CONFIG_SET_PARAMS : CONFIG_PARAMS);
  }
  if (n === "section") return pick(r, INFO_SECTIONS);
  if (n === "protover") return pick(r, ["2", "3", "1", "4", "-1", "x"]);
  if (n === "username") return pick(r, ["default", "nobody", ""]);
  if (n === "password") return pick(r, ["", "pw", "nopass"]);
  if (n === "command-name" || n === "command") return pick(r, c.cmdNames);
  if (n === "connection-name") return pick(r, ["name", "", "a b", "x\ny"]);
  if (n === "min" || n === "max" || n === "start" || n === "stop") {
    if (/lex/.test(cmd)) return pick(r, LEX);
    if (/score/.test(cmd)) return pick(r, [...RANGE, ...FLOATS.slice(0, 6)]);
    const x = r();
    return x < 0.5 ? pick(r, INTS.slice(0, 8)) : x < 0.8 ? pick(r, RANGE) : pick(r, LEX);
  }
  if (n === "channel" || n === "shardchannel") return pick(r, ["ch", "c*", "x"]);
  const x = r();
  if (x < 0.7) return pick(r, MEMBERS);
  if (x < 0.8) return LONG;
  if (x < 0.9) return pick(r, INTS.slice(0, 8));
  return binary(r);
}

/** Arguments following the documented grammar. */
function genSpec(c: GenCtx, specs: ArgSpec[], cmd: string, out: string[]): void {
  for (let i = 0; i < specs.length; i++) {
    const s = specs[i]!;
    const optional = s.flags.includes("optional");
    if (optional && chance(c.r, 0.55)) continue;
    const multiple = s.flags.includes("multiple");
    const reps = multiple ? 1 + Math.floor(c.r() * (chance(c.r, 0.8) ? 3 : 5)) : 1;
    // "numkeys" followed by keys: usually the true count.
    const nextSpec = specs[i + 1];
    if (s.name === "numkeys" && nextSpec && nextSpec.flags.includes("multiple")) {
      const keys: string[] = [];
      genOne(c, nextSpec, cmd, keys, 1 + Math.floor(c.r() * 3));
      out.push(chance(c.r, 0.8) ? String(keys.length) : valueFor(c, s, cmd), ...keys);
      i++;
      continue;
    }
    genOne(c, s, cmd, out, reps);
  }
}

function genOne(c: GenCtx, s: ArgSpec, cmd: string, out: string[], reps: number): void {
  for (let k = 0; k < reps; k++) {
    if (s.token && (k === 0 || s.flags.includes("multiple_token"))) {
      out.push(chance(c.r, 0.15) ? s.token.toLowerCase() : s.token);
    }
    if (s.type === "pure-token") continue;
    if (s.type === "oneof") {
      if (s.args.length) genSpec(c, [{ ...pick(c.r, s.args), flags: [] }], cmd, out);
    } else if (s.type === "block") {
      genSpec(c, s.args, cmd, out);
    } else {
      out.push(valueFor(c, s, cmd));
    }
  }
}

function mutate(c: GenCtx, args: string[]): void {
  const times = 1 + Math.floor(c.r() * 2);
  for (let i = 0; i < times; i++) {
    const x = c.r();
    const at = Math.floor(c.r() * (args.length + 1));
    if (x < 0.3 && args.length > 0) args.splice(Math.min(at, args.length - 1), 1);
    else if (x < 0.6) args.splice(at, 0, anyValue(c));
    else if (x < 0.85 && args.length > 0) args[Math.min(at, args.length - 1)] = anyValue(c);
    else if (args.length > 0) {
      const j = Math.min(at, args.length - 1);
      args.splice(j, 0, args[j]!);
    }
  }
}

/** Never run: they stop, block or fork the server, or change the connection for good. */
const SKIP_COMMANDS = new Set([
  "shutdown",
  "debug",
  "monitor",
  "subscribe",
  "psubscribe",
  "unsubscribe",
  "punsubscribe",
  "ssubscribe",
  "sunsubscribe",
  "save",
  "bgsave",
  "bgrewriteaof",
  "sync",
  "psync",
  "replicaof",
  "slaveof",
  "failover",
]);
const SKIP_SUBCOMMANDS = new Set(["client|kill", "client|pause"]);

/** Blocking commands: the argument index of the timeout (negative counts from the end). */
const BLOCKING: Record<string, number> = {
  blpop: -1,
  brpop: -1,
  bzpopmin: -1,
  bzpopmax: -1,
  blmove: 5,
  brpoplpush: 3,
  blmpop: 1,
  bzmpop: 1,
};

/** A timeout that would block for long becomes 0.01 s; malformed ones stay (error paths). */
function tameTimeout(args: string[]): void {
  const at = BLOCKING[args[0]!.toLowerCase()];
  if (at === undefined) return;
  const i = at < 0 ? args.length + at : at;
  if (i < 1 || i >= args.length) return;
  const t = args[i]!;
  if (/\s/.test(t) || t === "") return;
  const v = /^[+-]?0x/i.test(t) ? parseInt(t.replace(/^\+/, ""), 16) : Number(t);
  if (Number.isFinite(v) && v >= 0 && v < 1e12) args[i] = "0.01";
}

function isSkipped(args: readonly string[]): boolean {
  const c = (args[0] ?? "").toLowerCase();
  if (SKIP_COMMANDS.has(c)) return true;
  return SKIP_SUBCOMMANDS.has(`${c}|${(args[1] ?? "").toLowerCase()}`);
}

class Generator {
  constructor(
    private readonly docs: Map<string, CmdDoc>,
    private readonly dumps: string[],
    private readonly implemented: string[],
  ) {}

  /** One command line for `name` (the command itself first). */
  command(r: Rng, name: string, depth = 0): string[] {
    for (let attempt = 0; attempt < 20; attempt++) {
      const args = this.attempt(r, name, depth);
      tameTimeout(args);
      if (!isSkipped(args)) return args;
    }
    return [name.toUpperCase()];
  }

  private attempt(r: Rng, name: string, depth: number): string[] {
    const doc = this.docs.get(name);
    const head = chance(r, 0.1) ? name : name.toUpperCase();
    let specs = doc?.args ?? [];
    const out = [head];
    let tokens = doc ? [...tokensOf(specs)] : [];
    let scope = name;
    if (doc && doc.subs.size > 0) {
      const subs = [...doc.subs.keys()].filter((s) => !SKIP_SUBCOMMANDS.has(`${name}|${s}`));
      if (chance(r, 0.9)) {
        const sub = pick(r, subs);
        const sdoc = doc.subs.get(sub)!;
        out.push(chance(r, 0.2) ? sub : sub.toUpperCase());
        specs = sdoc.args;
        tokens = [...tokensOf(specs)];
        scope = `${name}|${sub}`;
        // COMMAND GETKEYS / GETKEYSANDFLAGS take a whole command line.
        if (name === "command" && /^getkeys/.test(sub) && depth === 0 && chance(r, 0.85)) {
          const inner = pick(r, this.implemented.filter((c) => !this.docs.get(c)?.subs.size));
          out.push(...this.command(r, inner, depth + 1));
          if (chance(r, 0.2)) mutate(this.ctx(r, tokens), out);
          return out;
        }
      } else {
        tokens.push(...subs);
      }
    }
    const c = this.ctx(r, tokens);
    if (chance(r, 0.75) && doc) {
      genSpec(c, specs, scope, out);
      if (chance(r, 0.25)) {
        const rest = out.splice(1);
        mutate(c, rest);
        out.push(...rest);
      }
    } else {
      const n = Math.floor(r() * 9);
      for (let i = 0; i < n; i++) out.push(anyValue(c));
    }
    return out;
  }

  private ctx(r: Rng, tokens: string[]): GenCtx {
    return { r, tokens, dumps: this.dumps, cmdNames: [...this.implemented, "nosuch", "get|x"] };
  }
}

// ---------------------------------------------------------------------------------------------
// Datasets

/** The commands that build one key, grouped so that minimization can drop a key at once. */
interface SeedGroup {
  key: string;
  cmds: string[][];
}

/** Far in the future, absolute: both servers get the same expiry. */
const FAR_PEXPIREAT = "4102444800000";

function seedVariant(r: Rng, k: string, kind: string): string[][] {
  const range = (n: number, f: (i: number) => string[]): string[] =>
    Array.from({ length: n }, (_, i) => f(i)).flat();
  switch (kind) {
    case "str-int":
      return [["SET", k, pick(r, ["10", "-5", "0", "9223372036854775807", "1"])]];
    case "str-emb":
      return [["SET", k, pick(r, ["hello", "a", "abc", ""])]];
    case "str-raw":
      return [["SET", k, LONG]];
    case "str-appended":
      return [["SET", k, "ab"], ["APPEND", k, "c"]];
    case "str-float":
      return [["SET", k, pick(r, ["1.5", "-2.5e3", "inf", "3.0"])]];
    case "str-bin":
      return [["SET", k, "\x00\xff\r\n"]];
    case "list-small":
      return [["RPUSH", k, "a", "b", "c", "1", "2", "a"]];
    case "list-ints":
      return [["RPUSH", k, "1", "2", "3", "10", "-1"]];
    case "list-long":
      return [["RPUSH", k, "a", LONG, "b"]];
    case "list-one":
      return [["RPUSH", k, "a"]];
    case "hash-small":
      return [["HSET", k, "f1", "v1", "f2", "2", "a", "1.5", "b", ""]];
    case "hash-long":
      return [["HSET", k, "f1", LONG, "f2", "10"]];
    case "hash-many":
      return [["HSET", k, ...range(130, (i) => [`f${i}`, String(i)])]];
    case "set-int":
      return [["SADD", k, "1", "2", "3", "10", "-1"]];
    case "set-str":
      return [["SADD", k, "a", "b", "c", "1"]];
    case "set-many":
      return [["SADD", k, ...range(520, (i) => [String(i)])]];
    case "zset-small":
      return [["ZADD", k, "1", "a", "2", "b", "2", "c", "-inf", "n", "inf", "p", "1.5", "d"]];
    case "zset-long":
      return [["ZADD", k, "1", "a", "2", LONG, "3", "c"]];
    case "zset-many":
      return [["ZADD", k, ...range(130, (i) => [String(i % 7), `m${i}`])]];
    default:
      return [];
  }
}

const SEED_KINDS: [string, number][] = [
  ["none", 18],
  ["str-int", 5],
  ["str-emb", 5],
  ["str-raw", 2],
  ["str-appended", 1],
  ["str-float", 3],
  ["str-bin", 1],
  ["list-small", 7],
  ["list-ints", 3],
  ["list-long", 2],
  ["list-one", 2],
  ["hash-small", 8],
  ["hash-long", 3],
  ["hash-many", 2],
  ["set-int", 6],
  ["set-str", 5],
  ["set-many", 1],
  ["zset-small", 9],
  ["zset-long", 3],
  ["zset-many", 2],
];

/** Dataset kinds that suit a command group: most keys get one, so that fewer runs end in WRONGTYPE. */
const GROUP_KINDS: Record<string, string> = {
  string: "str-",
  bitmap: "str-",
  list: "list-",
  hash: "hash-",
  set: "set-",
  "sorted-set": "zset-",
};

function genSeed(r: Rng, group = ""): SeedGroup[] {
  const out: SeedGroup[] = [];
  const prefix = GROUP_KINDS[group];
  const suited = prefix ? SEED_KINDS.filter(([k]) => k.startsWith(prefix)) : [];
  for (const k of KEYS) {
    const kinds = suited.length && chance(r, 0.6) ? suited : SEED_KINDS;
    let x = r() * kinds.reduce((n, [, w]) => n + w, 0);
    let kind = "none";
    for (const [name, w] of kinds) {
      if ((x -= w) < 0) {
        kind = name;
        break;
      }
    }
    const cmds = seedVariant(r, k, kind);
    if (cmds.length && chance(r, 0.15)) cmds.push(["PEXPIREAT", k, FAR_PEXPIREAT]);
    if (cmds.length) out.push({ key: k, cmds });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Per-command comparison rules

/** "cmd" or "cmd|sub" for containers. */
function cmdKeyOf(args: readonly string[], containers: Set<string>): string {
  const c = (args[0] ?? "").toLowerCase();
  if (containers.has(c) && args[1] !== undefined) return `${c}|${args[1].toLowerCase()}`;
  return c;
}

type Mode =
  | "exact"
  | "shape"
  | "ttl"
  | "type"
  | "unordered"
  | "unordered-pairs"
  | "scan"
  | "hello"
  | "config-get"
  | "command-list"
  | "command-info"
  | "command-docs";

const MODES: Record<string, Mode> = {
  ttl: "ttl",
  pttl: "ttl",
  randomkey: "shape",
  spop: "shape",
  srandmember: "shape",
  hrandfield: "shape",
  zrandmember: "shape",
  time: "shape",
  lastsave: "type",
  info: "type",
  "client|list": "type",
  "client|info": "type",
  "client|id": "shape",
  "memory|usage": "shape",
  "memory|stats": "type",
  "memory|doctor": "type",
  "memory|malloc-stats": "type",
  "object|idletime": "shape",
  "object|freq": "shape",
  command: "type",
  "command|count": "type",
  "command|docs": "command-docs",
  "command|list": "command-list",
  "command|info": "command-info",
  hello: "hello",
  "config|get": "config-get",
  keys: "unordered",
  smembers: "unordered",
  sinter: "unordered",
  sunion: "unordered",
  sdiff: "unordered",
  hkeys: "unordered",
  hvals: "unordered",
  hgetall: "unordered-pairs",
  scan: "scan",
  sscan: "scan",
  hscan: "scan",
  zscan: "scan",
};

/** Commands whose effect on the keyspace is random: the state check compares sizes only. */
const RANDOM_STATE = new Set(["spop"]);

function shape(n: Node): string {
  switch (n.t) {
    case "$":
    case "=":
      return n.body === undefined ? n.raw : `${n.t}?`;
    case ":":
    case ",":
    case "(":
      return `${n.t}?`;
    case "-":
    case "!":
    case "+":
    case "#":
    case "_":
      return n.raw;
    default:
      return n.kids ? `${n.t}${n.line}[${n.kids.map(shape).join(",")}]` : n.raw;
  }
}

function sortedKids(n: Node, pairs: boolean): string {
  if (!n.kids) return n.raw;
  const items: string[] = [];
  const step = pairs || n.t === "%" ? 2 : 1;
  for (let i = 0; i < n.kids.length; i += step) {
    items.push(n.kids.slice(i, i + step).map((k) => k.raw).join(""));
  }
  return `${n.t}${n.line}\r\n${items.sort().join("")}`;
}

interface Ctx {
  /** Our top-level command names. */
  ours: Set<string>;
  /** Commands whose first argument is a subcommand. */
  containers: Set<string>;
}

/** A reply as compared: the raw bytes unless the command's rule relaxes them. */
function normalize(mode: Mode, raw: string, ctx: Ctx, args: readonly string[]): string {
  const n = parseOne(raw);
  if (!n || isErr(raw)) return raw;
  switch (mode) {
    case "exact":
    case "unordered":
    case "unordered-pairs":
      return raw;
    case "shape":
      return shape(n);
    case "ttl":
      // A remaining time depends on when each server ran the command.
      return n.t === ":" && Number(n.line) > 0 ? ":<positive>" : raw;
    case "type":
      return n.t;
    case "hello": {
      if (!n.kids) return raw;
      const k = n.kids;
      let s = `${n.t}${n.line}\r\n`;
      for (let i = 0; i < k.length; i++) {
        const prev = scalar(k[i - 1]);
        s += prev === "id" && i % 2 === 1 ? ":<id>\r\n" : k[i]!.raw;
      }
      return s;
    }
    case "config-get": {
      if (!n.kids) return raw;
      const pairs: string[] = [];
      for (let i = 0; i + 1 < n.kids.length; i += 2) {
        const name = scalar(n.kids[i]) ?? "";
        if (name.startsWith("admin-")) continue; // ours only
        const masked = ["dir", "port", "pidfile", "logfile"].includes(name);
        pairs.push(`${name}=${masked ? "?" : esc(scalar(n.kids[i + 1]) ?? "")}`);
      }
      return `config ${pairs.sort().join(" ")}`;
    }
    case "command-list": {
      if (!n.kids) return raw;
      const names = n.kids.map((k) => scalar(k) ?? "")
        .filter((x) => ctx.ours.has(x.split("|")[0]!));
      return `list ${names.sort().join(" ")}`;
    }
    case "command-info": {
      // Commands Redis has but we have not built: nil from us, an entry from Redis; skip them.
      if (!n.kids) return raw;
      const names = args.slice(2).map((a) => a.toLowerCase());
      if (names.length === 0) {
        // Every command: only which of ours are there.
        const all = n.kids.map((k) => scalar(k.kids?.[0]) ?? "");
        return `list ${all.filter((x) => ctx.ours.has(x)).sort().join(" ")}`;
      }
      return n.kids.map((k, i) => {
        const name = names[i] ?? "";
        return ctx.ours.has(name.split("|")[0]!) ? k.raw : "[not ours]";
      }).join("");
    }
    case "command-docs": {
      // The docs text is not compared, only which commands got docs.
      if (!n.kids) return raw;
      // RESP3: a map; RESP2: a flat name, docs, name, docs array.
      const names: string[] = [];
      for (let i = 0; i < n.kids.length; i += 2) names.push(scalar(n.kids[i]) ?? "");
      return `docs ${names.filter((x) => ctx.ours.has(x.split("|")[0]!)).sort().join(" ")}`;
    }
    case "scan": {
      const cursor = scalar(n.kids?.[0]);
      const items = n.kids?.[1];
      if (!n.kids || n.kids.length !== 2 || cursor === null || !items) return raw;
      const pairs = /^[hz]scan$/i.test(args[0] ?? "");
      if (cursor !== "0" || (args[0]?.toLowerCase() === "scan" ? args[1] : args[2]) !== "0") {
        return `scan cursor ${cursor === "0" ? "0" : "nonzero"}`;
      }
      return `scan 0 ${sortedKids(items, pairs)}`;
    }
  }
}

/** A short, stable description of how two comparable replies differ. */
function classify(r: string, o: string): string {
  const desc = (x: string): string => {
    if (x === TIMEOUT) return "no reply (timeout)";
    if (x === CLOSED) return "connection closed";
    return family(x);
  };
  const norm = (x: string): string =>
    errText(x).replace(/'[^']*'/g, "'…'").replace(/^(ERR Unsupported option ).*/s, "$1…")
      .replace(/\d{3,}/g, "N").slice(0, 120);
  if (r.startsWith("<") || o.startsWith("<")) {
    return `redis ${isErr(r) ? `error ${norm(r)}` : desc(r)} / ours ${
      isErr(o) ? `error ${norm(o)}` : desc(o)
    }`;
  }
  if (isErr(r) && isErr(o)) return `different error: redis "${norm(r)}" / ours "${norm(o)}"`;
  if (isErr(r)) return `redis errors, ours does not: redis "${norm(r)}"`;
  if (isErr(o)) return `ours errors, redis does not: ours "${norm(o)}"`;
  if (desc(r) !== desc(o)) return `reply type: redis ${desc(r)} / ours ${desc(o)}`;
  return `different ${desc(r)} value`;
}

/** The kind of a reply, the same in RESP2 and RESP3 (a RESP3 map is an array, a double a bulk). */
function family(x: string): string {
  if (x === "$-1\r\n" || x === "*-1\r\n" || x === "_\r\n") return "nil";
  return TYPE_NAMES[x[0]!] ?? `type ${esc(x[0] ?? "")}`;
}

const TYPE_NAMES: Record<string, string> = {
  "+": "simple string",
  "-": "error",
  ":": "integer",
  "$": "bulk",
  "*": "array",
  "_": "nil",
  ",": "bulk",
  "#": "integer",
  "!": "error",
  "=": "bulk",
  "(": "big number",
  "%": "array",
  "~": "array",
  ">": "push",
  "|": "attribute",
  "s": "scan summary",
  "c": "config summary",
  "l": "list summary",
  "d": "docs summary",
};

// ---------------------------------------------------------------------------------------------
// Servers and running one case

interface Case {
  seed: SeedGroup[];
  args: string[];
  multi: boolean;
  proto: 2 | 3;
}

interface KeyState {
  type: string;
  enc: string;
  pexp: number;
  value: string;
  size: number;
}

interface State {
  keys: Map<string, KeyState>;
  dbsizes: string;
}

interface Outcome {
  replies: string[];
  state: State;
}

class Target {
  proc!: ManagedProcess;
  ctl!: Conn;
  /** Reusable test connections, per protocol. */
  private test = new Map<number, Conn>();

  constructor(readonly name: "redis" | "ours") {}

  async start(): Promise<void> {
    this.proc = this.name === "redis" ? await startRedisServer() : await startDataNode();
    this.ctl = await Conn.open(this.proc.port);
    this.test.clear();
  }

  async ensure(): Promise<boolean> {
    if (this.proc.alive && !this.ctl.closed) return false;
    console.log(`!! ${this.name} is gone (alive=${this.proc.alive}); restarting`);
    if (!this.proc.alive) console.log(this.proc.output().split("\n").slice(-30).join("\n"));
    // Stopping a dead process still reaps it and removes its directory.
    await this.proc.stop();
    await this.start();
    return true;
  }

  async testConn(proto: 2 | 3): Promise<Conn> {
    const c = this.test.get(proto);
    if (c && !c.closed) return c;
    const n = await Conn.open(this.proc.port);
    if (proto === 3) await n.call(["HELLO", "3"]);
    this.test.set(proto, n);
    return n;
  }

  dropTestConn(proto: 2 | 3): void {
    this.test.get(proto)?.close();
    this.test.delete(proto);
  }

  async stop(): Promise<void> {
    this.ctl?.close();
    for (const c of this.test.values()) c.close();
    await this.proc?.stop();
  }
}

const REPLY_TIMEOUT_MS = 2000;
/** Command groups that leave the connection as it was: the test connection is reused. */
const STATELESS_GROUPS = new Set(["string", "list", "hash", "set", "sorted-set", "bitmap"]);

class Runner {
  readonly redis = new Target("redis");
  readonly ours = new Target("ours");
  ctx!: Ctx;
  docs = new Map<string, CmdDoc>();
  runs = 0;
  /** The last case ran CONFIG: the next one first restores the baseline. */
  private configTouched = true;

  async start(): Promise<void> {
    // Both starts finish before a failure is reported, so stop() finds and stops both.
    const started = await Promise.allSettled([this.redis.start(), this.ours.start()]);
    for (const r of started) if (r.status === "rejected") throw r.reason;
  }

  async stop(): Promise<void> {
    await Promise.allSettled([this.redis.stop(), this.ours.stop()]);
  }

  private async seedOne(t: Target, seed: SeedGroup[], reset: boolean): Promise<void> {
    const cmds = [
      ...(reset ? [BASELINE_CONFIG] : []),
      ["FLUSHALL"],
      ...seed.flatMap((g) => g.cmds),
    ];
    const replies = await t.ctl.pipeline(cmds);
    replies.forEach((rep, i) => {
      if (isErr(rep) || rep.startsWith("<")) {
        throw new Error(`${t.name}: seeding failed at ${cliLine(cmds[i]!)}: ${esc(rep)}`);
      }
    });
  }

  private async execOne(t: Target, c: Case): Promise<string[]> {
    const conn = await t.testConn(c.proto);
    const out: string[] = [];
    const cmds = c.multi ? [["MULTI"], c.args, ["EXEC"]] : [c.args];
    for (const cmd of cmds) {
      await conn.send([cmd]);
      const rep = await conn.read(REPLY_TIMEOUT_MS);
      out.push(rep);
      if (rep.startsWith("<")) break;
    }
    const group = this.docs.get(c.args[0]!.toLowerCase())?.group ?? "";
    const stateless = !c.multi && STATELESS_GROUPS.has(group) &&
      !(c.args[0]!.toLowerCase() in BLOCKING);
    if (!stateless || out.some((x) => x.startsWith("<"))) t.dropTestConn(c.proto);
    return out;
  }

  private async readState(t: Target): Promise<State> {
    const first: string[][] = [["KEYS", "*"]];
    for (let db = 1; db < 16; db++) first.push(["SELECT", String(db)], ["DBSIZE"]);
    first.push(["SELECT", "0"]);
    const r1 = await t.ctl.pipeline(first);
    const keysNode = parseOne(r1[0]!);
    const names = (keysNode?.kids ?? []).map((k) => scalar(k) ?? "").sort().slice(0, 40);
    const dbsizes = r1.filter((_, i) => i > 0 && i % 2 === 0 && i < r1.length - 1)
      .map((x, i) => x === ":0\r\n" ? "" : `db${i + 1}=${x.trim()}`).filter(Boolean).join(" ");
    const per = 8;
    const cmds: string[][] = [];
    for (const k of names) {
      cmds.push(
        ["TYPE", k],
        ["OBJECT", "ENCODING", k],
        ["PEXPIRETIME", k],
        ["GET", k],
        ["LRANGE", k, "0", "-1"],
        ["HGETALL", k],
        ["SMEMBERS", k],
        ["ZRANGE", k, "0", "-1", "WITHSCORES"],
      );
    }
    const r2 = cmds.length ? await t.ctl.pipeline(cmds) : [];
    const keys = new Map<string, KeyState>();
    names.forEach((k, i) => {
      const rep = r2.slice(i * per, i * per + per);
      const type = scalar(parseOne(rep[0]!) ?? undefined) ?? "?";
      const enc = scalar(parseOne(rep[1]!) ?? undefined) ?? "?";
      const pexp = Number(scalar(parseOne(rep[2]!) ?? undefined) ?? "NaN");
      const idx = { string: 3, list: 4, hash: 5, set: 6, zset: 7 }[type];
      const vr = idx === undefined ? undefined : parseOne(rep[idx]!);
      let value = "?";
      let size = 0;
      if (vr) {
        if (vr.kids && (type === "hash" || type === "set")) {
          value = sortedKids(vr, type === "hash");
          size = vr.kids.length;
        } else {
          value = vr.raw;
          size = vr.kids ? vr.kids.length : (vr.body ?? "").length;
        }
      }
      keys.set(k, { type, enc, pexp, value, size });
    });
    return { keys, dbsizes };
  }

  /** Runs one case on both servers. */
  async run(c: Case): Promise<[Outcome, Outcome]> {
    this.runs++;
    const reset = this.configTouched;
    this.configTouched = c.args[0]!.toLowerCase() === "config";
    const one = async (t: Target): Promise<Outcome> => {
      await this.seedOne(t, c.seed, reset);
      const replies = await this.execOne(t, c);
      const state = await this.readState(t);
      return { replies, state };
    };
    return await Promise.all([one(this.redis), one(this.ours)]);
  }
}

interface Found {
  group: string;
  cmdKey: string;
  kind: string;
  detail: string;
  redis: string;
  ours: string;
}

/** The mismatches between the two outcomes of a case. */
function compare(c: Case, r: Outcome, o: Outcome, ctx: Ctx): Found[] {
  const cmdKey = cmdKeyOf(c.args, ctx.containers);
  const mode = MODES[cmdKey] ?? MODES[cmdKey.split("|")[0]!] ?? "exact";
  const found: Found[] = [];
  const add = (kind: string, detail: string, redis: string, ours: string): void => {
    found.push({ group: `${cmdKey} :: ${kind}`, cmdKey, kind, detail, redis, ours });
  };
  const n = Math.max(r.replies.length, o.replies.length);
  for (let i = 0; i < n; i++) {
    const rr = r.replies[i] ?? "<none>";
    const or = o.replies[i] ?? "<none>";
    if (rr === or) continue;
    const isExec = c.multi && i === 2;
    const isCmd = !c.multi || i === 1;
    const where = c.multi ? ["MULTI: ", "queued: ", "EXEC: "][i]! : "";
    if (isExec) {
      // Compare the inner reply by the command's rule.
      const rn = parseOne(rr);
      const on = parseOne(or);
      const ri = rn?.kids?.[0];
      const oi = on?.kids?.[0];
      if (rn && on && ri && oi && rn.t === on.t && rn.line === on.line) {
        const a = normalize(mode, ri.raw, ctx, c.args);
        const b = normalize(mode, oi.raw, ctx, c.args);
        if (a === b) continue;
        if (
          mode.startsWith("unordered") && sortedKids(ri, mode === "unordered-pairs") ===
            sortedKids(oi, mode === "unordered-pairs")
        ) {
          add("order only (EXEC)", "", rr, or);
          continue;
        }
        add(classify(a, b), "in MULTI/EXEC", rr, or);
        continue;
      }
      add(where + classify(rr, or), "", rr, or);
      continue;
    }
    if (isCmd) {
      const a = normalize(mode, rr, ctx, c.args);
      const b = normalize(mode, or, ctx, c.args);
      if (a === b) continue;
      const rn = parseOne(rr);
      const on = parseOne(or);
      if (
        mode.startsWith("unordered") && rn && on &&
        sortedKids(rn, mode === "unordered-pairs") === sortedKids(on, mode === "unordered-pairs")
      ) {
        add("order only", "", rr, or);
        continue;
      }
      add(
        where + classify(a, b),
        a !== rr || b !== or ? `compared: ${esc(a)} / ${esc(b)}` : "",
        rr,
        or,
      );
      continue;
    }
    add(where + classify(rr, or), "", rr, or);
  }
  // State: every key of db 0, and the sizes of the other dbs.
  const rs = r.state;
  const os = o.state;
  const randomState = RANDOM_STATE.has(c.args[0]!.toLowerCase());
  // A key about to expire may be gone on one server and not yet on the other: timing, not a bug.
  const soon = Date.now() + 5000;
  // A key listed by KEYS but of type none expired in between.
  const live = (st: State, k: string): boolean => (st.keys.get(k)?.type ?? "none") !== "none";
  const stable = (st: State, other: State): string =>
    [...st.keys].filter(([k, v]) =>
      v.type !== "none" && (live(other, k) || !(v.pexp > 0 && v.pexp < soon))
    ).map(([k]) => k).join(" ");
  const rk = stable(rs, os);
  const ok = stable(os, rs);
  if (rk !== ok) add("state: keyspace", `keys ${esc(rk)} / ${esc(ok)}`, rk, ok);
  if (rs.dbsizes !== os.dbsizes) add("state: other dbs", "", rs.dbsizes, os.dbsizes);
  for (const [k, a] of rs.keys) {
    const b = os.keys.get(k);
    if (!b) continue;
    if ((a.pexp > 0 && a.pexp < soon) || (b.pexp > 0 && b.pexp < soon)) continue;
    const what = `key ${esc(k)}`;
    if (a.type === "none" || b.type === "none") continue; // expired between KEYS and TYPE
    if (a.type !== b.type) {
      add(`state: type ${a.type} / ${b.type}`, what, a.type, b.type);
      continue;
    }
    if (randomState ? a.size !== b.size : a.value !== b.value) {
      add(`state: ${a.type} value`, what, a.value, b.value);
    }
    if (a.enc !== b.enc && !randomState) {
      add(`state: encoding ${a.type} ${a.enc} / ${b.enc}`, what, a.enc, b.enc);
    }
    const bothSet = a.pexp > 0 && b.pexp > 0;
    if (bothSet ? Math.abs(a.pexp - b.pexp) > 2000 : a.pexp !== b.pexp) {
      add(
        `state: expiry ${a.pexp < 0 ? a.pexp : "set"} / ${b.pexp < 0 ? b.pexp : "set"}`,
        what,
        String(a.pexp),
        String(b.pexp),
      );
    }
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// Recording, confirming, minimizing, reporting

interface Example {
  c: Case;
  found: Found;
  where: string;
  sig: string;
  confirmed?: boolean;
  minimized?: Case;
  minFound?: Found;
}

interface Group {
  key: string;
  cmdKey: string;
  kind: string;
  count: number;
  examples: Example[];
}

const MAX_EXAMPLES = 3;

function caseSize(c: Case): number {
  const seedCmds = c.seed.reduce((n, g) => n + g.cmds.length, 0);
  const bytes = c.args.reduce((n, a) => n + a.length, 0) +
    c.seed.reduce((n, g) => n + g.cmds.flat().reduce((m, a) => m + a.length, 0), 0);
  return c.args.length * 1000 + seedCmds * 300 + (c.multi ? 500 : 0) + bytes / 100;
}

/** The option tokens a command line uses: examples of a group differ in them. */
function signature(c: Case, tokens: Set<string>): string {
  return c.args.slice(1).filter((a) => tokens.has(a.toUpperCase())).map((a) => a.toUpperCase())
    .sort().join(",");
}

class Recorder {
  readonly groups = new Map<string, Group>();
  /** Per command: runs, and runs where redis did not answer an error (coverage). */
  readonly stats = new Map<string, { runs: number; ok: number }>();

  count(cmd: string, redisReply: string): void {
    const s = this.stats.get(cmd) ?? { runs: 0, ok: 0 };
    s.runs++;
    if (!isErr(redisReply)) s.ok++;
    this.stats.set(cmd, s);
  }

  add(found: Found, c: Case, where: string, tokens: Set<string>): boolean {
    let g = this.groups.get(found.group);
    const isNew = !g;
    if (!g) {
      g = { key: found.group, cmdKey: found.cmdKey, kind: found.kind, count: 0, examples: [] };
      this.groups.set(found.group, g);
    }
    g.count++;
    const sig = signature(c, tokens);
    const ex: Example = { c, found, where, sig };
    const same = g.examples.findIndex((e) => e.sig === sig);
    if (same >= 0) {
      if (caseSize(c) < caseSize(g.examples[same]!.c)) g.examples[same] = ex;
    } else if (g.examples.length < MAX_EXAMPLES) {
      g.examples.push(ex);
    }
    return isNew;
  }
}

function caseText(c: Case, indent = "    "): string {
  const lines: string[] = [];
  lines.push(`${indent}# RESP${c.proto}${c.multi ? ", inside MULTI/EXEC" : ""}`);
  lines.push(`${indent}FLUSHALL`);
  for (const g of c.seed) for (const cmd of g.cmds) lines.push(indent + cliLine(shorten(cmd)));
  if (c.proto === 3) lines.push(`${indent}HELLO 3`);
  if (c.multi) lines.push(`${indent}MULTI`);
  lines.push(`${indent}${cliLine(c.args)}`);
  if (c.multi) lines.push(`${indent}EXEC`);
  return lines.join("\n");
}

/** Long seed commands (hundreds of members) are shown abbreviated. */
function shorten(cmd: string[]): string[] {
  if (cmd.length <= 24) return cmd;
  return [...cmd.slice(0, 8), `...(${cmd.length - 10} more args)...`, ...cmd.slice(-2)];
}

async function findsGroup(run: Runner, c: Case, group: string): Promise<Found | null> {
  const [r, o] = await run.run(c);
  return compare(c, r, o, run.ctx).find((f) => f.group === group) ?? null;
}

/** Re-runs a case twice; then drops dataset keys, arguments, MULTI while the mismatch stays. */
async function minimize(run: Runner, ex: Example, group: string): Promise<void> {
  let best = ex.c;
  let bestFound: Found | null = null;
  for (let i = 0; i < 2; i++) {
    const f = await findsGroup(run, best, group);
    if (!f) {
      ex.confirmed = false;
      return;
    }
    bestFound = f;
  }
  ex.confirmed = true;
  const tryCase = async (c: Case): Promise<boolean> => {
    const f = await findsGroup(run, c, group);
    if (f) {
      best = c;
      bestFound = f;
      return true;
    }
    return false;
  };
  if (best.multi) await tryCase({ ...best, multi: false });
  if (best.proto === 3) await tryCase({ ...best, proto: 2 });
  for (let i = best.seed.length - 1; i >= 0; i--) {
    await tryCase({ ...best, seed: best.seed.filter((_, j) => j !== i) });
  }
  // Drop arguments (never the command, nor a container's subcommand).
  const keep = run.ctx.containers.has(best.args[0]!.toLowerCase()) ? 2 : 1;
  for (const width of [4, 3, 2, 1]) {
    for (let i = best.args.length - width; i >= keep; i--) {
      if (i + width > best.args.length) continue;
      await tryCase({ ...best, args: best.args.filter((_, j) => j < i || j >= i + width) });
    }
  }
  // Drop the expiry and extra commands of each remaining key.
  for (let gi = 0; gi < best.seed.length; gi++) {
    for (let ci = best.seed[gi]!.cmds.length - 1; ci >= 1; ci--) {
      const seed = best.seed.map((g, j) =>
        j === gi ? { ...g, cmds: g.cmds.filter((_, k) => k !== ci) } : g
      );
      await tryCase({ ...best, seed });
    }
  }
  // Simplify each argument to a plainer one.
  for (let i = keep; i < best.args.length; i++) {
    for (const simpler of ["k1", "a", "1", "0"]) {
      if (best.args[i] === simpler || best.args[i]!.length <= simpler.length) continue;
      const args = [...best.args];
      args[i] = simpler;
      if (await tryCase({ ...best, args })) break;
    }
  }
  ex.minimized = best;
  ex.minFound = bestFound!;
}

/** Orders groups: wrong results and state first, then error text, then the rest. */
function severity(g: Group): number {
  const k = g.kind;
  if (/^state: encoding/.test(k)) return 2;
  if (/^state|connection closed|no reply|server died/.test(k)) return 0;
  if (/^different [\w ]+ value$|^reply type|errors, \w+ does not/.test(k)) return 1;
  if (/^different error/.test(k)) return 3;
  if (/order only|scan summary/.test(k)) return 5;
  return 4;
}

function renderReport(rec: Recorder, opts: Options, runs: number, cmds: string[]): string {
  const groups = [...rec.groups.values()].sort((a, b) =>
    severity(a) - severity(b) || a.cmdKey.localeCompare(b.cmdKey) || a.kind.localeCompare(b.kind)
  );
  const out: string[] = [];
  out.push(`# Argument fuzz: data node vs redis-server`);
  out.push("");
  out.push(
    `seed ${opts.seed}, iterations ${opts.start}..${opts.start + opts.iterations - 1}, ` +
      `protocols ${opts.protos.join("+")}, ${runs} case runs, ${cmds.length} commands, ` +
      `${groups.length} distinct mismatch groups`,
  );
  out.push("");
  for (const g of groups) {
    out.push(`## ${g.cmdKey.toUpperCase()} — ${g.kind}`);
    out.push("");
    out.push(`occurrences: ${g.count}`);
    for (const [i, ex] of g.examples.entries()) {
      const c = ex.minimized ?? ex.c;
      const f = ex.minFound ?? ex.found;
      const status = ex.confirmed === undefined
        ? "not re-run"
        : ex.confirmed
        ? "reproduces"
        : "did NOT reproduce on re-run (likely nondeterministic)";
      out.push("");
      out.push(`### example ${i + 1} (${ex.where}; ${status}${ex.minimized ? ", minimized" : ""})`);
      out.push("");
      out.push("```");
      out.push(caseText(c, ""));
      out.push("```");
      if (f.detail) out.push(`- ${f.detail}`);
      out.push(`- redis: \`${esc(f.redis.slice(0, 1500))}\``);
      out.push(`- ours:  \`${esc(f.ours.slice(0, 1500))}\``);
    }
    out.push("");
  }
  out.push("## Coverage: runs (outside MULTI) per command, and how many redis did not refuse");
  out.push("");
  out.push(
    [...rec.stats].sort(([a], [b]) => a.localeCompare(b))
      .map(([c, s]) => `${c} ${s.ok}/${s.runs}`).join(", "),
  );
  out.push("");
  return out.join("\n");
}

// ---------------------------------------------------------------------------------------------
// Main

async function fetchDocs(port: number): Promise<Map<string, CmdDoc>> {
  const c = await Conn.open(port);
  try {
    await c.call(["HELLO", "3"]);
    const raw = await c.call(["COMMAND", "DOCS"], 30000);
    const n = parseOne(raw);
    const js = n ? toJs(n) : null;
    const docs = new Map<string, CmdDoc>();
    if (js instanceof Map) { for (const [name, v] of js) docs.set(name, parseDoc(name, v)); }
    return docs;
  } finally {
    c.close();
  }
}

async function fetchDumps(t: Target): Promise<string[]> {
  const out: string[] = [];
  const r = seededRandom(12345);
  for (const kind of SEED_KINDS.map(([k]) => k).filter((k) => k !== "none")) {
    await t.ctl.pipeline([["FLUSHALL"], ...seedVariant(r, "d", kind)]);
    const n = parseOne(await t.ctl.call(["DUMP", "d"]));
    if (n?.body !== undefined && n.body.length < 600) out.push(n.body);
  }
  const good = out[0] ?? "";
  out.push(good.slice(0, -1) + String.fromCharCode(good.charCodeAt(good.length - 1) ^ 1));
  out.push(good.slice(0, 5), "\x00\x01", "");
  await t.ctl.call(["FLUSHALL"]);
  return out;
}

function iterationRng(seed: number, i: number): Rng {
  return seededRandom((Math.imul(seed, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b)) | 0);
}

async function main(): Promise<number> {
  const opts = parseOptions(Deno.args);
  const run = new Runner();
  const stopAll = () => {
    run.stop().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", stopAll);
  Deno.addSignalListener("SIGTERM", stopAll);
  try {
    await run.start();
    console.log(`redis-server on ${run.redis.proc.port}, data node on ${run.ours.proc.port}`);
    run.docs = await fetchDocs(run.redis.proc.port);
    const oursList = parseOne(await run.ours.ctl.call(["COMMAND", "LIST"]));
    const ours = new Set((oursList?.kids ?? []).map((k) => (scalar(k) ?? "").toLowerCase()));
    const containers = new Set(
      [...ours].filter((c) => (run.docs.get(c)?.subs.size ?? 0) > 0),
    );
    run.ctx = { ours, containers };
    const implemented = [...ours].filter((c) => !SKIP_COMMANDS.has(c)).sort();
    let cmds = implemented;
    if (opts.commands) {
      const want = new Set<string>();
      for (const w of opts.commands) {
        if (w.startsWith("@")) {
          for (const c of implemented) if (run.docs.get(c)?.group === w.slice(1)) want.add(c);
        } else if (ours.has(w)) want.add(w);
        else console.log(`note: ${w} is not in our COMMAND LIST; skipped`);
      }
      cmds = [...want].filter((c) => !SKIP_COMMANDS.has(c)).sort();
    }
    if (cmds.length === 0) throw new Error("no commands to fuzz");
    console.log(`fuzzing ${cmds.length} commands: ${cmds.join(" ")}`);
    const dumps = await fetchDumps(run.redis);
    const gen = new Generator(run.docs, dumps, implemented);
    const allTokens = new Set<string>();
    for (const d of run.docs.values()) {
      tokensOf(d.args, allTokens);
      for (const s of d.subs.values()) tokensOf(s.args, allTokens);
    }
    const rec = new Recorder();
    const t0 = Date.now();
    let errors = 0;
    for (let i = opts.start; i < opts.start + opts.iterations; i++) {
      const r = iterationRng(opts.seed, i);
      const name = pick(r, cmds);
      const args = gen.command(r, name);
      const seed = genSeed(r, run.docs.get(name)?.group ?? "");
      const multi = chance(r, 0.1);
      for (const proto of opts.protos) {
        const c: Case = { seed, args, multi, proto };
        const where = `seed ${opts.seed} iteration ${i} RESP${proto}`;
        if (opts.verbose) console.log(`${where}: ${cliLine(args)}`);
        let found: Found[];
        try {
          const [ro, oo] = await run.run(c);
          found = compare(c, ro, oo, run.ctx);
          if (!multi) rec.count(name, ro.replies[0] ?? "");
          if (opts.verbose) console.log(`    redis ${esc(ro.replies.join("").slice(0, 200))}`);
        } catch (e) {
          errors++;
          const msg = (e as Error).message;
          found = [{
            group: `${cmdKeyOf(args, containers)} :: harness error`,
            cmdKey: cmdKeyOf(args, containers),
            kind: "harness error",
            detail: msg.slice(0, 300),
            redis: "",
            ours: "",
          }];
        }
        const restarted = (await run.redis.ensure()) || (await run.ours.ensure());
        if (restarted) {
          found.push({
            group: `${cmdKeyOf(args, containers)} :: server died`,
            cmdKey: cmdKeyOf(args, containers),
            kind: "server died",
            detail: "",
            redis: String(run.redis.proc.alive),
            ours: String(run.ours.proc.alive),
          });
        }
        for (const f of found) {
          if (rec.add(f, c, where, allTokens)) {
            console.log(`NEW  ${f.group}\n     ${where}: ${esc(cliLine(args))}`);
          }
        }
      }
      if ((i - opts.start + 1) % 500 === 0) {
        const s = ((Date.now() - t0) / 1000).toFixed(0);
        console.log(`.. ${i - opts.start + 1} iterations, ${rec.groups.size} groups, ${s}s`);
      }
    }
    if (errors) console.log(`${errors} harness errors`);
    if (opts.minimize) {
      console.log(`confirming and minimizing ${rec.groups.size} groups...`);
      for (const g of rec.groups.values()) {
        if (g.kind === "harness error" || g.kind === "server died") continue;
        for (const ex of g.examples) {
          try {
            await minimize(run, ex, g.key);
          } catch (e) {
            console.log(`minimize failed for ${g.key}: ${(e as Error).message}`);
          }
          await run.redis.ensure();
          await run.ours.ensure();
        }
      }
    }
    const report = renderReport(rec, opts, run.runs, cmds);
    console.log(report);
    if (opts.report !== null) {
      await Deno.writeTextFile(opts.report, report);
      console.log(`\nreport written to ${opts.report}`);
    }
    return rec.groups.size > 0 ? 1 : 0;
  } finally {
    Deno.removeSignalListener("SIGINT", stopAll);
    Deno.removeSignalListener("SIGTERM", stopAll);
    await run.stop();
  }
}

if (import.meta.main) {
  const code = await main();
  Deno.exit(code);
}
