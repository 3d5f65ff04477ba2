/** Command lines the way redis-server takes them: `[config-file] [--directive arg ...]...`. */
import { ConfigError, type ConfigLine, splitArgs } from "./parse.ts";

export interface ServerArgs {
  configFile?: string;
  overrides: ConfigLine[];
  help: boolean;
  version: boolean;
}

const FILE = "(command line)";

/** An argument as a config line shows it: double-quoted, with C escapes (Redis's sdscatrepr). */
export function quoteArg(a: string): string {
  let out = '"';
  for (const ch of a) {
    const code = ch.charCodeAt(0);
    if (ch === "\\" || ch === '"') out += `\\${ch}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\x07") out += "\\a";
    else if (ch === "\b") out += "\\b";
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return out + '"';
}

/**
 * The directives of a command line, as redis-server 7.0 builds them: an argument starting with
 * `--` opens a directive (it may carry its values too: `"--port 7000"`); the arguments after it
 * are its values, the first one taken even when it starts with `--` (`--title --my--title`).
 * A bare `--save` before another directive or at the end means `--save ""`. Arguments before
 * the first directive belong to a directive they name themselves (`loglevel verbose`).
 */
export function parseServerArgs(argv: string[]): ServerArgs {
  const r: ServerArgs = { overrides: [], help: false, version: false };
  if (argv[0] === "-h" || argv[0] === "--help") return { ...r, help: true };
  if (argv[0] === "-v" || argv[0] === "--version") return { ...r, version: true };
  let i = 0;
  if (argv.length > 0 && !argv[0]!.startsWith("-")) {
    r.configFile = argv[0]!;
    i = 1;
  }
  const texts: string[] = [];
  let cur = "";
  let started = false;
  let valueTaken = true;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "-" && (i === 0 || i === argv.length - 1)) {
      throw new ConfigError(FILE, 0, "reading the config from stdin is not supported");
    }
    if (valueTaken && a.startsWith("--")) {
      if (started) texts.push(cur);
      started = true;
      cur = a.slice(2) + " ";
      const words = splitArgs(a);
      if (words !== null && words.length === 1) {
        valueTaken = false;
        const last = i === argv.length - 1;
        const nextIsDirective = !last && argv[i + 1]!.startsWith("--");
        const name = a.toLowerCase();
        if (name === "--save" && (nextIsDirective || last)) {
          cur += '""';
          valueTaken = true;
        } else if (name === "--sentinel" && nextIsDirective) valueTaken = true;
      } else valueTaken = true;
    } else {
      started = true;
      cur += quoteArg(a) + " ";
      valueTaken = true;
    }
  }
  if (started) texts.push(cur);
  texts.forEach((raw, n) => {
    const text = raw.trim();
    const words = splitArgs(text);
    if (words === null) {
      throw new ConfigError(FILE, n + 1, "Unbalanced quotes in configuration line", text);
    }
    if (words.length === 0) return;
    r.overrides.push({
      name: words[0]!.toLowerCase(),
      args: words.slice(1),
      file: FILE,
      line: n + 1,
      text,
    });
  });
  return r;
}
