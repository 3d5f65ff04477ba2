/**
 * The master's side of replication: replica links, full and partial resynchronization, the
 * command stream, acknowledgements and WAIT, as Redis 7.0 does them.
 *
 * A replica is a client that sent SYNC or PSYNC. From then on it gets no replies: its link
 * writes the sync payload and then the replication stream, read through a cursor into the
 * stream's shared buffer (backlog.ts), so one copy of each write serves every replica.
 *
 * Full sync: replicas that need one wait (state wait_bgsave) until a snapshot starts:
 * at once for a disk-based sync (`repl-diskless-sync no`, or a replica without `capa eof`),
 * after `repl-diskless-sync-delay` seconds (or as soon as `repl-diskless-sync-max-replicas`
 * are waiting) for a diskless one. The snapshot is a copy-on-write one taken at a stream
 * offset; each replica in the batch gets +FULLRESYNC <replid> <offset>, its cursor at that
 * offset, then the RDB: `$<len>` and the dump file for a disk-based sync, `$EOF:<mark>`, the
 * RDB as it is produced and the mark for a diskless one. After a disk-based payload the
 * stream follows at once; after a diskless one only on the replica's first REPLCONF ACK (it
 * cannot tell the stream from the payload before it found the mark), as Redis does.
 */
import { getLogger } from "../../shared/log.ts";
import { encodeCommand } from "../../shared/resp/mod.ts";
import type { Client } from "../server/client.ts";
import type { Server } from "../server/server.ts";
import type { Cursor, ReplicationStream } from "./backlog.ts";
import { EOF_MARK_LEN, RDB_CHANNEL_CAPA } from "./handshake.ts";
import type { RdbFilter } from "../persistence/snapshot.ts";

const log = getLogger(["data-node", "replication"]);

export type ReplicaState = "wait_bgsave" | "send_bulk" | "online";

/** Bytes of a file sent per write during a disk-based sync. */
const FILE_CHUNK = 64 * 1024;
/** Bytes of the stream sent per socket write. */
const STREAM_CHUNK = 256 * 1024;

const NEWLINE = new Uint8Array([10]);
const PING = encodeCommand(["PING"]);
const GETACK = encodeCommand(["REPLCONF", "GETACK", "*"]);

function sameFilter(a: RdbFilter | null, b: RdbFilter | null): boolean {
  if (a === null || b === null) return a === b;
  return a.excludeData === b.excludeData && a.excludeFunctions === b.excludeFunctions;
}

function randomMark(): string {
  const chars = "0123456789abcdef";
  const b = new Uint8Array(EOF_MARK_LEN);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => chars[x & 15]).join("");
}

/** What a replica told about itself (REPLCONF) and where its link stands. */
export class ReplicaLink {
  state: ReplicaState = "wait_bgsave";
  listeningPort = 0;
  announcedIp = "";
  capaEof = false;
  capaPsync2 = false;
  /** REPLCONF rdb-only 1: the link ends after the RDB (redis-cli --rdb). */
  rdbOnly = false;
  /**
   * REPLCONF rdb-filter-only: what this replica's RDB leaves out (redis-cli --functions-rdb
   * asks for the functions alone, --replica for neither). It gets an RDB of its own.
   */
  rdbFilter: RdbFilter | null = null;
  /** SYNC (not PSYNC): no +FULLRESYNC line and no acknowledgements (redis-cli --replica). */
  legacy = false;
  /** The offset the replica last acknowledged (REPLCONF ACK), and when. */
  ackOffset = 0;
  ackMs = 0;
  /** REPLCONF capa rdb-channel-repl: this replica can take a full sync on a second link. */
  capaRdbChannel = false;
  /** REPLCONF main-ch-client-id: this link carries the RDB for that client's link. */
  mainChannelId = 0;
  /** The main link of this RDB channel, once its SYNC was accepted. */
  mainLink: ReplicaLink | null = null;
  /** A main link told to open an RDB channel (+RDBCHANNELSYNC), waiting for it. */
  awaitingRdbChannel = false;
  /** The RDB channel serving this main link, while it transfers. */
  rdbChannel: ReplicaLink | null = null;
  /** The whole payload is queued (an RDB channel may then close without harm). */
  payloadDone = false;
  /** The payload's `$` line is queued: no keepalive newline may go out any more. */
  payloadStarted = false;
  /** After a diskless payload the stream starts on the first ACK. */
  onlineOnAck = false;
  /** The payload is a diskless one, produced while it is sent. */
  disklessPayload = false;
  cursor: Cursor | null = null;

