/** MULTI, EXEC, DISCARD, WATCH, UNWATCH: optimistic transactions with check-and-set. */
import type { ClientState, Engine } from "../engine/types.ts";
import { call, lookupCommand } from "../engine/call.ts";
import { discardTransaction, unwatchAll, watchedKeyExpired } from "../engine/transaction.ts";
import { aclDenied } from "../engine/acl_check.ts";
import { cmd } from "./define.ts";
import type { CommandDef } from "./types.ts";

function multi(_s: Engine, c: ClientState): void {
  if (c.multi) {
    c.error("ERR MULTI calls can not be nested");
    return;
  }
  c.multi = [];
  c.multiError = false;
  c.out.ok();
}

function discard(_s: Engine, c: ClientState): void {
  if (!c.multi) {
    c.error("ERR DISCARD without MULTI");
    return;
  }
  discardTransaction(c);
  unwatchAll(c);
  c.out.ok();
}

const EXEC_NOPERM = "NOPERM ACLs rules changed between the moment the transaction was " +
  "accumulated and the EXEC call. This command is no longer allowed for the following reason: ";
const EXEC_DENIAL = {
  command: "no permission to execute the command or subcommand",
  key: "no permission to touch the specified keys",
  channel: "no permission to access one of the channels used as arguments",
};

function exec(s: Engine, c: ClientState): void | Promise<void> {
  const queued = c.multi;
  if (!queued) {
    c.error("ERR EXEC without MULTI");
    return;
  }
  if (c.multiError) {
    discardTransaction(c);
    unwatchAll(c);
    c.error("EXECABORT Transaction discarded because of previous errors.");
    return;
  }
  if (c.dirtyCas || watchedKeyExpired(c)) {
    discardTransaction(c);
    unwatchAll(c);
    c.out.nullArray();
    return;
  }
  // Watched keys are released before running, so the transaction's own writes don't matter.
  unwatchAll(c);
  discardTransaction(c);
  c.out.array(queued.length);
  return runQueued(s, c, queued, 0);
}

/**
 * Runs the queued commands from `from` on. Nearly all complete at once; one that has to wait
 * (MIGRATE's round trip to its target, a script past busy-reply-threshold) makes the rest of
 * the transaction wait for it, so that the replies stay in order. Meanwhile the transaction
 * stays one execution unit (one MULTI/EXEC in the replication stream), and other clients'
 * commands are held, as Redis, which runs MIGRATE blocking, runs nothing else meanwhile.
 */
function runQueued(
  s: Engine,
  c: ClientState,
  queued: readonly { argv: string[] }[],
  from: number,
): void | Promise<void> {
  c.inExec = true;
  s.inExec = true;
  try {
    for (let i = from; i < queued.length; i++) {
      const argv = queued[i]!.argv;
      const def = lookupCommand(s.commands, argv);
      if (typeof def === "string") {
        c.error(def);
        continue;
      }
      // The user's rules may have changed since the command was queued: checked again.
      const denied = aclDenied(s, c, def, argv, "multi");
      if (denied !== null) {
        c.error(EXEC_NOPERM + EXEC_DENIAL[denied]);
        continue;
      }
      // Inside EXEC nothing blocks: blocking commands behave as their non-blocking forms.
      const waiting = call(s, c, def, argv);
      // A queued command's error counts as its own failed call, not as EXEC's.
      c.failed = false;
      if (waiting !== undefined) return waitThenRun(s, c, queued, i + 1, waiting);
    }
  } finally {
    c.inExec = false;
    s.inExec = false;
  }
}

async function waitThenRun(
  s: Engine,
  c: ClientState,
  queued: readonly { argv: string[] }[],
  next: number,
  waiting: Promise<void>,
): Promise<void> {
  const p = s.propagation;
  p.enter();
  // Others wait, unless a pause (CLIENT PAUSE, a shutdown) already decides who runs.
  const held = s.pause === null;
  if (held) s.pause = { untilMs: Infinity, all: true, waiters: [] };
  try {
    await waiting;
    await runQueued(s, c, queued, next);
  } finally {
    if (held) s.unpause();
    p.exit();
    s.wantsFlush(c);
  }
}

function watch(_s: Engine, c: ClientState, argv: string[]): void {
  if (c.multi) {
    c.error("ERR WATCH inside MULTI is not allowed");
    return;
  }
  for (let i = 1; i < argv.length; i++) {
    const key = argv[i]!;
    let keys = c.watching.get(c.db);
    if (!keys) c.watching.set(c.db, keys = new Map());
    if (keys.has(key)) continue;
    const wk = { watcher: c, expired: c.db.keyIsExpired(key) };
    keys.set(key, wk);
    let ws = c.db.watched.get(key);
    if (!ws) c.db.watched.set(key, ws = new Set());
    ws.add(wk);
  }
  c.out.ok();
}

function unwatch(_s: Engine, c: ClientState): void {
  unwatchAll(c);
  c.out.ok();
}

const meta = (summary: string) => ({ summary, since: "1.2.0" });

export const TRANSACTION_COMMANDS: CommandDef[] = [
  cmd(
    "multi",
    1,
    "noscript loading stale fast allow_busy",
    null,
    "transactions",
    multi,
    meta("Starts a transaction."),
  ),
  cmd(
    "exec",
    1,
    "noscript loading stale skip_slowlog",
    null,
    "transactions",
    exec,
    meta("Executes all commands in a transaction."),
  ),
  cmd(
    "discard",
    1,
    "noscript loading stale fast allow_busy",
    null,
    "transactions",
    discard,
    meta("Discards a transaction."),
  ),
  cmd("watch", -2, "noscript loading stale fast allow_busy", [1, -1, 1], "transactions", watch, {
    summary: "Monitors changes to keys to determine the execution of a transaction.",
    since: "2.2.0",
  }),
  cmd("unwatch", 1, "noscript loading stale fast allow_busy", null, "transactions", unwatch, {
    summary: "Forgets about watched keys of a transaction.",
    since: "2.2.0",
  }),
];
