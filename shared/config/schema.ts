/**
 * A typed configuration schema with Redis's semantics: defaults, validation, aliases,
 * CONFIG GET (glob patterns), atomic CONFIG SET with Redis's error texts, and CONFIG REWRITE
 * that keeps comments and the lines it does not manage.
 */
import { globMatch } from "../glob.ts";
import { ConfigError, type ConfigLine, splitArgs } from "./parse.ts";
import { cstr } from "../cstr.ts";
import { parseI64 } from "../int64.ts";

export { ConfigError };
export type { ConfigLine };

/** How a custom parser is being called (multi-line directives accumulate while loading). */
export interface ParseContext {
  current: unknown;
  /** True for the second and later occurrence of the directive in one load. */
  repeated: boolean;
  loading: boolean;
}

export type ParamType =
  | { kind: "bool" }
  | { kind: "int"; min?: number; max?: number }
  /** `percent`: also takes `N%` (0 to 100), held as -N, as Redis holds it (maxmemory-clients). */
  | { kind: "memory"; min?: number; max?: number; percent?: boolean }
  | { kind: "enum"; values: readonly string[] }
  | { kind: "string" }
  | {
    kind: "custom";
    parse: (args: string[], ctx: ParseContext) => unknown | Error;
    /** Rewrite lines (values only, one per line). */
    format: (v: unknown) => string[];
    /** CONFIG GET value. */
    show: (v: unknown) => string;
  };

export interface ParamDef {
  name: string;
  aliases?: string[];
  type: ParamType;
  /** Default, written as in redis.conf. */
  default: string;
  /** CONFIG SET allowed (default true). */
  mutable?: boolean;
  /** CONFIG SET refused unless enable-protected-configs allows it (dir, dbfilename). */
  protected?: boolean;
  /** Takes several arguments on one line (save 900 1, client-output-buffer-limit ...). */
  multiArg?: boolean;
  /** A reason when this value asks for a feature that is not built yet. */
  notSupported?: (value: unknown) => string | undefined;
  /** Redis's own rule for a value: the reason it is refused (a config file line or CONFIG SET). */
  check?: (value: unknown) => string | undefined;
  sensitive?: boolean;
  /** Left out of CONFIG GET with a pattern (Redis's hidden debugging configs); found by name. */
  hidden?: boolean;
  /** CONFIG SET answers -LOADING while a dataset loads (dir, appendonly, repl-diskless-load). */
  denyLoading?: boolean;
}

/** A refused CONFIG SET / REWRITE; the message is Redis's text after the `-`. */
export class ConfigSetError extends Error {}

const MEM_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1000,
  kb: 1024,
  m: 1000 ** 2,
  mb: 1024 ** 2,
  g: 1000 ** 3,
  gb: 1024 ** 3,
};

const U64 = 2n ** 64n;

/**
 * Redis's memtoull, as CONFIG SET and the config file read memory values: no sign, digits
 * (possibly none, meaning 0) and an optional b/k/kb/m/mb/g/gb unit, case-insensitive. Overflow
 * saturates, the unit multiplies modulo 2^64, and the result is read back as a signed 64-bit
 * value (so an overflowing value fails the bounds check rather than the parse).
 */
export function parseMemory(s: string): number | null {
  const n = parseMemoryExact(s);
  return n === null ? null : Number(n);
}

function parseMemoryExact(s: string): bigint | null {
  const m = /^(\d*)(.*)$/s.exec(s);
  if (!m || s.startsWith("-")) return null;
  const unit = MEM_UNITS[m[2]!.toLowerCase()];
  if (unit === undefined || m[1]!.length >= 128) return null;
  let n = m[1] === "" ? 0n : BigInt(m[1]!);
  if (n >= U64) n = U64 - 1n;
  return BigInt.asIntN(64, (n * BigInt(unit)) % U64);
}

/** The compact form Redis writes memory values in on REWRITE. */
export function formatMemory(n: number): string {
  if (n !== 0 && n % 1024 ** 3 === 0) return `${n / 1024 ** 3}gb`;
  if (n !== 0 && n % 1024 ** 2 === 0) return `${n / 1024 ** 2}mb`;
  if (n !== 0 && n % 1024 === 0) return `${n / 1024}kb`;
  return String(n);
}

const LLONG_MAX = 2n ** 63n - 1n, LLONG_MIN = -(2n ** 63n);

/** A bound as Redis states it: past the safe integers means the C type's limit. */
function bound(b: number | undefined, dflt: bigint): bigint {
  if (b === undefined || !Number.isFinite(b)) return dflt;
  if (b >= Number.MAX_SAFE_INTEGER) return LLONG_MAX;
  if (b <= Number.MIN_SAFE_INTEGER) return LLONG_MIN;
  return BigInt(b);
}