  /**
   * The state as Redis reports it (INFO's slaveN, ROLE, and what counts as an online replica):
   * a replica still receiving a diskless payload, or whose RDB channel still carries one, is
   * wait_bgsave (the RDB is still being produced), though this link may already stream.
   */
  get reportedState(): ReplicaState {
    if (this.awaitingRdbChannel) return "wait_bgsave";
    if (this.rdbChannel !== null && !this.rdbChannel.payloadDone) return "wait_bgsave";
    if (this.state === "send_bulk" && this.disklessPayload) return "wait_bgsave";
    return this.state;
  }
  /** Socket writes of this link, in order (payload first, then the stream). */
  private chain: Promise<void> = Promise.resolve();
  private pumping = false;
  /** Bytes queued on the chain and not yet written (counted against the output limit). */
  queued = 0;
  /**
   * When the socket write in progress started (Date.now()), 0 when none is: a write that makes
   * no progress for repl-timeout during a full sync drops the replica, as Redis's
   * repl_last_partial_write.
   */
  writingSinceMs = 0;

  constructor(readonly client: Client, nowMs: number) {
    this.ackMs = nowMs;
  }

  get closed(): boolean {
    return this.client.closing;
  }

  /** The address Redis shows for a replica: its announced ip, else the peer's. */
  get ip(): string {
    if (this.announcedIp) return this.announcedIp;
    const a = this.client.addr;
    const colon = a.lastIndexOf(":");
    const host = colon < 0 ? a : a.slice(0, colon);
    return host.startsWith("[") ? host.slice(1, -1) : host;
  }

  /** Queues bytes after whatever this link is writing. */
  send(bytes: Uint8Array, stats: { replOut: number }): Promise<void> {
    if (bytes.length === 0 || this.closed) return this.chain;
    this.queued += bytes.length;
    this.chain = this.chain.then(async () => {
      if (this.closed) return;
      this.writingSinceMs = Date.now();
      await writeAll(this.client.conn!, bytes);
      this.writingSinceMs = 0;
      stats.replOut += bytes.length;
      this.queued -= bytes.length;
    }).catch((e) => this.fail(e));
    return this.chain;
  }

  /** Queues an async job (a file transfer) in the write order. */
  then(job: () => Promise<void>): Promise<void> {
    this.chain = this.chain.then(() => this.closed ? undefined : job()).catch((e) => this.fail(e));
    return this.chain;
  }

  /** Writes the stream from the cursor until it is up to date (one pump at a time). */
  pump(stream: ReplicationStream, stats: { replOut: number }): void {
    if (this.pumping || this.state !== "online" || this.cursor === null || this.closed) return;
    if (stream.pending(this.cursor) === 0) return;
    this.pumping = true;
    const cursor = this.cursor;
    this.chain = this.chain.then(async () => {
      try {
        while (!this.closed) {
          const chunk = stream.peek(cursor, STREAM_CHUNK);
          if (chunk.length === 0) break;
          const n = await this.client.conn!.write(chunk);
          stats.replOut += n;
          stream.advance(cursor, n);
        }
      } finally {
        this.pumping = false;
      }
    }).catch((e) => this.fail(e));
  }

  private fail(e: unknown): void {
    if (!this.closed) {
      log.warn("Connection with replica {addr} lost: {err}", {
        addr: this.client.addr,
        err: String(e),
      });
    }
    this.client.close();
  }
}

