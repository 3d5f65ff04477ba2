/**
 * The replica's side of replication: the link to the master, as an I/O shell around the pure
 * handshake (handshake.ts), Redis's states as ROLE shows them:
 *
 *   connect -> connecting -> handshake -> sync -> connected
 *
 * `connect` waits for the next attempt (one a second, from the cron); `connecting` opens the
 * socket; `handshake` runs PING/AUTH/REPLCONF/PSYNC; `sync` receives a full sync's RDB; and
 * `connected` applies the master's stream. Every wait is bounded by `repl-timeout`.
 *
 * The RDB of a full sync is loaded as it arrives, a chunk per read, into databases of its own
 * that replace the served ones only once the load is complete, and a failed transfer leaves the
 * dataset as it was. Meanwhile clients see what Redis 7.0 shows them (see loadMode): the old
 * data, or -LOADING during a diskless load of another history. With `repl-diskless-load
 * disabled` (the default) the bytes are also written to `dbfilename`, as Redis keeps the RDB it
 * received.
 *
 * The master's commands run on a trusted client (no checks, replies dropped, keys seen as the
 * master sees them). The bytes it applied are fed, verbatim, to this node's own replication
 * stream, so its replicas (chained replication) get the top master's stream with the same
 * replication ID and offsets.
 */
import { getLogger } from "../../shared/log.ts";
import { connectFrom } from "./bound_connect.ts";
import { replaceWithRdbLibraries } from "../scripting/rdb_functions.ts";
import { encodeCommand, ProtocolError, RespWriter } from "../../shared/resp/mod.ts";
import type { Server } from "../server/server.ts";
import type { Client } from "../server/client.ts";
import { pausedFor, processCommand } from "../server/dispatch.ts";
import { lookupCommand } from "../engine/call.ts";
import { Database } from "../store/database.ts";
import { RdbReader } from "../persistence/rdb_reader.ts";
import { keyLoader } from "../persistence/snapshot.ts";
import {
  advance,
  EOF_MARK_LEN,
  type HandshakeOptions,
  parsePreamble,
  type Preamble,
  type PsyncOutcome,
  psyncOutcome,
  start,
} from "./handshake.ts";

const log = getLogger(["data-node", "replication"]);

export type LinkState = "connect" | "connecting" | "handshake" | "sync" | "connected";

/** Longest line accepted from a master before the stream (a reply, a preamble). */
const MAX_LINE = 64 * 1024;
const READ_BYTES = 64 * 1024;

class LinkClosed extends Error {}

/** Buffered reads of the master's socket: lines for the handshake, chunks for the payload. */
class LinkReader {
  private buf = new Uint8Array(READ_BYTES);
  private start = 0;
  private end = 0;

  constructor(private readonly conn: Deno.Conn, private readonly onRead: (n: number) => void) {}

  private async fill(): Promise<void> {
    if (this.start === this.end) this.start = this.end = 0;
    if (this.end === this.buf.length) {
      const live = this.end - this.start;
      const next = new Uint8Array(
        live + READ_BYTES > this.buf.length ? this.buf.length * 2 : this.buf.length,
      );
      next.set(this.buf.subarray(this.start, this.end));
      this.buf = next;
      this.start = 0;
      this.end = live;
    }
    const n = await this.conn.read(this.buf.subarray(this.end));
    if (n === null) throw new LinkClosed("connection closed by the master");
    this.end += n;
    this.onRead(n);
  }

  /** The next line, without its CRLF or LF. */
  async line(): Promise<string> {
    for (;;) {
      const i = this.buf.subarray(this.start, this.end).indexOf(10);
      if (i >= 0) {
        let stop = this.start + i;
        if (stop > this.start && this.buf[stop - 1] === 13) stop--;
        const s = new TextDecoder("latin1").decode(this.buf.subarray(this.start, stop));
        this.start += i + 1;
        return s;
      }
      if (this.end - this.start > MAX_LINE) throw new Error("line from the master too long");
      await this.fill();
    }
  }

  /** Up to `max` bytes: what is buffered, or one read's worth. */
  async chunk(max: number): Promise<Uint8Array> {
    if (this.start === this.end) await this.fill();
    const n = Math.min(max, this.end - this.start);
    const out = this.buf.slice(this.start, this.start + n);
    this.start += n;
    return out;
  }

  /** Puts bytes back in front (a chunk read past the payload's end). */
  unread(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const rest = this.buf.slice(this.start, this.end);
    const next = new Uint8Array(Math.max(READ_BYTES, bytes.length + rest.length));
    next.set(bytes);
    next.set(rest, bytes.length);
    this.buf = next;
    this.start = 0;
    this.end = bytes.length + rest.length;
  }