function parseTyped(def: ParamDef, args: string[], ctx: ParseContext): unknown | Error {
  const t = def.type;
  if (t.kind === "custom") return t.parse(args, ctx);
  if (t.kind === "string" && def.multiArg) return args.join(" ");
  if (args.length !== 1) return new Error("wrong number of arguments");
  const v = args[0]!;
  switch (t.kind) {
    case "bool": {
      const l = v.toLowerCase();
      if (l === "yes") return true;
      if (l === "no") return false;
      return new Error("argument must be 'yes' or 'no'");
    }
    case "int":
    case "memory": {
      // Integers take no units; memory values take units but no sign.
      let n: bigint | null;
      if (t.kind === "int") n = parseI64(v);
      else {
        const pct = t.percent && v.length > 1 && v.endsWith("%") ? parseI64(v.slice(0, -1)) : null;
        if (pct !== null && pct >= 0n) {
          if (pct > 100n) return new Error("percentage argument must be less or equal to 100");
          return -Number(pct);
        }
        n = parseMemoryExact(v);
      }
      if (n === null) {
        return new Error(
          t.kind === "int"
            ? "argument couldn't be parsed into an integer"
            : t.percent
            ? "argument must be a memory or percent value"
            : "argument must be a memory value",
        );
      }
      const min = bound(t.min, t.kind === "memory" ? 0n : LLONG_MIN), max = bound(t.max, LLONG_MAX);
      if (n < min || n > max) {
        return new Error(`argument must be between ${min} and ${max} inclusive`);
      }
      return Number(n);
    }
    case "enum": {
      const l = v.toLowerCase();
      if (t.values.includes(l)) return l;
      return new Error(`argument(s) must be one of the following: ${t.values.join(", ")}`);
    }
    case "string":
      return v;
  }
}

function lineError(line: ConfigLine, reason: string): ConfigError {
  return new ConfigError(line.file, line.line, reason, line.text);
}

function show(def: ParamDef, v: unknown): string {
  const t = def.type;
  switch (t.kind) {
    case "bool":
      return v ? "yes" : "no";
    case "custom":
      return t.show(v);
    case "memory":
      return (v as number) < 0 ? `${-(v as number)}%` : String(v);
    default:
      return String(v);
  }
}

/** Values for rewrite lines: one entry per line. */
function formatForFile(def: ParamDef, v: unknown): string[] {
  const t = def.type;
  if (t.kind === "custom") return t.format(v);
  if (t.kind === "memory") return [(v as number) < 0 ? show(def, v) : formatMemory(v as number)];
  if (t.kind === "string") return [quoteIfNeeded(v as string)];
  return [show(def, v)];
}