async function writeAll(conn: Deno.Conn, b: Uint8Array): Promise<void> {
  let off = 0;
  while (off < b.length) off += await conn.write(b.subarray(off));
}

interface WaitingClient {
  client: Client;
  offset: number;
  numReplicas: number;
  done: (acked: number) => void;
}

export class MasterSide {
  readonly links = new Set<ReplicaLink>();
  /** Replicas waiting for the next snapshot, and since when the first of them waits. */
  private waitingSince = 0;
  /** A full sync is producing its snapshot. */
  private syncing = false;
  private readonly waiters: WaitingClient[] = [];
  private getAckQueued = false;
  private pumpQueued = false;
  /** When the last replica went away (for repl-backlog-ttl). */
  noReplicasSinceMs: number;
  readonly counters = { replOut: 0 };

  constructor(private readonly s: Server) {
    this.noReplicasSinceMs = s.clock.nowMs();
  }

  /** The link of a client that sent REPLCONF before SYNC/PSYNC (created on first use). */
  linkOf(c: Client): ReplicaLink {
    c.replicaLink ??= new ReplicaLink(c, this.s.clock.nowMs());
    return c.replicaLink;
  }

  /** The stream, created by the first replica with a new replication ID, as Redis does. */
  private stream(): ReplicationStream {
    if (this.s.replStream) return this.s.replStream;
    if (this.s.role === "master") this.s.changeReplicationId();
    const st = this.s.createReplicationStream();
    st.onWrite = () => this.schedulePump();
    return st;
  }

  /** Hooks a stream made elsewhere (a replica's, proxying its master) to the links. */
  adopt(stream: ReplicationStream): void {
    stream.onWrite = () => this.schedulePump();
  }

  private schedulePump(): void {
    if (this.pumpQueued || this.links.size === 0) return;
    this.pumpQueued = true;
    // In the same turn as the client's reply, not a later one: a write acknowledged to its
    // client is on its way to the replicas before the master can die, as in Redis.
    queueMicrotask(() => {
      this.pumpQueued = false;
      this.pumpAll();
    });
  }

  /** Every online replica writes what it has not sent; one over its output limit is closed. */
  private pumpAll(): void {
    const st = this.s.replStream;
    if (!st) return;
    for (const l of this.links) {
      if (l.closed) continue;
      if (!this.withinOutputLimit(l, st)) continue;
      l.pump(st, this.counters);
    }
  }

  private withinOutputLimit(l: ReplicaLink, st: ReplicationStream): boolean {
    const pending = this.pendingOf(l);
    const c = l.client;
    const limits = this.s.outputLimits().replica;
    // A hard limit under repl-backlog-size counts as repl-backlog-size, as in Redis: a partial
    // resync from the backlog would otherwise get the replica dropped at once (its output shares
    // the backlog's memory anyway).
    const hard = limits.hard > 0 ? Math.max(limits.hard, st.capacity) : 0;
    let over = hard > 0 && pending >= hard;
    if (limits.soft > 0 && pending >= limits.soft) {
      const now = this.s.clock.nowMs();
      if (c.softLimitSinceMs === 0) c.softLimitSinceMs = now;
      else if (now - c.softLimitSinceMs > limits.softSeconds * 1000) over = true;
    } else {
      c.softLimitSinceMs = 0;
    }
    if (!over) return true;
    log.warn(
      "Client {addr} scheduled to be closed ASAP for overcoming of output buffer limits.",
      { addr: c.addr },
    );
    c.close();
    return false;
  }

  /** The bytes a replica's link still has to write (INFO, CLIENT LIST omem). */
  pendingOf(l: ReplicaLink): number {
    const st = this.s.replStream;
    return (l.cursor && st ? st.pending(l.cursor) : 0) + l.queued;
  }

