/**
 * The named limits of the project in one place (ARCHITECTURE: a limit on everything). Crossing
 * one gives a clear error or a closed connection, never unbounded memory. Protocol limits with
 * Redis's defaults are in resp/limits.ts, beside the codec that applies them.
 */

/** Effects one execution unit holds before it streams them inside its MULTI/EXEC. */
export const MAX_PENDING_EFFECTS = 4096;

/** Open SCAN iterations kept per database (the oldest is dropped past it). */
export const MAX_SCAN_CURSORS = 4096;

/** Distinct error codes INFO errorstats tracks (Redis's ERRORSTATS_LIMIT). */
export const MAX_ERROR_CODES = 128;

/** Nesting of `include` in a config file. */
export const MAX_INCLUDE_DEPTH = 16;

/** The longest delay a timer honours (longer waits are made of capped steps). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Cells of LCS's dynamic-programming table (Redis refuses larger inputs the same way). */
export const MAX_LCS_CELLS = 256 * 1024 * 1024;

/** The smallest replication backlog (Redis raises smaller settings to this). */
export const MIN_BACKLOG_BYTES = 16 * 1024;

/** The longest string value the JavaScript engine holds (just under 512 MB). */
export const MAX_STRING_CHARS = 536870888;

/**
 * Bytes queued on one cluster bus link when cluster-link-sendbuf-limit is 0 (unlimited in Redis):
 * a peer that stops reading costs at most this much before its link is closed and reopened.
 */
export const MAX_BUS_LINK_QUEUE = 64 * 1024 * 1024;
