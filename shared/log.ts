/**
 * Structured logging through LogTape. Each executable calls setupLogging once with its
 * `loglevel` (Redis's names) and optional `logfile`; modules take loggers by category.
 */
import {
  configure,
  getConsoleSink,
  getLogger as ltGetLogger,
  type Logger,
  type LogLevel,
  type LogRecord,
  type Sink,
} from "@logtape/logtape";

export type { Logger };

export function getLogger(category: string[]): Logger {
  return ltGetLogger(["redis-ha", ...category]);
}

/** Redis's loglevel names mapped onto LogTape levels. */
export function levelFromRedis(level: string): LogLevel | null {
  switch (level) {
    case "debug":
      return "debug";
    case "verbose":
      return "info";
    case "notice":
      return "info";
    case "warning":
      return "warning";
    case "nothing":
      return null;
    default:
      return "info";
  }
}

const ROLE_CHAR: Record<string, string> = { "data-node": "M", sentinel: "X", "cluster-bus": "B" };

/** The role letter of log lines when it changes at runtime (a data node: M master, S replica). */
let roleChar: (() => string) | null = null;

export function setLogRoleChar(get: () => string): void {
  roleChar = get;
}

/** One line per record, in the spirit of Redis's log format: `pid:R time level message`. */
function formatRecord(role: string, r: LogRecord): string {
  const t = new Date(r.timestamp).toISOString();
  const mark = r.level === "debug" ? "." : r.level === "info" ? "*" : "#";
  let msg = "";
  for (let i = 0; i < r.message.length; i++) {
    msg += i % 2 === 0 ? String(r.message[i]) : formatValue(r.message[i]);
  }
  return `${Deno.pid}:${roleChar?.() ?? ROLE_CHAR[role] ?? "?"} ${t} ${mark} ${msg}\n`;
}

function formatValue(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v) ?? String(v);
}

function fileSink(path: string, role: string): Sink {
  const enc = new TextEncoder();
  const f = Deno.openSync(path, { create: true, append: true });
  return (r: LogRecord) => {
    f.writeSync(enc.encode(formatRecord(role, r)));
  };
}

/** Every level on stdout, where redis-server writes its whole log when it has no logfile. */
function stdoutSink(role: string): Sink {
  const enc = new TextEncoder();
  return (r: LogRecord) => {
    const bytes = enc.encode(formatRecord(role, r));
    for (let at = 0; at < bytes.length;) at += Deno.stdout.writeSync(bytes.subarray(at));
  };
}

/**
 * Sets up the log sink: the logfile when one is given, else the console (warnings and errors
 * on stderr) or, with `stdout`, stdout for every level as redis-server does.
 */
export async function setupLogging(
  opts: { role: string; level: string; file?: string; stdout?: boolean },
): Promise<void> {
  const lowest = levelFromRedis(opts.level);
  const sink = opts.file
    ? fileSink(opts.file, opts.role)
    : opts.stdout
    ? stdoutSink(opts.role)
    : getConsoleSink({ formatter: (r) => formatRecord(opts.role, r).trimEnd() });
  await configure({
    reset: true,
    sinks: { main: sink },
    loggers: [
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["main"] },
      lowest === null
        ? { category: ["redis-ha"], sinks: [] }
        : { category: ["redis-ha"], lowestLevel: lowest, sinks: ["main"] },
    ],
  });
}