  /**
   * PSYNC replid offset (and SYNC, with `legacy`): continues from the backlog when it can,
   * else queues a full sync. Replies and the payload go through the link.
   */
  syncRequest(c: Client, replId: string, offset: number, legacy: boolean): void {
    const s = this.s;
    const l = this.linkOf(c);
    l.legacy = legacy;
    // Replies queued before (REPLCONF's +OK in the same batch) go out first.
    if (c.out.len > 0) {
      l.send(c.out.buf.slice(0, c.out.len), this.counters);
      c.out.reset();
    }
    c.kind = "replica";
    this.links.add(l);
    if (legacy && l.mainChannelId !== 0) return this.rdbChannelRequest(l);
    if (!legacy && this.tryPartial(l, replId, offset)) return;
    if (!legacy && l.capaRdbChannel && s.config.get<boolean>("repl-rdb-channel")) {
      // The RDB will come on a second connection; this one gets the stream from the
      // snapshot's offset on, which the replica keeps while it loads.
      s.stats.syncFull++;
      if (replId !== "?") s.stats.syncPartialErr++;
      this.stream();
      l.state = "wait_bgsave";
      l.awaitingRdbChannel = true;
      l.payloadStarted = true;
      l.send(new TextEncoder().encode(`+RDBCHANNELSYNC ${c.id}\r\n`), this.counters);
      log.info("Replica {addr} will take its full sync on an RDB channel", {
        addr: l.ip + ":" + l.listeningPort,
      });
      return;
    }
    if (!legacy) {
      s.stats.syncFull++;
      if (replId !== "?") s.stats.syncPartialErr++;
    } else {
      s.stats.syncFull++;
    }
    this.stream();
    l.state = "wait_bgsave";
    if (this.waitingSince === 0) this.waitingSince = s.clock.nowMs();
    log.info("Replica {addr} asks for synchronization", { addr: l.ip + ":" + l.listeningPort });
    // A disk-based sync needs no delay: start now if nothing else is being written.
    this.maybeStartFullSync();
  }

  /** SYNC on a connection that named a main link: it carries that link's RDB. */
  private rdbChannelRequest(l: ReplicaLink): void {
    const main = [...this.links].find((m) =>
      m.client.id === l.mainChannelId && m.awaitingRdbChannel && !m.closed
    );
    if (!main) {
      l.send(
        new TextEncoder().encode("-ERR Unknown main channel client id\r\n"),
        this.counters,
      );
      void l.then(() => Promise.resolve()).then(() => l.client.close());
      return;
    }
    l.legacy = false;
    l.rdbOnly = true;
    l.capaEof = true;
    l.mainLink = main;
    main.rdbChannel = l;
    l.state = "wait_bgsave";
    if (this.waitingSince === 0) this.waitingSince = this.s.clock.nowMs();
    this.maybeStartFullSync();
  }

  private tryPartial(l: ReplicaLink, replId: string, offset: number): boolean {
    const s = this.s;
    const st = s.replStream;
    const known = replId === s.replId ||
      (replId === s.replId2 && offset <= s.secondReplOffset);
    if (!known || !st || !st.covers(offset)) {
      if (replId !== "?") {
        log.info(
          "Partial resynchronization not accepted: {why}",
          {
            why: known
              ? `Unable to partial resync with replica for lack of backlog (Replica request was: ${offset}).`
              : replId === s.replId2
              ? `Requested offset for second ID was ${offset}, but I can reply up to ${s.secondReplOffset}`
              : `Replication ID mismatch (Replica asked for '${replId}', my replication IDs are '${s.replId}' and '${s.replId2}')`,
          },
        );
      }
      return false;
    }
    l.cursor = st.openCursor(offset);
    l.state = "online";
    l.ackOffset = offset - 1;
    const line = l.capaPsync2 ? `+CONTINUE ${s.replId}\r\n` : "+CONTINUE\r\n";
    l.send(new TextEncoder().encode(line), this.counters);
    s.stats.syncPartialOk++;
    log.info(
      "Partial resynchronization request from {addr} accepted. Sending {n} bytes of backlog starting from offset {off}.",
      { addr: l.ip + ":" + l.listeningPort, n: st.pending(l.cursor), off: offset },
    );
    l.pump(st, this.counters);
    return true;
  }

