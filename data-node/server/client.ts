/** Per-connection state of a data node client. */
import type { User } from "../acl/acl.ts";
import { RequestParser, RespWriter } from "../../shared/resp/mod.ts";
import type { Database, WatchedKey, Watcher } from "../store/database.ts";
import type { ReplicaLink } from "../replication/master.ts";
import type { TrackingState } from "./tracking.ts";
import type { CommandStat } from "../commands/types.ts";

export type ClientKind = "normal" | "replica" | "pubsub" | "master";

export interface QueuedCommand {
  argv: string[];
  /** The command writes (EXEC of a queue with writes is a write: READONLY, NOREPLICAS). */
  writes?: boolean;
}

const DONE = Promise.resolve();
/** Redis's PROTO_REPLY_CHUNK_BYTES and PROTO_REPLY_MIN_BYTES: a reply buffer's largest and
 * smallest size. */
export const REPLY_CHUNK_BYTES = 16 * 1024;
export const REPLY_MIN_BYTES = 1024;

export class Client implements Watcher {
  readonly parser: RequestParser;
  out = new RespWriter();
  private writing: Promise<void> | null = null;

  /** A socket write of this client's replies is in progress. */
  get writePending(): boolean {
    return this.writing !== null;
  }

  name = "";
  libName = "";
  libVer = "";
  user = "default";
  /** The ACL user whose rules this connection runs under; null: no checks (trusted callers). */
  aclUser: User | null = null;
  authenticated: boolean;
  db!: Database;
  readonly createdMs: number;
  lastInteractionMs: number;
  lastCommand = "NULL";
  closing = false;
  /** Close once the pending replies are written (QUIT, protocol error). */
  closeAfterReply = false;

  // Transactions
  multi: QueuedCommand[] | null = null;
  /** True while EXEC runs the queue: blocking commands must not block there. */
  inExec = false;
  multiError = false;
  /** A queued command may grow memory (EXEC is refused over maxmemory then). */
  multiDenyOom = false;
  /** A queued command may not run on stale data (EXEC is refused as MASTERDOWN then). */
  multiDenyStale = false;
  /** A queued command may not run during an async load (REPLICAOF...): EXEC is refused then. */
  multiDenyAsyncLoading = false;
  /** A queued command writes or may replicate (EXEC waits out CLIENT PAUSE WRITE then). */
  multiMayReplicate = false;
  /** WATCHed keys per database, each with its entry in the database's `watched` index. */
  watching = new Map<Database, Map<string, WatchedKey>>();
  dirtyCas = false;

  // Pub/sub
  channels = new Set<string>();
  patterns = new Set<string>();
  shardChannels = new Set<string>();
  monitor = false;
  /** Connected through the Unix socket (`U` in CLIENT LIST). */
  unixSocket = false;
  /** CLIENT TRACKING options while on (server/tracking.ts); null while off. */
  tracking: TrackingState | null = null;

  /** CLIENT REPLY: on, off, or skip (the next command only). */
  replyMode: "on" | "off" | "skip" = "on";
  noEvict = false;
  kind: ClientKind = "normal";
  /**
   * Obeyed without checks (the AOF loader, a replica's master link): no authentication, OOM,
   * MISCONF, pause or read-only refusals; the caller discards its replies.
   */
  trusted = false;
  /** A replica's link (REPLCONF, SYNC/PSYNC), written by the master side, not by flush(). */
  replicaLink: ReplicaLink | null = null;
  /**
   * The running command's arguments as logs show them (MONITOR, SLOWLOG) when some of them are
   * secrets: a copy with those replaced by `(redacted)`. Set through `redact`.
   */
  redactedArgv: string[] | null = null;
  /** ASKING: the next command may use a slot this node imports (cluster mode). */
  asking = false;
  /** READONLY: reads of a replica's master's slots are served here (cluster mode). */
  readonlyCluster = false;
  /** The replication offset right after this client's last propagated write (WAIT). */
  woff = 0;
  /**
   * Set while a command is blocked (BLPOP...): `unblock` wakes it with or without error;
   * `timed` when it has a timeout (INFO's clients_in_timeout_table counts those).
   */
  blocked: { unblock(reason: "timeout" | "error"): void; timed?: boolean } | null = null;
  /** Set while a command waits for CLIENT PAUSE to end (counted as blocked, as in Redis). */
  postponed = false;
  /** The blocked command's slow log entry to be, written when it is served. */
  blockedCall: { stat: CommandStat; argv: readonly string[]; us: number } | null = null;

  constructor(
    readonly id: number,
    readonly conn: Deno.Conn | null,
    readonly addr: string,
    readonly laddr: string,
    readonly fd: number,
    nowMs: number,
    requiresAuth: boolean,
    parserLimits: ConstructorParameters<typeof RequestParser>[0],
  ) {
    this.parser = new RequestParser(parserLimits);
    this.createdMs = nowMs;
    this.lastInteractionMs = nowMs;
    this.authenticated = !requiresAuth;
  }

  get proto(): 2 | 3 {
    return this.out.proto;
  }

  set proto(p: 2 | 3) {
    this.out.proto = p;
    if (this.muted) this.muted.proto = p;
  }

  /** The real output buffer while replies are muted (CLIENT REPLY OFF/SKIP), else null. */
  private muted: RespWriter | null = null;

