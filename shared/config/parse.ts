/** The redis.conf format: lines of `directive arg...`, quotes and escapes, `include`. */
import { MAX_INCLUDE_DEPTH } from "../limits.ts";

export interface ConfigLine {
  /** Lowercased directive name. */
  name: string;
  args: string[];
  file: string;
  line: number;
  /** The line as written, shown in errors (command lines, whose lines are built). */
  text?: string;
}

/** A bad configuration: where (file and line) and why. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly reason: string,
    readonly text?: string,
  ) {
    const where = line > 0 ? `${file}:${line}` : file;
    super(text === undefined ? `${where}: ${reason}` : `${where}: >>> '${text}': ${reason}`);
  }
}

const ESCAPES: Record<string, string> = { n: "\n", r: "\r", t: "\t", b: "\b", a: "\x07" };

function isHex(c: string | undefined): boolean {
  return c !== undefined && /^[0-9a-fA-F]$/.test(c);
}

function isSpace(c: string | undefined): boolean {
  return c === " " || c === "\n" || c === "\r" || c === "\t" || c === "\v" || c === "\f";
}

/**
 * Splits a line into arguments like Redis's sdssplitargs: whitespace separated; "double quotes"
 * with \n \r \t \b \a \\ \" \xHH escapes; 'single quotes' with only \'. A closing quote must be
 * followed by whitespace or the end. Returns null for unbalanced quotes.
 */
export function splitArgs(line: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  const n = line.length;
  for (;;) {
    while (i < n && isSpace(line[i])) i++;
    // A NUL ends the line, as in C.
    if (i >= n || line[i] === "\0") return out;
    let cur = "";
    let inDq = false, inSq = false;
    for (;;) {
      const c = line[i];
      if (inDq) {
        if (c === undefined) return null;
        if (c === "\\" && line[i + 1] === "x" && isHex(line[i + 2]) && isHex(line[i + 3])) {
          cur += String.fromCharCode(parseInt(line.slice(i + 2, i + 4), 16));
          i += 3;
        } else if (c === "\\" && i + 1 < n) {
          i++;
          cur += ESCAPES[line[i]!] ?? line[i];
        } else if (c === '"') {
          if (i + 1 < n && !isSpace(line[i + 1])) return null;
          inDq = false;
          i++;
          break;
        } else cur += c;
      } else if (inSq) {
        if (c === undefined) return null;
        if (c === "\\" && line[i + 1] === "'") {
          i++;
          cur += "'";
        } else if (c === "'") {
          if (i + 1 < n && !isSpace(line[i + 1])) return null;
          inSq = false;
          i++;
          break;
        } else cur += c;
      } else {
        // An argument ends only at space, tab, CR, LF or NUL (not at other whitespace).
        if (c === undefined || c === " " || c === "\t" || c === "\r" || c === "\n" || c === "\0") {
          break;
        }
        if (c === '"') inDq = true;
        else if (c === "'") inSq = true;
        else cur += c;
      }
      i++;
    }
    out.push(cur);
  }
}

export interface ParseOptions {
  readInclude?: (path: string) => string;
  depth?: number;
}

/** Parses config text; `include` lines are expanded in place. */
export function parseConfigText(text: string, file: string, opts: ParseOptions = {}): ConfigLine[] {
  const read = opts.readInclude ?? ((p: string) => Deno.readTextFileSync(p));
  const depth = opts.depth ?? 0;
  const out: ConfigLine[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === "" || raw.startsWith("#")) continue;
    const args = splitArgs(raw);
    if (args === null) {
      throw new ConfigError(file, i + 1, "Unbalanced quotes in configuration line");
    }
    if (args.length === 0) continue;
    const name = args[0]!.toLowerCase();
    if (name === "include") {
      if (args.length !== 2) {
        throw new ConfigError(file, i + 1, "Bad directive or wrong number of arguments");
      }
      if (depth >= MAX_INCLUDE_DEPTH) {
        throw new ConfigError(file, i + 1, "include nested too deeply");
      }
      let inc: string;
      try {
        inc = read(args[1]!);
      } catch (e) {
        throw new ConfigError(file, i + 1, `can't open included file: ${(e as Error).message}`);
      }
      out.push(...parseConfigText(inc, args[1]!, { readInclude: read, depth: depth + 1 }));
      continue;
    }
    out.push({ name, args: args.slice(1), file, line: i + 1 });
  }
  return out;
}
