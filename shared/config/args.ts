/** Command lines the way redis-server takes them: `[config-file] [--directive arg ...]...`. */
import { ConfigError, type ConfigLine } from "./parse.ts";

export interface ServerArgs {
  configFile?: string;
  overrides: ConfigLine[];
  help: boolean;
  version: boolean;
}

export function parseServerArgs(argv: string[]): ServerArgs {
  const r: ServerArgs = { overrides: [], help: false, version: false };
  if (argv[0] === "-h" || argv[0] === "--help") return { ...r, help: true };
  if (argv[0] === "-v" || argv[0] === "--version") return { ...r, version: true };
  let i = 0;
  if (argv.length > 0 && !argv[0]!.startsWith("--")) {
    if (argv[0] === "-") {
      throw new ConfigError("(command line)", 0, "reading the config from stdin is not supported");
    }
    r.configFile = argv[0]!;
    i = 1;
  }
  let cur: ConfigLine | null = null;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    // A "--" token starts a directive; a bare "--" alone is taken as a value, as Redis does.
    if (a.startsWith("--") && a.length > 2) {
      cur = { name: a.slice(2).toLowerCase(), args: [], file: "(command line)", line: i + 1 };
      r.overrides.push(cur);
    } else if (cur) {
      cur.args.push(a);
    } else {
      throw new ConfigError("(command line)", i + 1, `unexpected argument '${a}'`);
    }
  }
  return r;
}