  /** Replies from now on go to a writer nobody reads, until unmute(). */
  mute(): void {
    if (this.muted) return;
    this.muted = this.out;
    this.out = new RespWriter(256);
    this.out.proto = this.muted.proto;
  }

  unmute(): void {
    if (!this.muted) return;
    this.out = this.muted;
    this.muted = null;
  }

  /** The buffer whose bytes go to the socket. */
  private get sending(): RespWriter {
    return this.muted ?? this.out;
  }

  /**
   * Where pub/sub confirmations and messages go: they reach the client even while its replies
   * are muted (CLIENT REPLY OFF/SKIP), as Redis delivers them.
   */
  get pushOut(): RespWriter {
    return this.sending;
  }

  get subscriptionCount(): number {
    return this.channels.size + this.patterns.size;
  }

  /** RESP2 clients with subscriptions may only send (un)subscribe, PING, QUIT and RESET. */
  get inPubSubContext(): boolean {
    return this.proto === 2 && (this.subscriptionCount > 0 || this.shardChannels.size > 0);
  }

  /** Set by the server: runs before replies are written (the AOF flushes there). */
  beforeWrite: () => void = () => {};
  /** Set by the server: false (and the client is closed) past its output buffer limit. */
  checkOutput: () => boolean = () => true;
  /** When the output first went over the soft limit (0 = it is under). */
  softLimitSinceMs = 0;
  /** Set by the server: counts socket writes (INFO total_writes_processed). */
  onWrite: () => void = () => {};
  /** Set by the server: counts error replies (INFO errorstats). */
  onError: (message: string) => void = () => {};
  /** A command can replace what gets propagated (e.g. SET EX becomes SET PXAT). */
  rewrittenArgv: string[] | null = null;

  /** Shows argument `index` of the running command (`argv`) as `(redacted)` in logs. */
  redact(argv: readonly string[], index: number): void {
    if (index >= argv.length) return;
    (this.redactedArgv ??= argv.slice())[index] = "(redacted)";
  }
  /** The running command goes to the AOF and replicas even if it changed nothing (FLUSHALL). */
  forcePropagation = false;
  /** True once the running command replied with an error (failed_calls). */
  failed = false;

  /** Replies with an error; `message` starts with its code, e.g. `ERR syntax error`. */
  error(message: string): void {
    this.out.error(message);
    this.failed = true;
    this.onError(message);
  }

  markDirty(): void {
    this.dirtyCas = true;
  }

  /** Output bytes waiting, including those in the socket write in progress. */
  get outputPending(): number {
    return this.sending.len;
  }

  /**
   * Sends buffered replies, one socket write at a time. Replies appended while a write is in
   * progress (pub/sub messages, blocked clients served) stay behind the written prefix and
   * leave in the next write, in order.
   */
  /**
   * The reply buffer as Redis 7.0 sizes its per-client one (CLIENT LIST rbs / rbp): its size,
   * and the most of it a batch of replies filled since the peak was last reset. The figures
   * follow this client's real reply batches; the writer itself grows as a batch needs.
   */
  replyBufSize = REPLY_CHUNK_BYTES;
  replyBufPeak = 0;
  replyPeakResetMs = 0;

  flush(): Promise<void> {
    const batch = this.sending.len;
    if (batch > this.replyBufPeak) this.replyBufPeak = Math.min(batch, this.replyBufSize);
    // Writes of this batch reach the AOF before any reply that acknowledges them.
    this.beforeWrite();
    if (this.muted) this.out.reset();
    // A replica gets the sync payload and the stream from its link; a master gets no replies.
    if (this.kind === "replica" || this.kind === "master") {
      this.out.reset();
      return DONE;
    }
    if (!this.checkOutput()) return DONE;
    if (this.writing) return this.writing;
    if (this.sending.len === 0 || this.conn === null) return DONE;
    this.writing = this.drain();
    return this.writing;
  }

  /** The writer and byte count of the socket write in progress (see drain). */
  private drainWriter: RespWriter | null = null;
  private drainLen = 0;

  /**
   * One socket write of everything pending, then again for whatever was appended meanwhile
   * or not taken by a partial write; a plain promise chain, not nested async functions, whose
   * callbacks are made once per client rather than once per write.
   */
  private drain(): Promise<void> {
    const w = this.sending;
    const n = w.len;
    this.drainWriter = w;
    this.drainLen = n;
    this.onWrite();
    // A buffer that grows meanwhile moves, but this view keeps the bytes being written.
    return this.conn!.write(w.head(n)).then(this.written, this.writeFailed);
  }

  private readonly written = (written: number): Promise<void> | undefined => {
    this.drainWriter!.consume(written);
    if (this.sending.len > 0 && !this.closing) return this.drain();
    this.drainWriter = null;
    this.writing = null;
    return undefined;
  };

  private readonly writeFailed = (e: unknown): never => {
    this.drainWriter!.consume(this.drainLen);
    this.drainWriter = null;
    this.writing = null;
    throw e;
  };

  /** Called once, when the client starts closing (a replica's master link, gone at once). */
  onClose: (() => void) | null = null;

  close(): void {
    if (this.closing) return;
    this.closing = true;
    try {
      this.conn?.close();
    } catch {
      // already closed by the peer
    }
    this.onClose?.();
  }
}