/** Quotes a value the way Redis's sdscatrepr would when it is not a plain word. */
export function quoteIfNeeded(s: string): string {
  if (s !== "" && /^[\x21-\x7e]+$/.test(s) && !/["'\\]/.test(s)) return s;
  let out = '"';
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    if (ch === "\\" || ch === '"') out += "\\" + ch;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (c < 32 || c > 126) out += "\\x" + c.toString(16).padStart(2, "0");
    else out += ch;
  }
  return out + '"';
}

const REWRITE_SIGNATURE = "# Generated by CONFIG REWRITE";

export class Config {
  configFile?: string;
  private readonly defs = new Map<string, ParamDef>();
  private readonly aliasOf = new Map<string, string>();
  private readonly values = new Map<string, unknown>();
  private readonly userSet = new Set<string>();
  private readonly listeners = new Map<string, ((v: unknown) => void | string)[]>();
  /**
   * Directives kept outside the schema (the data node's `user` lines): CONFIG REWRITE replaces
   * their lines with what the function gives (full lines, the name included).
   */
  readonly rewriteExtra = new Map<string, () => string[]>();

  constructor(defs: ParamDef[]) {
    for (const d of defs) {
      this.defs.set(d.name, d);
      for (const a of d.aliases ?? []) this.aliasOf.set(a, d.name);
      const args = d.multiArg ? splitArgs(d.default) ?? [] : [d.default];
      const v = parseTyped(d, d.multiArg && args.length === 0 ? [""] : args, {
        current: undefined,
        repeated: false,
        loading: true,
      });
      if (v instanceof Error) throw new Error(`bad default for ${d.name}: ${v.message}`);
      this.values.set(d.name, v);
    }
  }

  /** The canonical name for a name or alias (any case), or undefined. */
  canonical(name: string): string | undefined {
    if (this.defs.has(name)) return name;
    const l = name.toLowerCase();
    return this.defs.has(l) ? l : this.aliasOf.get(l);
  }

  /** True for a directive whose value is a secret (shown redacted in logs). */
  isSensitive(name: string): boolean {
    const n = this.canonical(name);
    return n !== undefined && this.defs.get(n)!.sensitive === true;
  }

  /** Applies config file and command line lines, in order; throws ConfigError. */
  load(lines: ConfigLine[]): void {
    const seen = new Set<string>();
    for (const line of lines) {
      const name = this.canonical(line.name);
      const def = name ? this.defs.get(name) : undefined;
      if (!name || !def) {
        throw lineError(line, `Bad directive or wrong number of arguments`);
      }
      if (!def.multiArg && line.args.length !== 1) {
        throw lineError(line, `wrong number of arguments for '${line.name}'`);
      }
      const v = parseTyped(def, line.args, {
        current: this.values.get(name),
        repeated: seen.has(name),
        loading: true,
      });
      if (v instanceof Error) {
        throw lineError(line, `'${line.name}' ${v.message}`);
      }
      const unsupported = def.notSupported?.(v) ?? def.check?.(v);
      if (unsupported) throw lineError(line, unsupported);
      seen.add(name);
      this.values.set(name, v);
      this.userSet.add(name);
    }
  }

  get<T>(name: string): T {
    // Callers name parameters canonically: one map lookup (a value is never undefined).
    const v = this.values.get(name);
    if (v !== undefined) return v as T;
    const n = this.canonical(name);
    if (!n) throw new Error(`unknown config ${name}`);
    return this.values.get(n) as T;
  }

  getString(name: string): string {
    const n = this.canonical(name)!;
    return show(this.defs.get(n)!, this.values.get(n));
  }

  /**
   * Sets a value the server changed itself (REPLICAOF changes `replicaof`, which CONFIG SET may
   * not), so that CONFIG GET and CONFIG REWRITE show it. No change hooks run.
   */
  setInternal(name: string, value: unknown): void {
    const n = this.canonical(name);
    if (!n) throw new Error(`unknown config ${name}`);
    this.values.set(n, value);
    this.userSet.add(n);
  }

  isSetByUser(name: string): boolean {
    const n = this.canonical(name);
    return n !== undefined && this.userSet.has(n);
  }

  /**
   * Called after a CONFIG SET that changes `name` (a value set to what it is calls nothing);
   * returning a string rejects the change, and then the hooks that already ran are called again
   * with the old values, as Redis restores its settings.
   */
  onChange(name: string, fn: (value: unknown) => void | string): void {
    const n = this.canonical(name)!;
    const list = this.listeners.get(n) ?? [];
    list.push(fn);
    this.listeners.set(n, list);
  }

  /** CONFIG GET: every pattern (glob, case-insensitive) over names and aliases, as Redis 7. */
  configGet(patterns: string[]): [string, string][] {
    const out = new Map<string, string>();
    for (const p of patterns) {
      const lp = p.toLowerCase();
      // A name without * ? [ (a backslash included) is looked up directly, as Redis does, and
      // answered under the spelling asked for.
      if (!/[*?[]/.test(p)) {
        const exact = this.canonical(p);
        if (exact !== undefined) out.set(p, this.shown(exact));
        continue;
      }
      for (const [name, def] of this.defs) {
        if (!def.hidden && globMatch(lp, name, true)) out.set(name, this.shown(name));
      }
      for (const [alias, name] of this.aliasOf) {
        if (!this.defs.get(name)!.hidden && globMatch(lp, alias, true)) {
          out.set(alias, this.shown(name));
        }
      }
    }
    return [...out];
  }

  /** CONFIG GET's value; a `show` override lets the owner present live state (dir -> cwd). */
  private shown(name: string): string {
    return this.showOverrides.get(name)?.() ?? this.getString(name);
  }

  private readonly showOverrides = new Map<string, () => string>();

  /** Presents a directive from live state in CONFIG GET (Redis shows `dir` as the cwd). */
  overrideShow(name: string, fn: () => string): void {
    this.showOverrides.set(this.canonical(name)!, fn);
  }

  /** CONFIG SET of one or more pairs: all validated first, then all applied, or none. */
  configSet(pairs: [string, string][], allowProtected = false, loading = false): void {
    // As Redis: first every name is checked (unknown, immutable, protected, repeated; the first
    // problem wins), and only then the values are parsed, in order.
    const fail = (arg: string, why: string) =>
      new ConfigSetError(
        `ERR CONFIG SET failed (possibly related to argument '${cstr(arg)}') - ${why}`,
      );
    const found: [string, ParamDef, string, string][] = [];
    const names = new Set<string>();
    for (const [raw, value] of pairs) {
      const name = this.canonical(raw);
      const def = name ? this.defs.get(name) : undefined;
      if (!name || !def) {
        throw new ConfigSetError(
          `ERR Unknown option or number of arguments for CONFIG SET - '${cstr(raw)}'`,
        );
      }
      if (def.mutable === false) throw fail(raw, "can't set immutable config");
      if (def.protected && !allowProtected) throw fail(raw, "can't set protected config");
      if (loading && def.denyLoading) {
        throw new ConfigSetError("LOADING Redis is loading the dataset in memory");
      }
      if (names.has(name)) throw fail(raw, "duplicate parameter");
      names.add(name);
      found.push([name, def, raw, value]);
    }
    const staged: [string, unknown, unknown][] = [];
    for (const [name, def, raw, value] of found) {
      // A value error names the directive as Redis spells it (the alias used, lower case).
      const named = raw.toLowerCase();
      const args = def.multiArg ? splitArgs(value) ?? [value] : [value];
      const v = parseTyped(def, def.multiArg && args.length === 0 ? [""] : args, {
        current: this.values.get(name),
        repeated: false,
        loading: false,
      });
      if (v instanceof Error) throw fail(named, v.message);
      const unsupported = def.notSupported?.(v) ?? def.check?.(v);
      if (unsupported) throw fail(named, unsupported);
      staged.push([name, v, this.values.get(name)]);
    }
    for (const [name, v] of staged) this.values.set(name, v);
    // Apply hooks; a rejected one rolls every staged value back and re-applies the old values
    // through the hooks that already ran.
    const applied: [string, unknown][] = [];
    for (const [name, v, old] of staged) {
      const def = this.defs.get(name)!;
      if (show(def, v) === show(def, old)) continue;
      for (const fn of this.listeners.get(name) ?? []) {
        const err = fn(v);
        if (typeof err === "string") {
          for (const [n, , prev] of staged) this.values.set(n, prev);
          for (const [n, prev] of applied.reverse()) {
            for (const undo of this.listeners.get(n) ?? []) undo(prev);
          }
          throw new ConfigSetError(
            `ERR CONFIG SET failed (possibly related to argument '${name}') - ${err}`,
          );
        }
      }
      applied.push([name, old]);
    }
    for (const [name] of staged) this.userSet.add(name);
  }

  /** CONFIG REWRITE: rewrites managed lines in place, appends changed ones, keeps the rest. */
  /** Rewrites the file; `forceAll` writes every directive, defaults too (DEBUG's variant). */
  rewrite(path: string, forceAll = false): void {
    if (!path) throw new ConfigSetError("ERR The server is running without a config file");
    let text = "";
    try {
      text = Deno.readTextFileSync(path);
    } catch {
      text = "";
    }
    const lines = text === "" ? [] : text.replace(/\n$/, "").split("\n");
    const out: string[] = [];
    const pending = new Map<string, string[]>();
    for (const [name, def] of this.defs) {
      const v = this.values.get(name);
      pending.set(name, formatForFile(def, v).map((val) => `${name} ${val}`));
    }
    const written = new Set<string>();
    let hasSignature = false;
    for (const line of lines) {
      // The signature stays where it is, so a second rewrite changes nothing.
      if (line.trim() === REWRITE_SIGNATURE) hasSignature = true;
      const args = line.trim().startsWith("#") ? null : splitArgs(line.trim());
      const extra = args && args.length > 0 ? args[0]!.toLowerCase() : "";
      if (this.rewriteExtra.has(extra)) {
        if (!written.has(`\0${extra}`)) out.push(...this.rewriteExtra.get(extra)!());
        written.add(`\0${extra}`);
        continue;
      }
      const name = args && args.length > 0 ? this.canonical(args[0]!) : undefined;
      if (!name) {
        out.push(line);
        continue;
      }
      if (written.has(name)) continue; // later duplicates of a managed directive are dropped
      written.add(name);
      out.push(...pending.get(name)!);
    }
    const appended: string[] = [];
    for (const [name, def] of this.defs) {
      if (written.has(name)) continue;
      if (!forceAll && this.isDefault(name, def)) continue;
      appended.push(...pending.get(name)!);
    }
    for (const [name, lines] of this.rewriteExtra) {
      if (!written.has(`\0${name}`)) appended.push(...lines());
    }
    if (appended.length > 0) {
      if (!hasSignature) out.push(REWRITE_SIGNATURE);
      out.push(...appended);
    }
    const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".";
    const tmp = `${dir}/.redis-conf-rewrite-${Deno.pid}.tmp`;
    Deno.writeTextFileSync(tmp, out.join("\n") + "\n");
    Deno.renameSync(tmp, path);
  }

  private isDefault(name: string, def: ParamDef): boolean {
    const args = def.multiArg ? splitArgs(def.default) ?? [] : [def.default];
    const d = parseTyped(def, def.multiArg && args.length === 0 ? [""] : args, {
      current: undefined,
      repeated: false,
      loading: true,
    });
    return show(def, d) === show(def, this.values.get(name));
  }
}
