/**
 * The command table is data: arity, flags and key positions drive arity errors, READONLY on
 * replicas, MULTI queueing, COMMAND replies, key extraction for cluster routing and CROSSSLOT.
 */
import type { Client } from "../server/client.ts";
import type { Server } from "../server/server.ts";
import type { KeySpec } from "./key_specs.ts";

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
  | "movablekeys";

/**
 * Runs a command. Replies go to `c.out`. A handler returns a Promise only when the client must
 * wait (blocking commands, CLIENT PAUSE); the data itself is always changed synchronously.
 */
export type Handler = (s: Server, c: Client, argv: string[]) => void | Promise<void>;

export interface CommandDef {
  /** Lowercase name; subcommands are named `parent|sub` like Redis's fullname. */
  name: string;
  /** Positive: exact argument count (incl. the name); negative: at least -arity. */
  arity: number;
  flags: Flag[];
  /** First key index, last key index (-1: last argument, -2: second to last...), step. */
  keys?: [number, number, number];
  /** Redis's key specs (COMMAND INFO, GETKEYSANDFLAGS); see key_specs.ts. */
  keySpecs?: KeySpec[];
  /** Command tips (COMMAND INFO), e.g. `nondeterministic_output`. */
  tips?: string[];
  /** For movable-keys commands: the key indexes of a concrete call. */
  getKeys?: (argv: string[]) => number[];
  /** ACL categories, without `@`, besides those implied by the flags. */
  acl: string[];
  group: string;
  summary: string;
  since: string;
  complexity: string;
  handler?: Handler;
  subcommands?: CommandDef[];
}

/** Key positions of a concrete call (for GETKEYS, cluster slots and WATCH-free checks). */
export function commandKeys(def: CommandDef, argv: string[]): number[] {
  if (def.getKeys) return def.getKeys(argv);
  const [first, last, step] = def.keys ?? [0, 0, 0];
  if (first === 0) return [];
  const lastIdx = last < 0 ? argv.length + last : last;
  const out: number[] = [];
  for (let i = first; i <= lastIdx && i < argv.length; i += step) out.push(i);
  return out;
}