  /** Whatever is buffered, taken out. */
  rest(): Uint8Array {
    const out = this.buf.slice(this.start, this.end);
    this.start = this.end = 0;
    return out;
  }
}

/** What a replica keeps of its master to continue with PSYNC: replid and offset, and its db. */
export interface CachedMaster {
  replId: string;
  offset: number;
  db: number;
}

export class ReplicaSide {
  host = "";
  port = 0;
  state: LinkState = "connect";
  /** The master's client while connected. */
  master: Client | null = null;
  cached: CachedMaster | null = null;
  private conn: Deno.Conn | null = null;
  /** Bumped by every start/stop: an attempt that sees another generation gives up. */
  private generation = 0;
  lastIoMs = 0;
  /** When the link went down (master_link_down_since_seconds), 0 while never up. */
  downSinceMs = 0;
  /** A full sync's transfer: the payload size (-1 when unknown) and bytes read so far. */
  transfer = { size: -1, read: 0, lastIoMs: 0 };
  private ackChain: Promise<void> = Promise.resolve();
  /** The next PSYNC is a FAILOVER's (it asks the target to take over as master). */
  failoverPsync = false;
  /** Bytes read from the master in the stream (total_net_repl_input_bytes). */
  replIn = 0;

  constructor(private readonly s: Server) {}

  get active(): boolean {
    return this.host !== "";
  }

  /** REPLICAOF host port: (re)starts the link. */
  start(host: string, port: number): void {
    this.stop();
    this.host = host;
    this.port = port;
    this.state = "connect";
    this.downSinceMs = this.s.clock.nowMs();
    log.info("Connecting to MASTER {host}:{port}", { host, port });
    void this.attempt();
  }

  /** Ends the link (REPLICAOF NO ONE, or before another master); keeps nothing running. */
  stop(): void {
    this.generation++;
    if (this.master) {
      const m = this.master;
      this.master = null;
      this.s.freeClient(m);
    }
    this.closeConn();
    this.host = "";
    this.port = 0;
    this.state = "connect";
  }

  private closeConn(): void {
    try {
      this.conn?.close();
    } catch { /* already closed */ }
    this.conn = null;
  }

  /** The offset this replica has applied (its master_repl_offset). */
  get offset(): number {
    // Applied commands count even before their bytes reach this node's stream.
    return this.s.replOffset + this.unproxied;
  }

  /** The master refused SYNC on an RDB channel (an ACL user without it): not asked again. */
  private rdbChannelDenied = false;

  private options(): HandshakeOptions {
    const cfg = this.s.config;
    const pass = cfg.getString("masterauth");
    const announcedPort = cfg.get<number>("replica-announce-port");
    return {
      auth: pass ? { user: cfg.getString("masteruser"), pass } : null,
      listeningPort: announcedPort || this.s.boundPort(),
      announceIp: cfg.getString("replica-announce-ip"),
      cached: this.cached,
      failover: this.failoverPsync,
      rdbChannel: cfg.get<boolean>("repl-rdb-channel") && !this.rdbChannelDenied,
    };
  }

  /** One connection attempt: connect, handshake, sync, then the stream until it ends. */
  private async attempt(): Promise<void> {
    const gen = this.generation;
    const alive = () => gen === this.generation;
    this.state = "connecting";
    this.lastIoMs = this.s.clock.nowMs();
    let conn: Deno.Conn;
    try {
      conn = await connectFrom(this.host, this.port, this.s.config.getString("bind-source-addr"));
    } catch (e) {
      if (alive()) {
        log.warn("Error condition on socket for SYNC: {err}", { err: (e as Error).message });
        this.state = "connect";
      }
      return;
    }
    if (!alive()) {
      conn.close();
      return;
    }
    try {
      (conn as Deno.TcpConn).setNoDelay(!this.s.config.get<boolean>("repl-disable-tcp-nodelay"));
      (conn as Deno.TcpConn).setKeepAlive(true);
    } catch { /* not TCP */ }
    this.conn = conn;
    log.info("MASTER <-> REPLICA sync started");
    const reader = new LinkReader(conn, (n) => {
      this.lastIoMs = this.s.clock.nowMs();
      this.s.stats.netInputBytes += n;
    });
    try {
      this.state = "handshake";
      const outcome = await this.handshake(conn, reader, alive);
      if (this.failoverPsync && outcome !== null && alive()) {
        const accepted = outcome.kind !== "retry" && outcome.kind !== "nopsync";
        if (!accepted) log.warn("{reason}", { reason: outcome.reason });
        this.s.replication.failoverPsyncDone(accepted);
      }
      if (outcome === null || !alive()) return this.abort(gen);
      if (outcome.kind === "retry" || outcome.kind === "nopsync") {
        log.warn("{reason}", { reason: outcome.reason });
        return this.abort(gen);
      }
      if (outcome.kind === "rdbchannel") {
        // The stream arrives here while the RDB loads from the second connection.
        if (!(await this.rdbChannelSync(reader, outcome.clientId, alive))) {
          return this.abort(gen);
        }
        return;
      }
      if (outcome.kind === "continue") {
        this.continueFrom(outcome.replId);
      } else {
        if (!(await this.fullSync(reader, outcome, alive))) return this.abort(gen);
      }
      if (!alive()) return;
      await this.stream(conn, reader, alive);
    } catch (e) {
      if (alive()) {
        if (!(e instanceof LinkClosed) && !(e instanceof Deno.errors.BadResource)) {
          log.warn("Error on the link with the MASTER: {err}", { err: String(e) });
        }
        this.linkLost();
      }
    }
  }