  /** Starts a snapshot for the replicas waiting, when one is due and none is being written. */
  maybeStartFullSync(): void {
    const s = this.s;
    if (this.syncing || s.persistence === null || s.persistence.busy) return;
    const waiting = [...this.links].filter((l) =>
      l.state === "wait_bgsave" && l.cursor === null && !l.closed && !l.awaitingRdbChannel
    );
    if (waiting.length === 0) {
      this.waitingSince = 0;
      return;
    }
    // Replicas that asked for a filtered RDB share one only with those asking the same, as in
    // Redis; such a sync goes to the sockets whenever the replicas can take it.
    const filter = waiting[0]!.rdbFilter;
    const batch = waiting.filter((l) => sameFilter(l.rdbFilter, filter));
    const configured = s.config.get<boolean>("repl-diskless-sync");
    const diskless = (configured || filter !== null) && batch.every((l) => l.capaEof);
    if (diskless && configured) {
      const delayMs = s.config.get<number>("repl-diskless-sync-delay") * 1000;
      const max = s.config.get<number>("repl-diskless-sync-max-replicas");
      const due = s.clock.nowMs() - this.waitingSince >= delayMs ||
        (max > 0 && waiting.length >= max);
      if (!due) return;
    }
    this.waitingSince = 0;
    void this.fullSync(batch, diskless, filter);
  }

  private async fullSync(
    batch: ReplicaLink[],
    diskless: boolean,
    filter: RdbFilter | null,
  ): Promise<void> {
    const s = this.s;
    const st = this.stream();
    this.syncing = true;
    try {
      // The snapshot and every cursor start at the same offset; the stream's next command
      // selects its database, whatever the RDB's last one was.
      st.forgetSelectedDb();
      const offset = st.offset;
      const enc = new TextEncoder();
      for (const l of batch) {
        const main = l.mainLink;
        if (main) {
          // The main link streams from the snapshot's offset right away.
          main.cursor = st.openCursor();
          main.awaitingRdbChannel = false;
          main.state = "online";
          main.ackMs = s.clock.nowMs();
          main.pump(st, this.counters);
        }
        l.cursor = main ? null : st.openCursor();
        l.state = "send_bulk";
        if (!l.legacy) {
          l.send(enc.encode(`+FULLRESYNC ${s.replId} ${offset}\r\n`), this.counters);
        }
      }
      log.info("Starting BGSAVE for SYNC with target: {target}", {
        target: diskless ? "replicas sockets" : "disk",
      });
      if (diskless) await this.sendDiskless(batch, filter);
      else await this.sendFromDisk(batch, filter);
    } catch (e) {
      log.warn("Full synchronization failed: {err}", { err: String(e) });
      for (const l of batch) l.client.close();
    } finally {
      this.syncing = false;
    }
    // Replicas that arrived meanwhile may be due now.
    this.maybeStartFullSync();
  }

  private async sendDiskless(batch: ReplicaLink[], filter: RdbFilter | null): Promise<void> {
    const mark = randomMark();
    const enc = new TextEncoder();
    for (const l of batch) {
      l.payloadStarted = true;
      l.disklessPayload = true;
      l.send(enc.encode(`$EOF:${mark}\r\n`), this.counters);
    }
    await this.s.persistence!.streamSnapshot(
      async (chunk) => {
        const live = batch.filter((l) => !l.closed);
        if (live.length === 0) throw new Error("no replica left to send the RDB to");
        // The slowest replica paces the snapshot, as Redis's pipe to its replicas does.
        await Promise.all(live.map((l) => l.send(chunk, this.counters)));
      },
      { filter: filter ?? undefined },
    );
    for (const l of batch) {
      if (l.closed) continue;
      await l.send(enc.encode(mark), this.counters);
      if (l.rdbOnly) {
        this.payloadSent(l, true);
        continue;
      }
      log.info(
        "Streamed RDB transfer with replica {addr} succeeded (socket). Waiting for REPLCONF ACK from replica to enable streaming",
        {
          addr: l.ip + ":" + l.listeningPort,
        },
      );
      this.payloadSent(l, true);
    }
  }

