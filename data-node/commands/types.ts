/**
 * The command table is data: arity, flags and key positions drive arity errors, READONLY on
 * replicas, MULTI queueing, COMMAND replies, key extraction for cluster routing and CROSSSLOT.
 */
import type { ClientState, Engine } from "../engine/types.ts";
import type { KeySpec } from "./key_specs.ts";
import { parseI64 } from "../../shared/int64.ts";
import type { Histogram } from "../server/latency.ts";

export type Flag =
  | "write"
  | "readonly"
  | "denyoom"
  | "admin"
  | "pubsub"
  | "noscript"
  | "blocking"
  | "loading"
  | "stale"
  | "skip_monitor"
  | "skip_slowlog"
  | "fast"
  | "no_auth"
  | "may_replicate"
  | "no_multi"
  | "no_async_loading"
  | "allow_busy"
  | "no_mandatory_keys"
  | "movablekeys"
  | "asking";

/**
 * Runs a command. Replies go to `c.out`. A handler returns a Promise only when the client must
 * wait (blocking commands, CLIENT PAUSE); the data itself is always changed synchronously.
 */
export type Handler = (s: Engine, c: ClientState, argv: string[]) => void | Promise<void>;

/** The flags the dispatcher tests on every call, as bits (see CommandDef.bits). */
export const F_WRITE = 1;
export const F_DENYOOM = 2;
export const F_NO_AUTH = 4;
export const F_NO_MULTI = 8;
export const F_MAY_REPLICATE = 16;
export const F_SKIP_MONITOR = 32;
export const F_ADMIN = 64;
export const F_STALE = 128;
export const F_FAST = 256;
/**
 * Timed with its batch (see Stats.shareTime) rather than on its own: fast commands, and the O(1)
 * string writes Redis does not flag fast (a value may be large) but that are as cheap.
 */
export const F_SHARED_TIME = 512;

const FLAG_BITS: Partial<Record<Flag, number>> = {
  write: F_WRITE,
  denyoom: F_DENYOOM,
  no_auth: F_NO_AUTH,
  no_multi: F_NO_MULTI,
  may_replicate: F_MAY_REPLICATE,
  skip_monitor: F_SKIP_MONITOR,
  admin: F_ADMIN,
  stale: F_STALE,
  fast: F_FAST,
};

/** The bit set of a flag list. */
export function flagBits(flags: readonly Flag[]): number {
  let bits = 0;
  for (const f of flags) bits |= FLAG_BITS[f] ?? 0;
  return bits;
}

/** Per-command counters (INFO commandstats), held on the definition itself. */
export interface CommandStat {
  calls: number;
  usec: number;
  rejectedCalls: number;
  failedCalls: number;
  /** Durations for LATENCY HISTOGRAM and INFO latencystats, once the command has run. */
  hist: Histogram | null;
  /** Flagged fast: a slow call is a `fast-command` latency event, not a `command` one. */
  fast: boolean;
  /** Never in the slow log (EXEC: the commands it ran are logged one by one). */
  skipSlowlog: boolean;
}

export interface CommandDef {
  /** Lowercase name; subcommands are named `parent|sub` like Redis's fullname. */
  name: string;
  /** Positive: exact argument count (incl. the name); negative: at least -arity. */
  arity: number;
  flags: Flag[];
  /** F_* bits of `flags`, for the checks made on every call. */
  bits: number;
  /** Counters of this command, created on its first call, and the Stats that owns them. */
  stat?: CommandStat;
  statOwner?: object;
  /** First key index, last key index (-1: last argument, -2: second to last...), step. */
  keys?: [number, number, number];
  /** Redis's key specs (COMMAND INFO, GETKEYSANDFLAGS); see key_specs.ts. */
  keySpecs?: KeySpec[];
  /** Command tips (COMMAND INFO), e.g. `nondeterministic_output`. */
  tips?: string[];
  /** Keys given by a count: [destination key index (0 = none), count index, first key index]. */
  numkeys?: [number, number, number];
  /** ACL categories, without `@`, besides those implied by the flags. */
  acl: string[];
  group: string;
  summary: string;
  since: string;
  complexity: string;
  handler?: Handler;
  subcommands?: CommandDef[];
  /** Key positions found by reading the arguments (GEORADIUS ... STORE, SORT ... STORE). */
  findKeys?: (argv: string[]) => number[];
  /** A protected command (Redis's hidden flag): the directive that allows it. */
  protectedBy?: "enable-debug-command" | "enable-module-command";
}