  /** Ends a failed attempt: the cron tries again in a second. */
  private abort(gen: number): void {
    if (gen !== this.generation) return;
    this.closeConn();
    this.state = "connect";
  }

  private async handshake(
    conn: Deno.Conn,
    reader: LinkReader,
    alive: () => boolean,
  ): Promise<PsyncOutcome | null> {
    const o = this.options();
    let step = start();
    await writeAll(conn, encodeCommands(step.send));
    for (;;) {
      const line = await reader.line();
      if (!alive()) return null;
      // Keepalive newlines come while the master prepares the sync.
      if (line === "") continue;
      const next = advance(step.state, o, line);
      if ("error" in next) {
        log.warn("{err}", { err: next.error });
        return null;
      }
      if ("done" in next) {
        for (const w of next.warnings) log.info("{w}", { w });
        return next.done;
      }
      step = next;
      if (next.send.length > 0) await writeAll(conn, encodeCommands(next.send));
    }
  }

  /** +CONTINUE: the stream goes on where this replica is; a new master ID becomes ours. */
  private continueFrom(newId: string | null): void {
    const s = this.s;
    const cached = this.cached ?? { replId: s.replId, offset: s.replOffset, db: 0 };
    log.info("Successful partial resynchronization with master.");
    if (newId !== null && newId !== cached.replId) {
      s.replId2 = cached.replId;
      s.secondReplOffset = cached.offset + 1;
      s.replId = newId;
      log.info("Master replication ID changed to {id}", { id: newId });
      // Our replicas must learn the new ID: they reconnect (and continue, thanks to replid2).
      s.replication.master.disconnectAll();
    }
    s.ensureReplicaStream();
    this.connected(cached.db);
  }

  /** Receives and loads a full sync's RDB; false when the transfer failed. */
  private async fullSync(
    reader: LinkReader,
    outcome: { replId: string; offset: number },
    alive: () => boolean,
  ): Promise<boolean> {
    const s = this.s;
    log.info("Full resync from master: {id}:{off}", { id: outcome.replId, off: outcome.offset });
    // What we have stays what a later PSYNC continues from until the new dataset is in: a
    // transfer that fails leaves us able to resync partially with the master we had.
    this.state = "sync";
    let line = "";
    while (line === "") line = await reader.line();
    const pre = parsePreamble(line);
    if (pre.kind === "error") {
      log.warn("{reason}", { reason: pre.reason });
      return false;
    }
    this.transfer = {
      size: pre.kind === "length" ? pre.length : -1,
      read: 0,
      lastIoMs: s.clock.nowMs(),
    };
    const mode = loadMode(
      s.config.getString("repl-diskless-load"),
      s.dbs.every((db) => db.size === 0),
      s.replId === outcome.replId,
    );
    const to = mode === "disk" ? "disk" : "parser";
    log.info("MASTER <-> REPLICA sync: receiving {what}", {
      what: pre.kind === "length"
        ? `${pre.length} bytes from master to ${to}`
        : `streamed RDB from master with EOF to ${to}`,
    });
    // Loaded as it arrives, into databases of its own (Redis's line, for who watches the log).
    log.info("MASTER <-> REPLICA sync: Loading DB in memory");
    const staging = s.dbs.map((db) => new Database(db.id, s.hooks, { cluster: s.clusterEnabled }));
    const file = mode === "disk" ? await openTemp() : null;
    this.enterLoading(mode, this.transfer.size);
    try {
      return await this.loadPayload(reader, outcome, alive, pre, staging, file, mode);
    } finally {
      this.leaveLoading(mode);
    }
  }

