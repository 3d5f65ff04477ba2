/**
 * Error replies shared by the executables, in Redis 7.0's exact words (the text after the
 * leading `-`; the first word is the error code that INFO errorstats counts).
 */
import { clip128 } from "./cstr.ts";

export const ERR = {
  syntax: "ERR syntax error",
  notInt: "ERR value is not an integer or out of range",
  notFloat: "ERR value is not a valid float",
  wrongType: "WRONGTYPE Operation against a key holding the wrong kind of value",
  overflow: "ERR increment or decrement would overflow",
  noSuchKey: "ERR no such key",
  dbIndex: "ERR DB index is out of range",
  noAuth: "NOAUTH Authentication required.",
  oom: "OOM command not allowed when used memory > 'maxmemory'.",
  notInMulti: "ERR Command not allowed inside a transaction",
} as const;

export const MISCONF = "MISCONF Redis is configured to save RDB snapshots, but it's currently " +
  "unable to persist to disk. Commands that may modify the data set are disabled, because this " +
  "instance is configured to report errors during writes if RDB snapshotting fails " +
  "(stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB " +
  "error.";

/** Wrong argument count; `name` is the command's full lower-case name (`config|get`). */
export function wrongArity(name: string): string {
  return `ERR wrong number of arguments for '${name}' command`;
}

/** Redis shows at most 128 bytes of the name and a short preview of the arguments. */
export function unknownCommand(argv: string[]): string {
  let args = "";
  for (let i = 1; i < argv.length && args.length < 128; i++) {
    args += `'${clip128(argv[i]!).slice(0, 128 - args.length)}' `;
  }
  return `ERR unknown command '${clip128(argv[0]!)}', with args beginning with: ${args}`;
}

/** CONFIG SET port / admin-port when the new port cannot be listened on (Redis's reason). */
export const LISTEN_FAILED = "Unable to listen on this port. Check server logs.";
/** CONFIG SET bind / admin-bind when an address cannot be bound (Redis's reason). */
export const BIND_FAILED = "Failed to bind to specified addresses.";