  private async sendFromDisk(batch: ReplicaLink[], filter: RdbFilter | null): Promise<void> {
    const p = this.s.persistence!;
    const path = p.file;
    // A filtered RDB goes to dump.rdb too, as Redis's does (only replicas without EOF get one).
    // It counts in rdb_saves, as Redis's background save for a replica does.
    p.saves++;
    if (!(await p.writeSnapshotFile(path, { filter: filter ?? undefined }))) {
      throw new Error("the RDB could not be written");
    }
    p.savedForReplication();
    const size = (await Deno.stat(path)).size;
    const enc = new TextEncoder();
    await Promise.all(batch.map((l) => {
      l.payloadStarted = true;
      l.send(enc.encode(`$${size}\r\n`), this.counters);
      return l.then(async () => {
        const f = await Deno.open(path);
        try {
          const buf = new Uint8Array(FILE_CHUNK);
          for (;;) {
            const n = await f.read(buf);
            if (n === null) break;
            await writeAll(l.client.conn!, buf.subarray(0, n));
            this.counters.replOut += n;
          }
        } finally {
          f.close();
        }
      }).then(() => {
        if (!l.closed) this.payloadSent(l, false);
      });
    }));
  }

  private payloadSent(l: ReplicaLink, diskless: boolean): void {
    l.payloadDone = true;
    // The main link of an RDB channel counts its acknowledgement time from the payload's end,
    // as a replica that loads can acknowledge only then.
    if (l.mainLink) l.mainLink.ackMs = this.s.clock.nowMs();
    if (l.rdbOnly) {
      // redis-cli --rdb: the payload was all it asked for.
      void l.then(() => Promise.resolve()).then(() => l.client.close());
      return;
    }
    l.state = "online";
    l.ackMs = this.s.clock.nowMs();
    if (diskless && !l.legacy) {
      l.onlineOnAck = true;
      return;
    }
    log.info("Synchronization with replica {addr} succeeded", {
      addr: l.ip + ":" + l.listeningPort,
    });
    l.pump(this.s.replStream!, this.counters);
  }

  /** REPLCONF ACK <offset>: the replica has applied the stream up to there. */
  ack(l: ReplicaLink, offset: number): void {
    if (offset > l.ackOffset) l.ackOffset = offset;
    l.ackMs = this.s.clock.nowMs();
    if (l.onlineOnAck) {
      l.onlineOnAck = false;
      log.info("Synchronization with replica {addr} succeeded", {
        addr: l.ip + ":" + l.listeningPort,
      });
      if (this.s.replStream) l.pump(this.s.replStream, this.counters);
    }
    this.checkWaiters();
    this.s.replication.checkFailover();
  }

  /** A replica client went away. */
  removed(c: Client): void {
    const l = c.replicaLink;
    if (!l || !this.links.delete(l)) return;
    // A main link and its RDB channel stand or fall together until the payload is through.
    if (l.rdbChannel && !l.rdbChannel.closed) l.rdbChannel.client.close();
    if (l.mainLink && !l.payloadDone && !l.mainLink.closed) l.mainLink.client.close();
    if (l.cursor && this.s.replStream) this.s.replStream.closeCursor(l.cursor);
    l.cursor = null;
    if (l.state === "online") {
      log.info("Connection with replica {addr} lost.", { addr: l.ip + ":" + l.listeningPort });
    }
    if (this.links.size === 0) this.noReplicasSinceMs = this.s.clock.nowMs();
    this.checkWaiters();
  }

  /** Closes every replica link (a role change: they reconnect and resync). */
  disconnectAll(): void {
    for (const l of [...this.links]) l.client.close();
  }