  /**
   * What clients see while the payload loads, as Redis 7.0 shows a diskless load: `sync` refuses
   * what may not run during a load (-LOADING, INFO loading:1), `async` serves the old dataset
   * but refuses what may not run during an async load (INFO async_loading:1). A load through a
   * file (`disk`) is one step after the transfer in Redis, with the old dataset served until
   * then; here the keys are read as the bytes arrive, and what remains of that step after the
   * transfer (key-load-delay's pace) is a blocking load (see diskLoadPhase).
   */
  private enterLoading(mode: LoadMode, size: number): void {
    const s = this.s;
    if (mode === "disk") return;
    if (mode === "sync") s.loading = true;
    else s.asyncLoading = true;
    s.trackLoading(Math.max(size, 0));
  }

  /** Undoes enterLoading (a load through a file set nothing). */
  private leaveLoading(mode: LoadMode): void {
    const s = this.s;
    if (mode === "disk") return;
    if (mode === "sync") s.loading = false;
    else s.asyncLoading = false;
    s.loadingProgress = null;
  }

  private async loadPayload(
    reader: LinkReader,
    outcome: { replId: string; offset: number },
    alive: () => boolean,
    pre: Exclude<Preamble, { kind: "error" }>,
    staging: Database[],
    file: TempFile | null,
    mode: LoadMode,
  ): Promise<boolean> {
    const s = this.s;
    const loadStart = performance.now();
    const transfer = this.transfer!;
    const load = keyLoader(s, staging, false);
    const rdb = new RdbReader(load);
    rdb.onResize = load.resize;
    // key-load-delay (microseconds per key, Redis's testing setting) slows the load down, as it
    // does a startup load: other events (the cluster bus) run meanwhile. Through a file, the load
    // comes after the transfer (diskLoadPhase).
    let paced = 0;
    const pace = async () => {
      if (mode === "disk") return;
      const us = s.config.get<number>("key-load-delay");
      const keys = load.loaded - paced;
      paced = load.loaded;
      if (us <= 0 || keys <= 0) return;
      await new Promise((r) => setTimeout(r, Math.min((keys * us) / 1000, 60_000)));
    };
    try {
      if (pre.kind === "length") {
        let left = pre.length;
        while (left > 0) {
          const chunk = await reader.chunk(Math.min(left, READ_BYTES));
          if (!alive()) throw new LinkClosed("replaced");
          transfer.read += chunk.length;
          transfer.lastIoMs = s.clock.nowMs();
          if (s.loadingProgress !== null) s.loadingProgress.loadedBytes = transfer.read;
          if (!rdb.done) rdb.feed(chunk);
          if (file) await file.write(chunk);
          left -= chunk.length;
          await pace();
        }
      } else {
        for (;;) {
          const chunk = await reader.chunk(READ_BYTES);
          if (!alive()) throw new LinkClosed("replaced");
          transfer.read += chunk.length;
          transfer.lastIoMs = s.clock.nowMs();
          if (s.loadingProgress !== null) s.loadingProgress.loadedBytes = transfer.read;
          const r = rdb.feed(chunk);
          if (file) await file.write(chunk.subarray(0, r.used));
          await pace();
          if (r.done) {
            reader.unread(chunk.subarray(r.used));
            break;
          }
        }
        let mark = "";
        while (mark.length < EOF_MARK_LEN) {
          const c = await reader.chunk(EOF_MARK_LEN - mark.length);
          mark += new TextDecoder("latin1").decode(c);
        }
        if (mark !== pre.mark) throw new Error("the EOF mark of the transfer does not match");
      }
      rdb.end();
      await file?.flush();
      if (mode === "disk") await this.diskLoadPhase(load.loaded, transfer.read, alive);
    } catch (e) {
      for (const db of staging) db.clear();
      file?.discard();
      if (e instanceof LinkClosed) {
        log.warn("I/O error trying to sync with MASTER: connection lost");
      } else {
        log.warn("Failed trying to load the MASTER synchronization DB from socket: {err}", {
          err: String(e),
        });
      }
      return false;
    }
    if (!alive()) {
      file?.discard();
      return false;
    }
    // What our replicas had no longer follows from the new dataset: they resync with us (kept
    // until now, as Redis keeps them through the transfer).
    s.replication.master.disconnectAll();
    // The new dataset replaces the old one at once (clients keep their database index).
    for (let i = 0; i < s.dbs.length; i++) {
      s.dbs[i]!.snapshot = null;
      s.dbs[i]!.swapWith(staging[i]!);
      s.dbs[i]!.recount();
      staging[i]!.clear();
    }
    // Clients caching keys of the old dataset drop everything, as after a flush.
    s.tracking.flushed();
    s.replicaKeysWithExpire.clear();
    const libs = replaceWithRdbLibraries(s.scripting, rdb.contents.functions);
    if (libs) log.warn("MASTER <-> REPLICA sync: {err}", { err: libs });
    if (file) await file.keepAs(s.config.getString("dbfilename"));
    s.dirty++;
    log.info("MASTER <-> REPLICA sync: Finished with success ({secs} seconds)", {
      secs: ((performance.now() - loadStart) / 1000).toFixed(3),
    });
    s.replId = outcome.replId;
    s.clearReplicationId2();
    s.replOffset = outcome.offset;
    s.ensureReplicaStream();
    s.replStream!.offset = outcome.offset;
    this.connected(0);
    // The first ACK tells a master that sent a diskless payload that the stream can start.
    this.sendAck();
    // The AOF described the old dataset: it is rewritten from the new one, as Redis does.
    if (s.aof?.enabled) void s.aof.rewrite();
    return true;
  }

