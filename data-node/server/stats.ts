/** Counters behind INFO stats, commandstats, errorstats and /metrics. */
import { MAX_ERROR_CODES } from "../../shared/limits.ts";
import type { CommandDef, CommandStat } from "../commands/types.ts";

export class Stats {
  totalConnections = 0;
  rejectedConnections = 0;
  totalCommands = 0;
  netInputBytes = 0;
  netOutputBytes = 0;
  expiredKeys = 0;
  evictedKeys = 0;
  keyspaceHits = 0;
  keyspaceMisses = 0;
  pubsubChannelsPublished = 0;
  totalErrorReplies = 0;
  /** Full syncs served, partial resyncs accepted and refused (INFO stats sync_*). */
  syncFull = 0;
  syncPartialOk = 0;
  syncPartialErr = 0;
  unexpectedErrorReplies = 0;
  /** Socket reads (each a read event, EOF included) and writes (one per write event). */
  totalReads = 0;
  totalWrites = 0;
  readonly commands = new Map<string, CommandStat>();
  /**
   * Commands run since the last clock read. Time is read once per batch of pipelined commands
   * (a clock read per command costs more than a fast command) and shared out evenly.
   */
  readonly timed: CommandStat[] = [];
  private batchStart = 0;

  startBatch(): void {
    this.timed.length = 0;
    this.batchStart = performance.now();
  }

  endBatch(): void {
    const n = this.timed.length;
    if (n === 0) return;
    const share = ((performance.now() - this.batchStart) * 1000) / n;
    for (const st of this.timed) st.usec += share;
    this.timed.length = 0;
  }
  /** Error replies per code, at most MAX_ERROR_CODES codes, as Redis's ERRORSTATS_LIMIT. */
  readonly errors = new Map<string, number>();

  /** The counters of a command, cached on its definition (no map lookup per call). */
  of(def: CommandDef): CommandStat {
    if (def.statOwner === this) return def.stat!;
    def.stat = this.command(def.name);
    def.statOwner = this;
    return def.stat;
  }

  command(name: string): CommandStat {
    let s = this.commands.get(name);
    if (!s) {
      s = { calls: 0, usec: 0, rejectedCalls: 0, failedCalls: 0 };
      this.commands.set(name, s);
    }
    return s;
  }

  /** Counts one error reply under its code (the first word: ERR, WRONGTYPE...). */
  error(message: string): void {
    this.totalErrorReplies++;
    const sp = message.indexOf(" ");
    const code = sp < 0 ? message : message.slice(0, sp);
    const n = this.errors.get(code);
    if (n !== undefined) this.errors.set(code, n + 1);
    else if (this.errors.size < MAX_ERROR_CODES) this.errors.set(code, 1);
  }

  reset(): void {
    // Zeroed in place: command definitions hold these objects.
    for (const st of this.commands.values()) {
      st.calls =
        st.usec =
        st.rejectedCalls =
        st.failedCalls =
          0;
    }
    this.errors.clear();
    this.totalConnections = this.rejectedConnections = this.totalCommands = 0;
    this.netInputBytes =
      this.netOutputBytes =
      this.expiredKeys =
      this.evictedKeys =
        0;
    this.keyspaceHits = this.keyspaceMisses = this.totalErrorReplies = 0;
    this.pubsubChannelsPublished = this.unexpectedErrorReplies = 0;
    this.totalReads = this.totalWrites = 0;
  }
}