  /** The replica link announced as host:port. */
  find(host: string, port: number): ReplicaLink | undefined {
    for (const l of this.links) if (l.ip === host && l.listeningPort === port) return l;
    return undefined;
  }

  /** REPLCONF capa <name>: what the replica can do (unknown ones are ignored, as in Redis). */
  capa(l: ReplicaLink, name: string): void {
    const capa = name.toLowerCase();
    if (capa === "eof") l.capaEof = true;
    else if (capa === "psync2") l.capaPsync2 = true;
    else if (capa === RDB_CHANNEL_CAPA) l.capaRdbChannel = true;
  }

  /** Replicas online with an acknowledgement no older than `maxLagSec`. */
  goodReplicas(maxLagSec: number): number {
    const now = this.s.clock.nowMs();
    let n = 0;
    for (const l of this.links) {
      if (
        l.reportedState === "online" && !l.onlineOnAck && (now - l.ackMs) / 1000 <= maxLagSec
      ) n++;
    }
    return n;
  }

  /** min-replicas-to-write: false when too few replicas are good enough to accept writes. */
  enoughGoodReplicas(): boolean {
    const want = this.s.config.get<number>("min-replicas-to-write");
    const lag = this.s.config.get<number>("min-replicas-max-lag");
    if (want === 0 || lag === 0) return true;
    return this.goodReplicas(lag) >= want;
  }

  /** Replicas that acknowledged at least `offset`. */
  private ackedAtLeast(offset: number): number {
    let n = 0;
    for (const l of this.links) if (l.state === "online" && l.ackOffset >= offset) n++;
    return n;
  }