  /**
   * The blocking load that follows a transfer through a file, as Redis runs it: INFO loading:1
   * and -LOADING for the commands that may not run during a load, and the cluster sees the node
   * as loading. The keys are in already, so the phase lasts only as long as key-load-delay
   * (re-read as it goes, as Redis reads it per key) makes the load of `keys` keys last.
   */
  private async diskLoadPhase(keys: number, bytes: number, alive: () => boolean): Promise<void> {
    const s = this.s;
    if (keys === 0 || s.config.get<number>("key-load-delay") <= 0) return;
    s.loading = true;
    const progress = s.trackLoading(bytes);
    try {
      let done = 0;
      while (done < keys && alive()) {
        const us = s.config.get<number>("key-load-delay");
        if (us <= 0) break;
        // Steps of about 50 ms, so that a changed setting and the progress show soon.
        const step = Math.min(keys - done, Math.max(1, Math.floor(50_000 / us)));
        await new Promise((r) => setTimeout(r, (step * us) / 1000));
        done += step;
        progress.loadedBytes = Math.floor((bytes * done) / keys);
      }
    } finally {
      s.loading = false;
      s.loadingProgress = null;
    }
  }

  private connected(db: number): void {
    const s = this.s;
    const c = s.newClient(this.conn, `${this.host}:${this.port}`, "");
    c.kind = "master";
    c.trusted = true;
    c.authenticated = true;
    c.onError = (message) => {
      s.stats.error(message);
      this.errorForMaster(message);
    };
    // Closed by CLIENT KILL (or a timeout): the link is down from that moment, as Redis frees
    // the master client at once (its repl_down_since, which the cluster's data age reads), not
    // when the socket loop notices after the current command.
    c.onClose = () => this.masterClientClosed(c);
    c.db = s.dbs[db] ?? s.dbs[0]!;
    this.master = c;
    this.fed = this.applied = 0;
    this.received.reset();
    this.unproxied = 0;
    this.state = "connected";
    this.downSinceMs = 0;
    this.cached = null;
    this.lastIoMs = s.clock.nowMs();
    log.info(
      "MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization or finished a full one; the link is up.",
    );
  }

  /** Bytes of the stream received on the master client, and applied (see apply()). */
  private fed = 0;
  private applied = 0;

  /** Applies the master's stream until the link ends. */
  private async stream(conn: Deno.Conn, reader: LinkReader, alive: () => boolean): Promise<void> {
    const s = this.s;
    const c = this.master!;
    this.feed(reader.rest());
    while (alive() && !c.closing) {
      // While CLIENT PAUSE holds the stream, what is read waits in memory, up to
      // client-query-buffer-limit; past it the link is not read until the pause ends.
      while (
        this.held !== null && this.held.client === c && s.pause !== null &&
        this.fed - this.applied >= s.config.get<number>("client-query-buffer-limit")
      ) {
        await new Promise<void>((resolve) => s.pause!.waiters.push(() => setTimeout(resolve, 0)));
      }
      const target = c.parser.readTarget();
      const n = await conn.read(target);
      if (n === null) throw new LinkClosed("connection closed by the master");
      this.received.raw(target.subarray(0, n));
      c.parser.commit(n);
      this.fed += n;
      this.replIn += n;
      this.s.stats.netInputBytes += n;
      this.lastIoMs = c.lastInteractionMs = this.s.clock.nowMs();
      this.applied = this.apply(c, this.fed, this.applied);
    }
    if (alive()) this.linkLost();
  }

  /** Stream bytes read elsewhere go to the master client and are applied. */
  private feed(bytes: Uint8Array): void {
    const c = this.master!;
    if (bytes.length > 0) {
      this.received.raw(bytes);
      c.parser.feed(bytes);
      this.fed += bytes.length;
    }
    this.applied = this.apply(c, this.fed, this.applied);
  }

