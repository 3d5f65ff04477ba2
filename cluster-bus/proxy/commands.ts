/**
 * Where a command's keys are, learnt from a node's COMMAND reply (first key, last key, step,
 * flags; container commands through their subcommands), so that the proxy needs no copy of the
 * data node's command table. Pure.
 */
import { type RespValue } from "../../shared/resp/mod.ts";

export interface CommandSpec {
  /** Lower-case name; `object|encoding` for a subcommand. */
  name: string;
  arity: number;
  flags: Set<string>;
  firstKey: number;
  lastKey: number;
  step: number;
  /** Subcommands by lower-case name (CONFIG, OBJECT, XINFO...). */
  subcommands: Map<string, CommandSpec> | null;
}

export type CommandTable = Map<string, CommandSpec>;

function text(v: RespValue | undefined): string {
  return v === undefined || v === null ? "" : String(v);
}

function parseSpec(v: RespValue): CommandSpec | null {
  if (!Array.isArray(v) || v.length < 6) return null;
  const [name, arity, flags, first, last, step] = v;
  if (typeof arity !== "number" || typeof first !== "number" || typeof last !== "number") {
    return null;
  }
  const spec: CommandSpec = {
    name: text(name).toLowerCase(),
    arity,
    flags: new Set(Array.isArray(flags) ? flags.map((f) => text(f).toLowerCase()) : []),
    firstKey: first,
    lastKey: last,
    step: typeof step === "number" ? step : 1,
    subcommands: null,
  };
  const subs = v[9];
  if (Array.isArray(subs) && subs.length > 0) {
    spec.subcommands = new Map();
    for (const s of subs) {
      const sub = parseSpec(s);
      if (sub) spec.subcommands.set(sub.name.slice(sub.name.indexOf("|") + 1), sub);
    }
  }
  return spec;
}

/** The table of a COMMAND reply (entries that do not parse are left out). */
export function parseCommandTable(reply: RespValue): CommandTable {
  const table: CommandTable = new Map();
  if (!Array.isArray(reply)) return table;
  for (const v of reply) {
    const spec = parseSpec(v);
    if (spec) table.set(spec.name, spec);
  }
  return table;
}

/** The spec that applies to argv: the subcommand's when the command is a container. */
export function lookup(table: CommandTable, argv: readonly string[]): CommandSpec | null {
  const top = table.get((argv[0] ?? "").toLowerCase());
  if (!top) return null;
  if (top.subcommands && argv.length > 1) {
    return top.subcommands.get(argv[1]!.toLowerCase()) ?? top;
  }
  return top;
}

/** argv's arity is acceptable for the spec (negative arity: at least -arity). */
export function arityOk(spec: CommandSpec, argc: number): boolean {
  return spec.arity >= 0 ? argc === spec.arity : argc >= -spec.arity;
}

/**
 * The keys of argv by first/last/step, or "movable" when only the node can tell (flag
 * movablekeys: EVAL, ZUNIONSTORE, XREAD, SORT...).
 */
export function keysOf(spec: CommandSpec, argv: readonly string[]): string[] | "movable" {
  if (spec.flags.has("movablekeys")) return "movable";
  if (spec.firstKey <= 0) return [];
  const last = spec.lastKey < 0 ? argv.length + spec.lastKey : spec.lastKey;
  const step = Math.max(1, spec.step);
  const keys: string[] = [];
  for (let i = spec.firstKey; i <= last && i < argv.length; i += step) keys.push(argv[i]!);
  return keys;
}