  /**
   * WAIT numreplicas timeout: resolves with the number of replicas that acknowledged the
   * client's last write, once enough did or at the timeout (0 = none).
   */
  wait(c: Client, numReplicas: number, timeoutMs: number): number | Promise<number> {
    const offset = c.woff;
    const now = this.ackedAtLeast(offset);
    if (now >= numReplicas || c.inExec) return now;
    return new Promise<number>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const w: WaitingClient = {
        client: c,
        offset,
        numReplicas,
        done: (acked) => {
          clearTimeout(timer);
          const i = this.waiters.indexOf(w);
          if (i >= 0) this.waiters.splice(i, 1);
          c.blocked = null;
          resolve(acked);
        },
      };
      this.waiters.push(w);
      if (timeoutMs > 0) timer = setTimeout(() => w.done(this.ackedAtLeast(offset)), timeoutMs);
      c.blocked = { unblock: () => w.done(this.ackedAtLeast(offset)), timed: timeoutMs > 0 };
      this.requestAcks();
    });
  }

  /**
   * Before a master shuts down (SHUTDOWN without NOW, SIGTERM), it waits up to
   * `shutdown-timeout` seconds for its replicas to acknowledge everything, as Redis 7.0 does,
   * so that a failover after the shutdown loses no acknowledged write. `w.deadlineMs` is set
   * while it waits (INFO's shutdown_in_milliseconds); `w.aborted` (SHUTDOWN ABORT) ends it.
   */
  async drainBeforeShutdown(w: { deadlineMs: number; aborted: boolean }): Promise<void> {
    const s = this.s;
    const timeoutMs = s.config.get<number>("shutdown-timeout") * 1000;
    if (s.role !== "master" || timeoutMs === 0 || this.lagging().length === 0) return;
    log.info("Waiting for replicas before shutting down.");
    w.deadlineMs = s.clock.nowMs() + timeoutMs;
    let asked = -1;
    try {
      while (!w.aborted && this.lagging().length > 0 && s.clock.nowMs() < w.deadlineMs) {
        if (s.replStream && asked !== s.replOffset) {
          s.replStream.write(GETACK);
          asked = s.replOffset;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    } finally {
      w.deadlineMs = 0;
    }
  }

  /** Replicas that have not acknowledged the whole stream. */
  private lagging(): ReplicaLink[] {
    const offset = this.s.replOffset;
    return [...this.links].filter((l) => !l.legacy && !l.rdbOnly && l.ackOffset !== offset);
  }

  /** What the shutdown leaves behind: each lagging replica, and how many are in sync. */
  logShutdownSync(): void {
    const s = this.s;
    const all = [...this.links].filter((l) => !l.legacy && !l.rdbOnly);
    if (all.length === 0) return;
    const lagging = this.lagging();
    const now = s.clock.nowMs();
    for (const l of lagging) {
      const lag = l.state === "online" ? Math.floor((now - l.ackMs) / 1000) : 0;
      log.warn(
        "Lagging replica {addr} reported offset {behind} behind master, lag={lag}, state={state}.",
        {
          addr: `${l.ip}:${l.listeningPort}`,
          behind: s.replOffset - l.ackOffset,
          lag,
          state: l.state,
        },
      );
    }
    log.info("{n} of {total} replicas are in sync when shutting down.", {
      n: all.length - lagging.length,
      total: all.length,
    });
  }

  /** REPLCONF GETACK to every replica, once per turn of the event loop. */
  private requestAcks(): void {
    if (this.getAckQueued) return;
    this.getAckQueued = true;
    queueMicrotask(() => {
      this.getAckQueued = false;
      // Not while writes are paused (a failover waits for the offset to stand still).
      if (this.s.replStream && this.s.role === "master" && !this.s.pause) {
        this.s.replStream.write(GETACK);
      }
    });
  }

  private checkWaiters(): void {
    for (const w of [...this.waiters]) {
      const acked = this.ackedAtLeast(w.offset);
      if (acked >= w.numReplicas) w.done(acked);
    }
  }

  /** Once a second: PINGs, keepalive newlines, timeouts, due syncs, the backlog's TTL. */
  cron(nowMs: number, tick: number): void {
    const s = this.s;
    const period = s.config.get<number>("repl-ping-replica-period");
    if (
      s.role === "master" && s.replStream && this.links.size > 0 && tick % period === 0 &&
      !s.pause
    ) {
      s.replStream.write(PING);
    }
    for (const l of this.links) {
      // A replica waiting for its payload hears a newline a second (it resets its timeout).
      if (l.state !== "online" && !l.payloadStarted) l.send(NEWLINE, this.counters);
    }
    const timeoutMs = s.config.get<number>("repl-timeout") * 1000;
    const wall = Date.now();
    for (const l of this.links) {
      // A replica still taking its full sync (on this link or its RDB channel) cannot
      // acknowledge yet: it times out only on a payload write that makes no progress, as in
      // Redis (a replica that keeps up is not dropped for a stalled sibling).
      const rdbChannelBusy = l.awaitingRdbChannel ||
        (l.rdbChannel !== null && !l.rdbChannel.payloadDone);
      const streaming = l.state === "online" && !rdbChannelBusy;
      if (streaming && !l.legacy && !l.rdbOnly && nowMs - l.ackMs > timeoutMs) {
        log.warn("Disconnecting timedout replica (streaming sync): {addr}", {
          addr: l.ip + ":" + l.listeningPort,
        });
        l.client.close();
      } else if (!streaming && l.writingSinceMs > 0 && wall - l.writingSinceMs > timeoutMs) {
        log.warn("Disconnecting timedout replica (full sync): {addr}", {
          addr: l.ip + ":" + l.listeningPort,
        });
        l.client.close();
      }
    }
    this.maybeStartFullSync();
    // repl-backlog-ttl: a master without replicas for that long frees its backlog.
    const ttl = s.config.get<number>("repl-backlog-ttl");
    if (
      s.role === "master" && s.replStream && this.links.size === 0 && ttl > 0 &&
      nowMs - this.noReplicasSinceMs > ttl * 1000
    ) {
      log.info("Replication backlog freed after {ttl} seconds without connected replicas.", {
        ttl,
      });
      s.changeReplicationId();
      s.clearReplicationId2();
      s.dropReplicationStream();
    }
  }
}