  /**
   * A full sync over two connections: this one (the main link) receives the stream from the
   * snapshot's offset on and keeps it in memory, bounded by the replica output limit, while a
   * second connection (the RDB channel) receives and loads the RDB; then the kept stream is
   * applied and the main link goes on as usual. The master's buffers hold nothing for this
   * replica meanwhile, however long the load takes. False when the sync failed.
   */
  private async rdbChannelSync(
    main: LinkReader,
    clientId: number,
    alive: () => boolean,
  ): Promise<boolean> {
    const s = this.s;
    const limit = s.outputLimits().replica.hard || 256 * 1024 * 1024;
    const gate = { loading: true, pending: [] as Uint8Array[], bytes: 0, failed: null as unknown };
    const mainLoop = (async () => {
      for (;;) {
        const chunk = await main.chunk(READ_BYTES);
        if (!alive()) return;
        this.replIn += chunk.length;
        if (!gate.loading) {
          this.feed(chunk);
          // From here on the stream is read straight into the master client's buffer.
          return this.stream(this.conn!, main, alive);
        }
        gate.pending.push(chunk);
        gate.bytes += chunk.length;
        if (gate.bytes > limit) {
          throw new Error("the stream kept during the RDB channel's load passed its limit");
        }
      }
    })();
    mainLoop.catch((e) => gate.failed = e);
    let rconn: Deno.Conn;
    try {
      rconn = await connectFrom(
        this.host,
        this.port,
        this.s.config.getString("bind-source-addr"),
      );
    } catch (e) {
      log.warn("Unable to open the RDB channel: {err}", { err: (e as Error).message });
      return false;
    }
    try {
      const reader = new LinkReader(rconn, (n) => {
        this.lastIoMs = s.clock.nowMs();
        s.stats.netInputBytes += n;
      });
      const o = this.options();
      const setup: string[][] = [];
      if (o.auth) {
        setup.push(o.auth.user ? ["AUTH", o.auth.user, o.auth.pass] : ["AUTH", o.auth.pass]);
      }
      setup.push(["REPLCONF", "main-ch-client-id", String(clientId)]);
      setup.push(["REPLCONF", "capa", "eof"]);
      await writeAll(rconn, encodeCommands(setup));
      for (let i = 0; i < setup.length; i++) {
        const line = await reader.line();
        if (line.startsWith("-")) {
          log.warn("RDB channel refused: {err}", { err: line.slice(1) });
          return false;
        }
      }
      await writeAll(rconn, encodeCommands([["SYNC"]]));
      let line = "";
      while (line === "") line = await reader.line();
      const outcome = psyncOutcome(line);
      if (outcome.kind !== "full") {
        log.warn("Unexpected reply on the RDB channel: {line}", { line });
        // A master user allowed only PSYNC (as Redis's docs suggest for replicas) may not run
        // SYNC: the next attempts sync over the main link alone.
        if (line.startsWith("-NOPERM")) this.rdbChannelDenied = true;
        return false;
      }
      if (!alive() || gate.failed) return false;
      log.info("Full resync over an RDB channel from master: {id}:{off}", {
        id: outcome.replId,
        off: outcome.offset,
      });
      if (!(await this.fullSync(reader, outcome, alive))) return false;
    } finally {
      try {
        rconn.close();
      } catch { /* closed by the master */ }
    }
    if (gate.failed) throw gate.failed;
    // What came meanwhile follows the snapshot: it is applied now, then as it arrives.
    gate.loading = false;
    log.info("Applying {n} bytes of stream kept while loading", { n: gate.bytes });
    for (const chunk of gate.pending) this.feed(chunk);
    gate.pending = [];
    await mainLoop;
    if (alive()) this.linkLost();
    return true;
  }

  /**
   * Runs the complete commands in the master client's buffer, each as the master ran it, and
   * feeds the bytes of each to this node's stream. `fed` counts the bytes received so far;
   * returns the bytes applied so far.
   */
  private apply(c: Client, fed: number, applied: number, resumed: Held | null = null): number {
    const s = this.s;
    // A command held by CLIENT PAUSE: everything after it waits with it (one of a link that is
    // gone is dropped).
    if (this.held !== null) {
      if (this.held.client === c) return applied;
      this.held = null;
    }
    s.stats.startBatch();
    s.nowMs = s.clock.nowMs();
    s.batchTime = true;
    s.expiryMode = "keep";
    try {
      for (;;) {
        if (c.closing) return applied;
        let argv: string[] | null;
        let done: number;
        if (resumed !== null) {
          argv = resumed.argv;
          done = resumed.done;
          resumed = null;
        } else {
          try {
            argv = c.parser.next(true);
          } catch (e) {
            if (!(e instanceof ProtocolError)) throw e;
            log.warn("Protocol error from the MASTER: {err}", { err: e.message });
            c.close();
            return applied;
          }
          if (argv === null) return applied;
          done = fed - c.parser.pending;
        }
        if (argv.length > 0 && pausedFor(s, c, argv)) {
          // Held as Redis holds its master client during CLIENT PAUSE: the stream is still read
          // (slave_read_repl_offset moves on), not applied (slave_repl_offset stays).
          this.held = { client: c, argv, done };
          s.pause!.waiters.push(() => queueMicrotask(() => this.resumeHeld(c)));
          return applied;
        }
        this.unproxied += done - applied;
        applied = done;
        if (argv.length === 0) continue;
        this.applying = argv;
        try {
          void processCommand(s, c, argv);
        } catch (e) {
          log.error("command {cmd} from the MASTER failed: {err}", {
            cmd: argv[0]!,
            err: String(e),
          });
        }
        c.out.reset();
      }
    } finally {
      s.batchTime = false;
      s.stats.endBatch();
      s.expiryMode = s.replicaExpiryMode();
      c.parser.trim();
      this.proxy();
      // What was applied reaches the AOF before any ACK can say so, as in Redis (which writes
      // the AOF on every turn of its event loop, before replies and acknowledgements).
      s.aof?.flush();
    }
  }