/** Key positions of a concrete call (for GETKEYS, cluster slots and WATCH-free checks). */
export function commandKeys(def: CommandDef, argv: string[]): number[] {
  if (def.findKeys) return def.findKeys(argv);
  if (def.numkeys) return numkeysKeys(def.numkeys, argv).keys;
  if (def.name === "xread") return xreadKeys(argv, 1);
  if (def.name === "xreadgroup") return xreadKeys(argv, 4);
  if (def.name === "migrate") return migrateKeys(argv);
  const [first, last, step] = def.keys ?? [0, 0, 0];
  if (first === 0) return [];
  const lastIdx = last < 0 ? argv.length + last : last;
  const out: number[] = [];
  for (let i = first; i <= lastIdx && i < argv.length; i += step) out.push(i);
  return out;
}

/**
 * MIGRATE's keys, as Redis's migrateGetKeys finds them: the key argument, or with `""` there the
 * ones after KEYS (none when a key is given too). The options are skipped with their values
 * (AUTH's password, AUTH2's user and password), so a password reading "KEYS" is no keyword.
 */
const MIGRATE_SKIP = new Map([["copy", 0], ["replace", 0], ["auth", 1], ["auth2", 2]]);

function migrateKeys(argv: string[]): number[] {
  const skip = MIGRATE_SKIP;
  for (let i = 6; i < argv.length; i++) {
    const word = argv[i]!.toLowerCase();
    if (word === "keys") {
      if (argv[3] !== "") return [];
      return Array.from({ length: argv.length - i - 1 }, (_, j) => i + 1 + j);
    }
    i += skip.get(word) ?? 0;
  }
  return argv.length > 3 ? [3] : [];
}

/** C's atoi: optional spaces and sign, then as many digits as there are. */
function atoi(s: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(s);
  if (!m) return 0;
  const n = Number(m[1]);
  return Number.isFinite(n) ? Math.max(-2147483648, Math.min(2147483647, n)) : 0;
}

/**
 * Redis 7.0's keys of a command with a numkeys argument (see CommandDef.numkeys). A well-formed
 * count gives its key specs' answer: the destination first, then the keys (`fromSpecs`).
 * Otherwise Redis falls back to the command's own key finder, which reads the count with atoi,
 * gives no keys unless 1 <= count <= what the arguments hold, puts the destination last, and
 * reports no key flags.
 */
export function numkeysKeys(
  proc: [number, number, number],
  argv: string[],
): { keys: number[]; fromSpecs: boolean } {
  const [store, count, first] = proc;
  if (count >= argv.length) return { keys: [], fromSpecs: false };
  // A well-formed numkeys: the key specs' answer (destination first, keys that exist in argv).
  const exact = parseI64(argv[count]!);
  if (exact !== null && exact >= 1n && exact <= argv.length - first) {
    const keys: number[] = store ? [store] : [];
    for (let i = 0; i < exact; i++) keys.push(first + i);
    return { keys, fromSpecs: true };
  }
  // Otherwise Redis falls back to the command's own key finder, which reads numkeys with atoi
  // (and reports no key flags).
  const num = atoi(argv[count]!);
  if (num < 1 || num > argv.length - first) return { keys: [], fromSpecs: false };
  const keys: number[] = [];
  for (let i = 0; i < num; i++) keys.push(first + i);
  if (store) keys.push(store);
  return { keys, fromSpecs: false };
}

/**
 * XREAD / XREADGROUP keys as their key specs find them (Redis prefers the specs): after the
 * first STREAMS at or past argument 1 (XREAD) or 4 (XREADGROUP), half of what follows (rounded
 * down).
 */
function xreadKeys(argv: string[], from: number): number[] {
  let first = -1;
  for (let i = from; i < argv.length; i++) {
    if (argv[i]!.toLowerCase() === "streams") {
      first = i + 1;
      break;
    }
  }
  if (first < 0) return [];
  const n = Math.floor((argv.length - first) / 2);
  return Array.from({ length: n }, (_, j) => first + j);
}
