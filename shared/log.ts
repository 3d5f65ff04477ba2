/**
 * Structured logging through LogTape. Each executable calls setupLogging once with its
 * `loglevel` (Redis's names) and optional `logfile`; modules take loggers by category.
 */
import {
  configure,
  getLogger as ltGetLogger,
  type Logger,
  type LogLevel,
  type LogRecord,
  type Sink,
} from "@logtape/logtape";

import { logTime } from "./clock.ts";

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

/** One line per record in Redis's log format: `pid:R dd Mon yyyy hh:mm:ss.mmm level message`. */
function formatRecord(role: string, r: LogRecord): string {
  const t = logTime(r.timestamp);
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

/**
 * Every record on standard output, whatever its level, as Redis logs when `logfile` is empty
 * (a console sink would send warnings and errors to standard error). A closed or broken
 * stdout loses the line, never the process.
 */
function stdoutSink(role: string): Sink {
  const enc = new TextEncoder();
  return (r: LogRecord) => {
    const bytes = enc.encode(formatRecord(role, r));
    try {
      let off = 0;
      while (off < bytes.length) off += Deno.stdout.writeSync(bytes.subarray(off));
    } catch { /* nowhere to log to */ }
  };
}

export async function setupLogging(
  opts: { role: string; level: string; file?: string },
): Promise<void> {
  const lowest = levelFromRedis(opts.level);
  const sink = opts.file ? fileSink(opts.file, opts.role) : stdoutSink(opts.role);
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