  /** The master's command CLIENT PAUSE holds. */
  private held: Held | null = null;

  /** The pause is over: the held command runs, then what arrived after it. */
  private resumeHeld(c: Client): void {
    const h = this.held;
    if (h === null || h.client !== c) return;
    this.held = null;
    if (c.closing || this.master !== c) return;
    this.applied = this.apply(c, this.fed, this.applied, h);
  }

  /** Stream bytes read and not applied yet (held by a pause, or a command not whole yet). */
  get unapplied(): number {
    return this.state === "connected" ? this.fed - this.applied : 0;
  }

  /**
   * Bytes received from the master and not yet applied, in order (every read is copied here),
   * and how many of their first bytes are applied but not yet fed to this node's stream.
   */
  private readonly received = new RespWriter(64 * 1024);
  private unproxied = 0;

  /**
   * The stream proxies exactly what was applied, the master's own bytes, once per read (not a
   * re-encoding per command): sub-replicas get the same bytes at the same offsets.
   */
  private proxy(): void {
    const n = this.unproxied;
    if (n === 0) return;
    this.s.replStream!.write(this.received.view().subarray(0, n));
    this.received.consume(n);
    this.unproxied = 0;
  }

  /** The master's command being applied (named when it fails). */
  private applying: string[] | null = null;

  /**
   * A command of the master failed here (the reply goes nowhere): the replica's data may now
   * differ from the master's. Logged and counted (unexpected_error_replies) as Redis does;
   * with `propagation-error-behavior panic` or `panic-on-replicas` a read-only replica stops
   * rather than serve data that diverged.
   */
  private errorForMaster(message: string): void {
    const s = this.s;
    const argv = this.applying;
    const def = argv ? lookupCommand(s.commands, argv) : null;
    const name = def !== null && typeof def === "object" ? def.name : "<unknown>";
    log.warn(
      "== CRITICAL == This replica is sending an error to its master: '{err}' after processing the command '{cmd}'",
      { err: message.slice(0, 4096), cmd: name },
    );
    s.stats.unexpectedErrorReplies++;
    const behavior = s.config.getString("propagation-error-behavior");
    if (behavior !== "ignore" && s.config.get<boolean>("replica-read-only")) {
      log.error(
        "Guru Meditation: This replica panicked sending an error to its master after processing the command '{cmd}'",
        { cmd: name },
      );
      s.exit(1);
    }
  }

  /** REPLCONF ACK <offset> to the master (every second, and on REPLCONF GETACK). */
  sendAck(): void {
    const conn = this.conn;
    if (!conn || (this.state !== "connected" && this.master === null)) return;
    const bytes = encodeCommand(["REPLCONF", "ACK", String(this.offset)]);
    this.ackChain = this.ackChain.then(() => writeAll(conn, bytes)).catch(() => {});
  }

  /** The link broke: remember what we have, so that the next attempt continues from there. */
  private linkLost(): void {
    const s = this.s;
    const m = this.master;
    this.cached = { replId: s.replId, offset: s.replOffset, db: m?.db.id ?? 0 };
    if (m) {
      this.master = null;
      s.freeClient(m);
      log.warn("Connection with master lost.");
      log.info("Caching the disconnected master state.");
    }
    this.closeConn();
    this.generation++;
    this.state = "connect";
    // Down since the link to a master was lost; a failed attempt to reconnect changes nothing
    // (Redis's repl_down_since, which a cluster replica's data age reads).
    if (m || this.downSinceMs === 0) this.downSinceMs = s.clock.nowMs();
  }

  /** The master client went away (CLIENT KILL TYPE master, a timeout). */
  masterClientClosed(c: Client): void {
    if (this.master === c) this.linkLost();
  }

