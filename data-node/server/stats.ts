/** Counters behind INFO stats, commandstats, errorstats and /metrics. */
import { MAX_ERROR_CODES } from "../../shared/limits.ts";
import { type CommandDef, type CommandStat, F_FAST } from "../commands/types.ts";
import { Histogram, LatencyMonitor, SlowLog } from "./latency.ts";

/** Slots of the shared-time arrays kept between batches (a longer batch's are freed). */
const MAX_KEPT_TIMED = 1024;

/** Who ran a command, for its slow log entry. */
export interface CommandCaller {
  addr: string;
  name: string;
}

export class Stats {
  totalConnections = 0;
  rejectedConnections = 0;
  totalCommands = 0;
  netInputBytes = 0;
  netOutputBytes = 0;
  expiredKeys = 0;
  evictedKeys = 0;
  /** Clients closed by client eviction (maxmemory-clients). */
  evictedClients = 0;
  keyspaceHits = 0;
  keyspaceMisses = 0;
  pubsubChannelsPublished = 0;
  totalErrorReplies = 0;
  /** Values Redis would have freed in the background (INFO lazyfreed_objects; store/lazyfree). */
  lazyfreedObjects = 0;
  /** Full syncs served, partial resyncs accepted and refused (INFO stats sync_*). */
  syncFull = 0;
  syncPartialOk = 0;
  syncPartialErr = 0;
  unexpectedErrorReplies = 0;
  /** Socket reads (each a read event, EOF included) and writes (one per write event). */
  totalReads = 0;
  totalWrites = 0;
  readonly commands = new Map<string, CommandStat>();
  readonly slowlog = new SlowLog();
  readonly latency = new LatencyMonitor();
  /** slowlog-log-slower-than in µs (negative: off), slowlog-max-len, kept current by the server. */
  slowlogThreshold = 10000;
  slowlogMaxLen = 128;
  /** latency-monitor-threshold in ms (0: off) and latency-tracking (per-command histograms). */
  latencyThreshold = 0;
  latencyTracking = true;
  /**
   * Fast commands run since the last clock read, with their arguments and callers: time is
   * read once per batch of pipelined fast commands (a clock read costs as much as a fast
   * command) and shared out evenly. Other commands are timed one by one (see `finish`). The
   * arrays are reused from batch to batch (their first `timedCount` slots are this batch's).
   */
  private readonly timed: CommandStat[] = [];
  private readonly timedArgv: (readonly string[] | null)[] = [];
  private readonly timedCaller: (CommandCaller | null)[] = [];
  private timedCount = 0;
  private batchStart = 0;

  /** A command that shares its batch's time: accounted at the next clock read (`settle`). */
  shareTime(stat: CommandStat, argv: readonly string[], caller: CommandCaller): void {
    const i = this.timedCount++;
    this.timed[i] = stat;
    this.timedArgv[i] = argv;
    this.timedCaller[i] = caller;
  }

  startBatch(): void {
    this.dropTimed();
    this.batchStart = performance.now();
  }

  endBatch(): void {
    if (this.timedCount > 0) this.settle(performance.now());
  }

  /**
   * Accounts the fast commands run since the last clock read, sharing out the time since then
   * (`now`, from performance.now()), and starts counting again from `now`. Called before a
   * command timed on its own, so the slow log holds every command before the next one runs.
   */
  settle(now: number): void {
    const n = this.timedCount;
    if (n > 0) {
      const share = (Math.max(0, now - this.batchStart) * 1000) / n;
      if (
        (this.slowlogThreshold >= 0 && share >= this.slowlogThreshold) ||
        (this.latencyThreshold > 0 && share / 1000 >= this.latencyThreshold)
      ) {
        for (let i = 0; i < n; i++) {
          this.finish(this.timed[i]!, this.timedCaller[i]!, this.timedArgv[i]!, share);
        }
      } else {
        // Nothing to log: each run of one command is accounted at once.
        const tracking = this.latencyTracking;
        for (let i = 0; i < n;) {
          const stat = this.timed[i]!;
          let j = i + 1;
          while (j < n && this.timed[j] === stat) j++;
          stat.usec += share * (j - i);
          if (tracking) (stat.hist ??= new Histogram()).recordMany(share * 1000, j - i);
          i = j;
        }
      }
      this.dropTimed();
    }
    this.batchStart = now;
  }

  /** Forgets the accounted commands (their arguments and callers are not kept alive). */
  private dropTimed(): void {
    const n = this.timedCount;
    if (n === 0) return;
    this.timedCount = 0;
    if (n > MAX_KEPT_TIMED) {
      this.timed.length = this.timedArgv.length = this.timedCaller.length = 0;
      return;
    }
    const argv = this.timedArgv, callers = this.timedCaller;
    for (let i = 0; i < n; i++) argv[i] = callers[i] = null;
  }

  /**
   * Accounts one command's duration (µs): INFO commandstats, its latency histogram, the latency
   * monitor's `command` / `fast-command` events and the slow log.
   */
  finish(
    stat: CommandStat,
    caller: CommandCaller,
    argv: readonly string[],
    us: number,
    slowlog = true,
  ): void {
    stat.usec += us;
    if (this.latencyTracking) (stat.hist ??= new Histogram()).record(us * 1000);
    if (this.latencyThreshold > 0 && us / 1000 >= this.latencyThreshold) {
      this.latency.add(
        stat.fast ? "fast-command" : "command",
        Math.floor(us / 1000),
        Math.floor(Date.now() / 1000),
      );
    }
    if (slowlog) this.slowlogPush(stat, caller, argv, us);
  }

  /** Adds a command that ran for `us` µs to the slow log when it is over the threshold. */
  slowlogPush(stat: CommandStat, caller: CommandCaller, argv: readonly string[], us: number): void {
    if (this.slowlogThreshold >= 0 && us >= this.slowlogThreshold && !stat.skipSlowlog) {
      this.slowlog.push(
        argv,
        us,
        Math.floor(Date.now() / 1000),
        caller.addr,
        caller.name,
        this.slowlogMaxLen,
      );
    }
  }
  /** Error replies per code, at most MAX_ERROR_CODES codes, as Redis's ERRORSTATS_LIMIT. */
  readonly errors = new Map<string, number>();

  /** The counters of a command, cached on its definition (no map lookup per call). */
  of(def: CommandDef): CommandStat {
    if (def.statOwner === this) return def.stat!;
    def.stat = this.command(def.name);
    def.stat.fast = (def.bits & F_FAST) !== 0;
    def.statOwner = this;
    return def.stat;
  }

  command(name: string): CommandStat {
    let s = this.commands.get(name);
    if (!s) {
      s = {
        calls: 0,
        usec: 0,
        rejectedCalls: 0,
        failedCalls: 0,
        hist: null,
        fast: false,
        skipSlowlog: name === "exec",
      };
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
      st.hist = null;
    }
    this.errors.clear();
    this.totalConnections = this.rejectedConnections = this.totalCommands = 0;
    this.netInputBytes =
      this.netOutputBytes =
      this.expiredKeys =
      this.evictedKeys =
      this.evictedClients =
        0;
    this.keyspaceHits = this.keyspaceMisses = this.totalErrorReplies = 0;
    this.pubsubChannelsPublished = this.unexpectedErrorReplies = 0;
    this.totalReads = this.totalWrites = 0;
    this.lazyfreedObjects = 0;
    this.replyBufferShrinks = this.replyBufferExpands = 0;
    this.syncFull = this.syncPartialOk = this.syncPartialErr = 0;
  }
  /** Reply buffers resized by the clients cron (INFO stats). */
  replyBufferShrinks = 0;
  replyBufferExpands = 0;
}