  /** Once a second: reconnect, time out a silent master, acknowledge the offset. */
  cron(nowMs: number): void {
    if (!this.active) return;
    const timeoutMs = this.s.config.get<number>("repl-timeout") * 1000;
    if (this.state === "connect") {
      log.info("Connecting to MASTER {host}:{port}", { host: this.host, port: this.port });
      void this.attempt();
      return;
    }
    if (nowMs - this.lastIoMs > timeoutMs) {
      if (this.state === "connected") {
        log.warn("MASTER timeout: no data nor PING received...");
        this.linkLost();
      } else {
        log.warn("Timeout connecting to the MASTER...");
        this.generation++;
        this.closeConn();
        this.state = "connect";
      }
      return;
    }
    if (this.state === "connected") this.sendAck();
  }
}

function encodeCommands(cmds: string[][]): Uint8Array {
  const parts = cmds.map((c) => encodeCommand(c));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function writeAll(w: { write(b: Uint8Array): Promise<number> }, b: Uint8Array) {
  let off = 0;
  while (off < b.length) off += await w.write(b.subarray(off));
}

/** Bytes of a received RDB gathered into one write of its temporary file. */
const FILE_WRITE_BYTES = 1024 * 1024;
/** Bytes handed to the file and not yet written, at most: beyond, the transfer waits. */
const FILE_MAX_PENDING = 16 * 1024 * 1024;
/** Bytes written between two syncs of the file, so that the last sync has little left to do. */
const FILE_SYNC_BYTES = 8 * 1024 * 1024;

type TempFile = Awaited<ReturnType<typeof openTemp>>;

/** A command of the master held by CLIENT PAUSE, with the stream offset at its end. */
interface Held {
  client: Client;
  argv: string[];
  done: number;
}

/** How a full sync's payload is loaded (see ReplicaSide.enterLoading). */
export type LoadMode = "disk" | "sync" | "async";

/**
 * Redis 7.0's choice: `swapdb` and `on-empty-db` (when no key is held) load from the socket, the
 * others through a file; a `swapdb` load of the same history (the master's replication ID is
 * ours already: a resync after a broken link) is asynchronous.
 */
export function loadMode(setting: string, empty: boolean, sameHistory: boolean): LoadMode {
  if (setting === "swapdb") return sameHistory ? "async" : "sync";
  if (setting === "on-empty-db" && empty) return "sync";
  return "disk";
}

/**
 * A temporary file for a received RDB, renamed into place once the sync succeeded. Writes go
 * out in the background, in order, a megabyte at a time, while the transfer and the load go
 * on: the disk's latency is not added to every chunk read from the master. The data is synced
 * every few megabytes, as Redis does, so that the sync before the rename is short.
 */
async function openTemp() {
  const path = `temp-${Date.now()}.${Deno.pid}.rdb`;
  const f = await Deno.open(path, { create: true, write: true, truncate: true });
  let open = true;
  const close = () => {
    if (open) f.close();
    open = false;
  };
  let parts: Uint8Array[] = [];
  let gathered = 0;
  /** Bytes handed over and not yet written (gathered ones included). */
  let pending = 0;
  let unsynced = 0;
  let chain: Promise<void> = Promise.resolve();
  let failed: unknown = null;
  const writeGathered = () => {
    if (gathered === 0) return;
    const buf = parts.length === 1 ? parts[0]! : concat(parts, gathered);
    parts = [];
    gathered = 0;
    chain = chain.then(async () => {
      if (failed !== null) return;
      await writeAll(f, buf);
      pending -= buf.length;
      unsynced += buf.length;
      if (unsynced >= FILE_SYNC_BYTES) {
        unsynced = 0;
        await f.syncData();
      }
    }).catch((e) => {
      failed ??= e;
    });
  };
  const check = () => {
    if (failed !== null) throw failed;
  };
  return {
    /** Queues bytes (kept, not copied); waits while too many are still to be written. */
    async write(bytes: Uint8Array): Promise<void> {
      check();
      if (bytes.length === 0) return;
      parts.push(bytes);
      gathered += bytes.length;
      pending += bytes.length;
      if (gathered >= FILE_WRITE_BYTES) writeGathered();
      while (pending > FILE_MAX_PENDING && failed === null) await chain;
      check();
    },
    /** Waits until every byte is written; throws what a write failed with. */
    async flush(): Promise<void> {
      writeGathered();
      await chain;
      check();
    },
    discard() {
      failed ??= new Error("discarded");
      close();
      Deno.remove(path).catch(() => {});
    },
    async keepAs(name: string) {
      try {
        await this.flush();
        await f.sync();
        close();
        await Deno.rename(path, name);
      } catch (e) {
        log.warn("Failed trying to rename the temp DB into {name}: {err}", {
          name,
          err: String(e),
        });
        close();
        await Deno.remove(path).catch(() => {});
      }
    },
  };
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
