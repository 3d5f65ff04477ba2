/**
 * The cluster bus: the binary links between cluster nodes (bus_codec.ts), gossip, failure
 * detection and the spreading of slot configuration, as Redis 7.0's cluster.c does them.
 *
 * Every node keeps one outbound link to every other known node (it sends PING or MEET there and
 * reads the PONGs) and accepts inbound links (it answers PING and MEET with PONG). Ten times a
 * second the cron connects missing links, pings nodes whose last PONG is older than half the
 * node timeout, marks PFAIL a node that did not answer a PING within the node timeout, and once
 * a second pings the node with the oldest PONG among a few random ones. A PFAIL node reported
 * failing by a majority of the masters (within twice the node timeout) becomes FAIL, and a FAIL
 * message tells everyone. Slots follow the highest configEpoch that claims them; a node that
 * claims slots with a stale epoch gets an UPDATE.
 */
import { getLogger } from "../../shared/log.ts";
import { MAX_BUS_LINK_QUEUE } from "../../shared/limits.ts";
import { CLUSTER_SLOTS } from "../../shared/slots.ts";
import { binaryToBytes, bytesToBinary } from "../../shared/resp/bytes.ts";
import type { Server } from "../server/server.ts";
import {
  type BusBody,
  BusDecodeError,
  BusFrameReader,
  type BusHeader,
  type BusMessage,
  decodeMessage,
  encodeMessage,
  type GossipEntry,
  messageTypeName,
  MSG,
} from "./bus_codec.ts";
import type { BusLinkInfo, Cluster } from "./cluster.ts";
import { type ClusterNode, F, hasSlot, isMaster, newNode, randomName } from "./state.ts";
import { connectFrom } from "../replication/bound_connect.ts";

const log = getLogger(["data-node", "cluster"]);

const TICK_MS = 100;
/** A forgotten node is not re-added from gossip for this long (CLUSTER FORGET). */
const BLACKLIST_MS = 60_000;
/** Random nodes sampled for the once-a-second PING. */
const PING_SAMPLE = 5;
/** How long a coordinated manual failover may take (Redis's CLUSTER_MF_TIMEOUT). */
const MANUAL_FAILOVER_TIMEOUT_MS = 5000;

interface Link {
  conn: Deno.Conn;
  /** The node this link goes to (outbound), or the sender once known (inbound). */
  node: ClusterNode | null;
  outbound: boolean;
  createdMs: number;
  closed: boolean;
  chain: Promise<void>;
  /** Bytes handed to `send` and not yet written: the link's send buffer. */
  queued: number;
  /** The most `queued` has been (CLUSTER LINKS send-buffer-allocated). */
  queuedPeak: number;
}

/** Whether two slot bitmaps are equal (a word at a time when both are aligned). */
function sameBitmap(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  if (a.byteOffset % 4 === 0 && b.byteOffset % 4 === 0 && a.length % 4 === 0) {
    const x = new Uint32Array(a.buffer, a.byteOffset, a.length >> 2);
    const y = new Uint32Array(b.buffer, b.byteOffset, b.length >> 2);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    return true;
  }
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class ClusterBus {
  private listener: Deno.Listener | null = null;
  private timer: ReturnType<typeof setInterval> | undefined;
  /** Outbound links by node object. */
  private readonly out = new Map<ClusterNode, Link>();
  private readonly inbound = new Set<Link>();
  private readonly connecting = new Set<ClusterNode>();
  private readonly blacklist = new Map<string, number>();
  private ticks = 0;
  /**
   * A coordinated manual failover (CLUSTER FAILOVER without FORCE): until `end`, the master
   * pauses writes and tells the replica its offset (PAUSED pings); the replica starts its
   * election once it has applied that much.
   */
  private mf = { end: 0, masterOffset: -1n, replica: null as ClusterNode | null, paused: false };
  /** A replica's election: when it may ask for votes, in which epoch, and the votes it got. */
  private election = {
    authTime: 0,
    authSent: false,
    authEpoch: 0n,
    authCount: 0,
    rank: 0,
    manual: false,
  };

  constructor(private readonly s: Server, private readonly cl: Cluster) {}

  get st() {
    return this.cl.st;
  }

  private get nodeTimeout(): number {
    return Math.max(1, this.s.config.get<number>("cluster-node-timeout"));
  }

  start(): void {
    const port = this.cl.busPort();
    const binds = this.s.config.getString("bind").split(" ").filter(Boolean);
    const host = binds.length === 1 && !binds[0]!.startsWith("-") ? binds[0]! : "0.0.0.0";
    this.listener = Deno.listen({ hostname: host === "*" ? "0.0.0.0" : host, port });
    void this.acceptLoop(this.listener);
    this.timer = setInterval(() => this.cron(), TICK_MS);
    this.cl.bus = {
      meet: (ip, port, cport) => this.meet(ip, port, cport),
      broadcastPong: () => this.broadcast(MSG.PONG),
      forget: (name) => this.forget(name),
      publish: (channel, message) => this.publish(channel, message),
      publishShard: (channel, message) => this.publishShard(channel, message),
      killLinks: (n, to, from) => this.killLinks(n, to, from),
      links: () => this.links(),
      failover: (how) =>
        how === "takeover"
          ? this.takeover()
          : how === "force"
          ? this.startManualFailover()
          : this.startCoordinatedFailover(),
    };
  }

  stop(): void {
    clearInterval(this.timer);
    try {
      this.listener?.close();
    } catch { /* closed */ }
    for (const l of [...this.out.values(), ...this.inbound]) this.closeLink(l);
  }

  // ---------------------------------------------------------------------------------------
  // Links

  private async acceptLoop(l: Deno.Listener): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await l.accept();
      } catch {
        return;
      }
      const link: Link = {
        conn,
        node: null,
        outbound: false,
        createdMs: this.s.clock.nowMs(),
        closed: false,
        chain: Promise.resolve(),
        queued: 0,
        queuedPeak: 0,
      };
      this.inbound.add(link);
      void this.readLoop(link);
    }
  }

  private connect(n: ClusterNode): void {
    if (this.connecting.has(n) || this.out.has(n) || !n.ip || !n.cport) return;
    this.connecting.add(n);
    // From bind-source-addr when set, as Redis's cluster links (and replication links) connect.
    const from = this.s.config.getString("bind-source-addr");
    void connectFrom(n.ip, n.cport, from).then((conn) => {
      this.connecting.delete(n);
      if (!this.st.nodes.has(n.name) || this.out.has(n)) {
        conn.close();
        return;
      }
      try {
        (conn as Deno.TcpConn).setNoDelay(true);
      } catch { /* not TCP */ }
      const link: Link = {
        conn,
        node: n,
        outbound: true,
        createdMs: this.s.clock.nowMs(),
        closed: false,
        chain: Promise.resolve(),
        queued: 0,
        queuedPeak: 0,
      };
      this.out.set(n, link);
      n.linkUp = true;
      // The first message on a new link: MEET for a node we were asked to meet, else PING.
      const meet = (n.flags & F.MEET) !== 0;
      n.flags &= ~F.MEET;
      this.send(link, meet ? MSG.MEET : MSG.PING);
      void this.readLoop(link);
    }, () => {
      this.connecting.delete(n);
      // An unreachable node still times out: its PING is counted as sent.
      if (n.pingSent === 0) n.pingSent = this.s.clock.nowMs();
    });
  }

  /** DEBUG CLUSTERLINK KILL: closes our link to `n` and/or its link to us. */
  private killLinks(n: ClusterNode, to: boolean, from: boolean): void {
    if (to) {
      const l = this.out.get(n);
      if (l) this.closeLink(l);
    }
    if (from) { for (const l of [...this.inbound]) if (l.node === n) this.closeLink(l); }
  }

  private closeLink(l: Link): void {
    if (l.closed) return;
    l.closed = true;
    try {
      l.conn.close();
    } catch { /* closed */ }
    if (l.outbound && l.node) {
      if (this.out.get(l.node) === l) this.out.delete(l.node);
      l.node.linkUp = false;
    }
    this.inbound.delete(l);
  }

  private async readLoop(l: Link): Promise<void> {
    const reader = new BusFrameReader();
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await l.conn.read(buf);
        if (n === null) break;
        reader.push(buf.subarray(0, n));
        // Each frame is decoded (into copies) before the next read refills the buffer.
        for (let frame = reader.nextView(); frame !== null; frame = reader.nextView()) {
          let msg: BusMessage;
          try {
            msg = decodeMessage(frame);
          } catch (e) {
            // A malformed message is dropped; the link stays, as in Redis.
            log.warn("Bad cluster bus message: {err}", { err: String(e) });
            continue;
          }
          this.handle(msg, l);
          if (l.closed) return;
        }
      }
    } catch (e) {
      if (e instanceof BusDecodeError) {
        log.warn("Closing a cluster bus link: {err}", { err: e.message });
      }
    } finally {
      this.closeLink(l);
    }
  }

  private send(l: Link, type: number, body?: BusBody, mflag0 = 0): void {
    if (l.closed) return;
    const header = this.header(type);
    header.mflags[0] = mflag0;
    const bytes = encodeMessage({ header, body: body ?? this.defaultBody(type) });
    const name = messageTypeName(type);
    this.cl.stats.sent.set(name, (this.cl.stats.sent.get(name) ?? 0) + 1);
    if (type === MSG.PING || type === MSG.MEET) {
      if (l.node && l.node.pingSent === 0) l.node.pingSent = this.s.clock.nowMs();
    }
    this.enqueue(l, bytes);
  }

  /**
   * Queues bytes on a link. A peer that stops reading fills the queue: past
   * cluster-link-sendbuf-limit (or MAX_BUS_LINK_QUEUE when that is 0) the link is closed and
   * counted, as Redis frees such a link; the node reconnects on its next cron.
   */
  private enqueue(l: Link, bytes: Uint8Array): void {
    const configured = this.s.config.get<number>("cluster-link-sendbuf-limit");
    const limit = configured > 0 ? configured : MAX_BUS_LINK_QUEUE;
    if (l.queued + bytes.length > limit) {
      this.cl.linksBufferLimitExceeded++;
      log.warn("Freeing a cluster bus link to {node}: its send buffer is over {limit} bytes", {
        node: l.node?.name ?? "an unknown node",
        limit,
      });
      this.closeLink(l);
      return;
    }
    l.queued += bytes.length;
    if (l.queued > l.queuedPeak) l.queuedPeak = l.queued;
    l.chain = l.chain.then(() => new Promise<void>((resolve) => this.s.afterReplies(resolve)))
      .then(async () => {
        let off = 0;
        while (off < bytes.length) off += await l.conn.write(bytes.subarray(off));
        l.queued -= bytes.length;
      }).catch(() => this.closeLink(l));
  }

  /** Every live link with its peer known: outbound first, then inbound (CLUSTER LINKS). */
  links(): BusLinkInfo[] {
    const out: BusLinkInfo[] = [];
    for (const l of [...this.out.values(), ...this.inbound]) {
      if (l.closed || !l.node) continue;
      out.push({
        node: l.node,
        outbound: l.outbound,
        createdMs: l.createdMs,
        queued: l.queued,
        peak: l.queuedPeak,
      });
    }
    return out;
  }

  private broadcast(type: number, body?: BusBody): void {
    for (const [n, l] of this.out) {
      if (n.flags & F.HANDSHAKE) continue;
      this.send(l, type, body);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Messages out

  private header(type: number): BusHeader {
    const st = this.st;
    const me = st.myself;
    const master = me.slaveof ? st.nodes.get(me.slaveof) ?? null : null;
    const owner = master ?? me;
    return {
      type,
      port: me.port,
      pport: 0,
      cport: me.cport,
      currentEpoch: st.currentEpoch,
      configEpoch: owner.configEpoch,
      offset: BigInt(this.cl.myOffset()),
      sender: me.name,
      myslots: owner.slots,
      slaveof: me.slaveof,
      myip: this.s.config.getString("cluster-announce-ip"),
      flags: me.flags,
      state: st.state,
      mflags: new Uint8Array(3),
    };
  }

  private defaultBody(type: number): BusBody {
    return type === MSG.PING || type === MSG.PONG || type === MSG.MEET
      ? this.gossip()
      : { kind: "empty" };
  }

  /** Gossip about a tenth of the nodes (at least 3), plus every node we think is failing. */
  private gossip(): BusBody {
    const st = this.st;
    const candidates = [...st.nodes.values()].filter((n) =>
      n !== st.myself && !(n.flags & (F.HANDSHAKE | F.NOADDR)) &&
      !(n.linkUp === false && n.numSlots === 0 && !(n.flags & F.PFAIL))
    );
    const wanted = Math.min(candidates.length, Math.max(3, Math.floor(st.nodes.size / 10)));
    const chosen = new Set<ClusterNode>();
    for (let i = 0; i < candidates.length * 3 && chosen.size < wanted; i++) {
      chosen.add(candidates[Math.floor(Math.random() * candidates.length)]!);
    }
    for (const n of candidates) if (n.flags & F.PFAIL) chosen.add(n);
    const entries: GossipEntry[] = [...chosen].map((n) => ({
      nodename: n.name,
      pingSent: Math.floor(n.pingSent / 1000) >>> 0,
      pongReceived: Math.floor(n.pongReceived / 1000) >>> 0,
      ip: n.ip,
      port: n.port,
      cport: n.cport,
      pport: n.pport,
      flags: n.flags,
    }));
    const hostname = this.s.config.getString("cluster-announce-hostname");
    return { kind: "gossip", entries, hostname: hostname || null, extensions: [] };
  }

  // ---------------------------------------------------------------------------------------
  // Messages in

  private handle(msg: BusMessage, l: Link): void {
    const h = msg.header;
    const st = this.st;
    const now = this.s.clock.nowMs();
    const name = messageTypeName(h.type);
    this.cl.stats.received.set(name, (this.cl.stats.received.get(name) ?? 0) + 1);
    if (h.type === this.cl.dropPacketType) {
      log.warn("Dropping packet that matches debug drop filter");
      return;
    }
    let sender = st.nodes.get(h.sender);
    if (sender && sender.flags & F.HANDSHAKE) sender = undefined;
    if (sender) {
      sender.dataReceived = now;
      if (!l.outbound && !l.node) l.node = sender;
    }
    if (sender && h.type !== MSG.MEET) this.learnEpochs(sender, h);
    // Our master, paused for our manual failover, tells us where its stream stands.
    if (
      sender && this.mf.end && st.myself.slaveof === sender.name && h.mflags[0]! & 1 &&
      this.mf.masterOffset < 0n
    ) {
      this.mf.masterOffset = h.offset;
      log.info("Received replication offset for paused master manual failover: {off}", {
        off: h.offset,
      });
    }
    const gossipKind = h.type === MSG.PING || h.type === MSG.PONG || h.type === MSG.MEET;
    if (gossipKind && msg.body.kind === "gossip") {
      // Our own address, as the others see it, unless announced.
      const me = st.myself;
      if (!this.s.config.getString("cluster-announce-ip") && (h.type === MSG.MEET || !me.ip)) {
        const local = (l.conn.localAddr as Deno.NetAddr).hostname;
        if (local && local !== me.ip) {
          me.ip = local;
          this.cl.changed();
        }
      }
      if (!sender && h.type === MSG.MEET) {
        const n = newNode(randomName(), F.HANDSHAKE, now);
        n.ip = h.myip || (l.conn.remoteAddr as Deno.NetAddr).hostname;
        n.port = h.port;
        n.cport = h.cport;
        n.pport = h.pport;
        st.addNode(n);
        this.cl.changed();
        this.processGossip(msg.body.entries, null);
      }
      if (h.type === MSG.PING || h.type === MSG.MEET) this.send(l, MSG.PONG);
      if (l.outbound && l.node) {
        const n = l.node;
        if (n.flags & F.HANDSHAKE) {
          const known = st.nodes.get(h.sender);
          if (known && known !== n) {
            // We already know it under its name: the handshake node goes.
            st.delNode(n);
            this.closeLink(l);
            this.cl.changed();
            return;
          }
          st.rename(n, h.sender);
          n.flags &= ~F.HANDSHAKE;
          n.flags |= h.slaveof ? F.SLAVE : F.MASTER;
          log.info("Handshake with node {name} completed.", { name: h.sender });
          sender = n;
          // The message that completes the handshake carries its epochs too.
          this.learnEpochs(n, h);
          this.cl.changed();
        } else if (n.name !== h.sender) {
          // The node at this address is another one now.
          n.flags |= F.NOADDR;
          n.ip = "";
          this.closeLink(l);
          this.cl.changed();
          return;
        }
        if (h.type === MSG.PONG) {
          n.pongReceived = now;
          n.pingSent = 0;
          if (n.flags & F.PFAIL) {
            n.flags &= ~F.PFAIL;
            this.cl.changed();
          } else if (n.flags & F.FAIL) {
            this.clearFailureIfNeeded(n, now);
          }
        }
      }
      if (!sender) return;
      // The NOFAILOVER flag is the sender's to set (cluster-replica-no-failover).
      if ((sender.flags & F.NOFAILOVER) !== (h.flags & F.NOFAILOVER)) {
        sender.flags = (sender.flags & ~F.NOFAILOVER) | (h.flags & F.NOFAILOVER);
        this.cl.changed();
      }
      if (h.type === MSG.PING) this.updateAddressIfNeeded(sender, l, h);
      sender.hostname = msg.body.hostname ?? "";
      this.updateRole(sender, h);
      if (!h.slaveof) this.updateSlots(sender, h.configEpoch, h.myslots);
      this.processGossip(msg.body.entries, sender);
      return;
    }
    if (!sender) return;
    const b = msg.body;
    switch (b.kind) {
      case "fail": {
        const failing = st.nodes.get(b.nodename);
        if (failing && failing !== st.myself && !(failing.flags & F.FAIL)) {
          log.info("FAIL message received from {from} about {about}", {
            from: sender.name,
            about: failing.name,
          });
          failing.flags = (failing.flags & ~F.PFAIL) | F.FAIL;
          failing.failTime = now;
          this.cl.changed();
        }
        return;
      }
      case "publish": {
        // One char per byte (WHATWG's "latin1" is windows-1252: it changes bytes 0x80-0x9f).
        const ch = bytesToBinary(b.channel), m = bytesToBinary(b.message);
        if (h.type === MSG.PUBLISHSHARD) this.s.pubsub.spublish(ch, m);
        else this.s.pubsub.publish(ch, m);
        return;
      }
      case "empty":
        if (h.type === MSG.MFSTART) this.mfStartReceived(sender, now);
        else if (h.type === MSG.FAILOVER_AUTH_REQUEST) this.maybeVote(sender, h, l, now);
        else if (h.type === MSG.FAILOVER_AUTH_ACK) {
          if (
            isMaster(sender) && sender.numSlots > 0 && h.currentEpoch >= this.election.authEpoch
          ) {
            this.election.authCount++;
          }
        }
        return;
      case "update": {
        const n = st.nodes.get(b.nodename);
        if (!n || n.configEpoch >= b.configEpoch) return;
        // The node serves slots with that epoch: it is a master.
        if (!isMaster(n)) st.setRole(n, null);
        n.configEpoch = b.configEpoch;
        this.updateSlots(n, b.configEpoch, b.slots);
        this.cl.changed();
        return;
      }
      default:
        return;
    }
  }

  /**
   * A PING on a link other than ours to the sender tells its address as it announces it now
   * (CONFIG SET cluster-announce-*, a restart on another port): a change replaces what we
   * knew, our link to it is reopened there, and a replica follows its master there.
   */
  private updateAddressIfNeeded(n: ClusterNode, l: Link, h: BusHeader): void {
    if (this.out.get(n) === l) return;
    const ip = h.myip || (l.conn.remoteAddr as Deno.NetAddr).hostname;
    if (!ip || (n.ip === ip && n.port === h.port && n.cport === h.cport && n.pport === h.pport)) {
      return;
    }
    n.ip = ip;
    n.port = h.port;
    n.cport = h.cport;
    n.pport = h.pport;
    n.flags &= ~F.NOADDR;
    const out = this.out.get(n);
    if (out) this.closeLink(out);
    log.warn("Address updated for node {name}, now {ip}:{port}", {
      name: n.name,
      ip,
      port: n.port,
    });
    if (this.st.myself.slaveof === n.name) this.s.replication.replicaOf(n.ip, n.port);
    this.cl.changed();
  }

  /** Epochs and offset from a known sender's header (its master's epoch for a replica). */
  private learnEpochs(sender: ClusterNode, h: BusHeader): void {
    const st = this.st;
    if (h.currentEpoch > st.currentEpoch) st.currentEpoch = h.currentEpoch;
    if (!h.slaveof && h.configEpoch > sender.configEpoch) {
      sender.configEpoch = h.configEpoch;
      this.cl.changed();
    }
    if (h.slaveof) {
      // A replica's header carries its master's epoch: a master we learn late gets it here.
      const m = st.nodes.get(h.slaveof);
      if (m && isMaster(m) && h.configEpoch > m.configEpoch) {
        m.configEpoch = h.configEpoch;
        this.cl.changed();
      }
    }
    sender.replOffset = h.offset;
  }

  private updateRole(sender: ClusterNode, h: BusHeader): void {
    const st = this.st;
    if (!h.slaveof) {
      if (!isMaster(sender)) {
        st.setRole(sender, null);
        this.cl.changed();
      }
      return;
    }
    const master = st.nodes.get(h.slaveof);
    if (sender.slaveof !== h.slaveof || isMaster(sender)) {
      // A master that becomes a replica gives up its slots.
      if (isMaster(sender)) {
        for (let s = 0; s < CLUSTER_SLOTS; s++) if (st.owner[s] === sender) st.delSlot(s);
      }
      if (master) st.setRole(sender, master);
      else {
        sender.flags = (sender.flags & ~F.MASTER) | F.SLAVE;
        sender.slaveof = h.slaveof;
      }
      this.cl.changed();
    }
  }

  /**
   * A master claims slots with an epoch: each slot goes to it if unowned or owned with a lower
   * epoch. If our own master lost its slots that way, we follow the new owner (a failover).
   */
  private updateSlots(sender: ClusterNode, epoch: bigint, claimed: Uint8Array): void {
    // The usual case: it claims what we already know it serves (every such slot would be
    // skipped below). Redis compares the bitmaps first too.
    if (sameBitmap(claimed, sender.slots)) return;
    const st = this.st;
    const me = st.myself;
    const myMaster = me.slaveof ? st.nodes.get(me.slaveof) ?? null : me;
    let changed = false, newMaster: ClusterNode | null = null;
    const dirty: number[] = [];
    let stale: ClusterNode | null = null;
    // How many slots the sender claims, and how many of them it took from our shard: all of
    // them means it took our master's place (a failover), not only some of its slots.
    let senderSlots = 0, takenFromUs = 0;
    for (let s = 0; s < CLUSTER_SLOTS; s++) {
      // Whole bytes of unclaimed slots are skipped.
      if ((s & 7) === 0 && claimed[s >> 3] === 0) {
        s += 7;
        continue;
      }
      if (!hasSlot(claimed, s)) continue;
      senderSlots++;
      const owner = st.owner[s] ?? null;
      if (owner === sender || st.importing.has(s)) continue;
      if (owner === null || owner.configEpoch < epoch) {
        if (owner === me && sender !== me && this.s.dbs[0]!.countKeysInSlot(s) > 0) dirty.push(s);
        if (owner && owner === myMaster) {
          newMaster = sender;
          takenFromUs++;
        }
        st.moveSlot(s, sender);
        changed = true;
      } else if (owner.configEpoch > epoch) {
        stale = owner;
      }
    }
    if (stale) {
      // The sender is behind: tell it who serves its slots now.
      const l = this.out.get(sender);
      if (l) {
        this.send(l, MSG.UPDATE, {
          kind: "update",
          configEpoch: stale.configEpoch,
          nodename: stale.name,
          slots: stale.slots,
        });
      }
    }
    // Our shard lost its last slot: we follow the node that took them, when replica
    // migration is allowed or when the sender took exactly our shard's slots (a failover).
    // A replica whose master turned replica itself follows its grandmaster instead, unless
    // that is us (a TAKEOVER can leave such a loop for the operator to repair).
    const myMasterMaster = me.slaveof && myMaster ? st.masterOf(myMaster) : null;
    if (
      newMaster && myMaster && myMaster.numSlots === 0 &&
      (this.s.config.get<boolean>("cluster-allow-replica-migration") ||
        senderSlots === takenFromUs)
    ) {
      log.warn("Configuration change detected. Reconfiguring myself as a replica of {name}", {
        name: newMaster.name,
      });
      this.cl.replicate(newMaster);
    } else if (myMasterMaster && myMasterMaster !== me) {
      log.warn("I'm a sub-replica! Reconfiguring myself as a replica of grandmaster {name}", {
        name: myMasterMaster.name,
      });
      this.cl.replicate(myMasterMaster);
    } else {
      for (const s of dirty) {
        this.s.dbs[0]!.deleteSlot(s);
      }
    }
    if (changed) this.cl.changed();
  }

  private processGossip(entries: GossipEntry[], sender: ClusterNode | null): void {
    const st = this.st;
    const now = this.s.clock.nowMs();
    for (const g of entries) {
      const n = st.nodes.get(g.nodename);
      if (n) {
        if (sender && isMaster(sender) && n !== st.myself) {
          if (g.flags & (F.FAIL | F.PFAIL)) {
            n.failReports.set(sender.name, now);
            this.markFailingIfNeeded(n, now);
          } else {
            n.failReports.delete(sender.name);
          }
        }
        if (
          !(g.flags & (F.FAIL | F.PFAIL)) && n.pingSent === 0 && n.failReports.size === 0
        ) {
          const pong = g.pongReceived * 1000;
          if (pong <= now + 500 && pong > n.pongReceived) n.pongReceived = pong;
        }
        continue;
      }
      if (!sender || g.flags & F.NOADDR) continue;
      const banned = this.blacklist.get(g.nodename);
      if (banned !== undefined && banned > now) continue;
      this.startHandshake(g.ip, g.port, g.cport);
    }
  }

  private markFailingIfNeeded(n: ClusterNode, now: number): void {
    const st = this.st;
    for (const [who, at] of n.failReports) {
      if (now - at > this.nodeTimeout * 2) n.failReports.delete(who);
    }
    if (!(n.flags & F.PFAIL) || n.flags & F.FAIL) return;
    const needed = Math.floor(st.size / 2) + 1;
    let failures = n.failReports.size;
    if (isMaster(st.myself)) failures++;
    if (failures < needed) return;
    log.info("Marking node {name} as failing (quorum reached).", { name: n.name });
    n.flags = (n.flags & ~F.PFAIL) | F.FAIL;
    n.failTime = now;
    this.broadcast(MSG.FAIL, { kind: "fail", nodename: n.name });
    this.cl.changed();
  }

  private clearFailureIfNeeded(n: ClusterNode, now: number): void {
    // Replicas and masters without slots come back at once; a master with slots once nobody
    // took them over for twice the node timeout.
    const slotsTaken = isMaster(n) && n.numSlots > 0 &&
      now - n.failTime <= this.nodeTimeout * 2;
    if (slotsTaken) return;
    log.info("Clear FAIL state for node {name}", { name: n.name });
    n.flags &= ~F.FAIL;
    this.cl.changed();
  }

  // ---------------------------------------------------------------------------------------
  // Meeting and forgetting

  meet(ip: string, port: number, cport: number): void {
    this.startHandshake(ip, port, cport, true);
  }

  private startHandshake(ip: string, port: number, cport: number, meet = false): void {
    const st = this.st;
    for (const n of st.nodes.values()) {
      if (n.flags & F.HANDSHAKE && n.ip === ip && n.port === port && n.cport === cport) return;
    }
    const n = newNode(randomName(), F.HANDSHAKE | (meet ? F.MEET : 0), this.s.clock.nowMs());
    n.ip = ip;
    n.port = port;
    n.cport = cport;
    st.addNode(n);
  }

  forget(name: string): void {
    this.blacklist.set(name, this.s.clock.nowMs() + BLACKLIST_MS);
    for (const [n, l] of this.out) if (n.name === name) this.closeLink(l);
  }

  // ---------------------------------------------------------------------------------------
  // The cron

  private cron(): void {
    const st = this.st;
    const now = this.s.clock.nowMs();
    const timeout = this.nodeTimeout;
    this.ticks++;
    for (const n of [...st.nodes.values()]) {
      if (n === st.myself || n.flags & F.NOADDR) continue;
      // A handshake that never completes is dropped.
      if (n.flags & F.HANDSHAKE && now - n.ctime > Math.max(timeout, 1000)) {
        st.delNode(n);
        const l = this.out.get(n);
        if (l) this.closeLink(l);
        continue;
      }
      if (!this.out.has(n)) this.connect(n);
    }
    // Once a second, the node with the oldest PONG among a few random ones.
    if (this.ticks % 10 === 0) {
      const linked = [...this.out.entries()].filter(([n]) =>
        !(n.flags & F.HANDSHAKE) && n.pingSent === 0
      );
      let best: [ClusterNode, Link] | null = null;
      for (let i = 0; i < PING_SAMPLE && linked.length > 0; i++) {
        const pick = linked[Math.floor(Math.random() * linked.length)]!;
        if (!best || pick[0].pongReceived < best[0].pongReceived) best = pick;
      }
      if (best) this.send(best[1], MSG.PING);
    }
    let changed = false;
    for (const [n, l] of this.out) {
      if (n.flags & F.HANDSHAKE) continue;
      // A link that does not answer for half the node timeout is reconnected.
      if (
        n.pingSent && now - l.createdMs > timeout && now - n.pingSent > timeout / 2 &&
        now - n.dataReceived > timeout / 2
      ) {
        this.closeLink(l);
        continue;
      }
      if (n.pingSent === 0 && now - n.pongReceived > timeout / 2) this.send(l, MSG.PING);
    }
    for (const n of st.nodes.values()) {
      if (n === st.myself || n.flags & (F.HANDSHAKE | F.NOADDR)) continue;
      if (n.pingSent && now - n.pingSent > timeout && !(n.flags & (F.PFAIL | F.FAIL))) {
        log.debug("*** NODE {name} possibly failing", { name: n.name });
        n.flags |= F.PFAIL;
        changed = true;
      }
    }
    if (changed) this.cl.changed();
    // Every change of slots or flags re-evaluates the state itself: an ok cluster is looked at
    // again once a second (a walk over every slot), a failing one every tick.
    else if (st.state !== "ok" || this.ticks % 10 === 0) this.cl.updateState();
    this.manualFailoverCron(now);
    if (st.myself.slaveof) {
      this.replicaFailover(now);
      if (this.ticks % 10 === 0) this.replicaMigration(now);
    }
  }

  /** When each master serving slots was first seen without a working replica. */
  private readonly orphanedSince = new Map<string, number>();

  /**
   * Replica migration (Redis's clusterHandleSlaveMigration): a master left without working
   * replicas for 5 s gets one from the master with the most, when that one keeps more than
   * cluster-migration-barrier; of its replicas the one with the smallest name moves.
   */
  private replicaMigration(now: number): void {
    const st = this.st;
    const me = st.myself;
    const mine = me.slaveof ? st.nodes.get(me.slaveof) : undefined;
    if (!mine || st.state !== "ok") return;
    if (!this.s.config.get<boolean>("cluster-allow-replica-migration")) return;
    const working = (m: ClusterNode) =>
      st.replicasOf(m).filter((r) => !(r.flags & (F.FAIL | F.PFAIL)));
    const barrier = this.s.config.get<number>("cluster-migration-barrier");
    if (working(mine).length <= barrier) return;
    let most = 0;
    let target: ClusterNode | null = null;
    for (const n of st.nodes.values()) {
      if (!isMaster(n) || n.flags & (F.FAIL | F.PFAIL | F.HANDSHAKE)) continue;
      const ok = working(n).length;
      if (ok === 0 && n.numSlots > 0) {
        if (!this.orphanedSince.has(n.name)) this.orphanedSince.set(n.name, now);
        if (!target) target = n;
      } else {
        this.orphanedSince.delete(n.name);
      }
      most = Math.max(most, ok);
    }
    if (!target || working(mine).length !== most) return;
    let candidate = me;
    for (const n of st.nodes.values()) {
      if (!isMaster(n) || working(n).length !== most) continue;
      for (const r of working(n)) if (r.name < candidate.name) candidate = r;
    }
    if (candidate !== me) return;
    if (now - (this.orphanedSince.get(target.name) ?? now) <= 5000) return;
    log.warn("Migrating to orphaned master {name}", { name: target.name });
    this.orphanedSince.delete(target.name);
    this.cl.replicate(target);
  }

  /** CLUSTER FAILOVER (coordinated): ask the master to pause and to tell us its offset. */
  startCoordinatedFailover(): void {
    const st = this.st;
    const master = st.myself.slaveof ? st.nodes.get(st.myself.slaveof) : undefined;
    const l = master ? this.out.get(master) : undefined;
    if (!master || !l) return;
    const now = this.s.clock.nowMs();
    this.mf = {
      end: now + MANUAL_FAILOVER_TIMEOUT_MS,
      masterOffset: -1n,
      replica: null,
      paused: false,
    };
    log.info("Manual failover user request accepted.");
    this.send(l, MSG.MFSTART, { kind: "empty" });
  }

  /** A replica of ours asks for a coordinated failover: writes pause, it gets our offset. */
  private mfStartReceived(sender: ClusterNode, now: number): void {
    const me = this.st.myself;
    if (!isMaster(me) || sender.slaveof !== me.name) return;
    this.mf = {
      end: now + MANUAL_FAILOVER_TIMEOUT_MS,
      masterOffset: -1n,
      replica: sender,
      paused: true,
    };
    log.info("Manual failover requested by replica {name}.", { name: sender.name });
    const p = this.s.pause;
    this.s.pause = p
      ? { ...p, untilMs: Math.max(p.untilMs, this.mf.end) }
      : { untilMs: this.mf.end, all: false, waiters: [] };
    const l = this.out.get(sender);
    if (l) this.send(l, MSG.PING, undefined, 1);
  }

  private manualFailoverCron(now: number): void {
    const mf = this.mf;
    if (!mf.end) return;
    const me = this.st.myself;
    if (now > mf.end) {
      log.warn("Manual failover timed out.");
      this.resetManualFailover();
      return;
    }
    if (mf.replica) {
      // The master side: keeps telling the replica its offset while paused; once it is a
      // replica itself (the failover happened), writes resume (and get redirected).
      if (!isMaster(me)) return this.resetManualFailover();
      const l = this.out.get(mf.replica);
      if (l) this.send(l, MSG.PING, undefined, 1);
      return;
    }
    if (!me.slaveof) return this.resetManualFailover();
    if (
      mf.masterOffset >= 0n && BigInt(this.cl.myOffset()) >= mf.masterOffset &&
      !this.election.manual
    ) {
      log.info("All master replication stream processed, manual failover can start.");
      this.startManualFailover();
    }
  }

  private resetManualFailover(): void {
    if (this.mf.paused) this.s.unpause();
    this.mf = { end: 0, masterOffset: -1n, replica: null, paused: false };
  }

  // ---------------------------------------------------------------------------------------
  // Replica election (Redis's clusterHandleSlaveFailover) and votes

  /** CLUSTER FAILOVER FORCE: an election now, without waiting for the master to FAIL. */
  startManualFailover(): void {
    this.election = { ...this.election, authTime: 0, manual: true };
    this.replicaFailover(this.s.clock.nowMs());
  }

  /** CLUSTER FAILOVER TAKEOVER: a new epoch and the master's slots, without any vote. */
  takeover(): void {
    const st = this.st;
    st.currentEpoch++;
    st.myself.configEpoch = st.currentEpoch;
    this.replaceMaster();
  }

  /** This replica's rank: how many replicas of its master have a larger offset. */
  private rank(master: ClusterNode): number {
    const mine = BigInt(this.cl.myOffset());
    let r = 0;
    for (const n of this.st.replicasOf(master)) {
      if (n !== this.st.myself && !(n.flags & F.NOFAILOVER) && n.replOffset > mine) r++;
    }
    return r;
  }

  private replicaFailover(now: number): void {
    const st = this.st;
    const me = st.myself;
    const master = me.slaveof ? st.nodes.get(me.slaveof) : undefined;
    const e = this.election;
    if (!master || master.numSlots === 0) return;
    if (!e.manual && (!(master.flags & F.FAIL) || me.flags & F.NOFAILOVER)) return;
    if (this.s.config.get<boolean>("cluster-replica-no-failover") && !e.manual) return;
    const timeout = this.nodeTimeout;
    const authTimeout = Math.max(timeout * 2, 2000);
    const retry = authTimeout * 2;
    // Too old data (a replica cut off from its master for long) may not fail over.
    const link = this.s.replication.replica;
    let dataAge = link.state === "connected" ? now - link.lastIoMs : now - link.downSinceMs;
    dataAge = Math.max(0, dataAge - timeout);
    const factor = this.s.config.get<number>("cluster-replica-validity-factor");
    const ping = this.s.config.get<number>("repl-ping-replica-period") * 1000;
    if (!e.manual && factor > 0 && dataAge > timeout * factor + ping) return;
    if (now - e.authTime > retry) {
      e.rank = this.rank(master);
      e.authTime = now + 500 + Math.floor(Math.random() * 500) + e.rank * 1000;
      // A manual failover in progress, even one whose master never answered (the master then
      // failed), elects at once, as Redis does while its mf_end is set.
      if (e.manual || this.mf.end !== 0) {
        e.authTime = now;
        e.rank = 0;
      }
      e.authSent = false;
      e.authCount = 0;
      log.info("Start of election delayed for {ms} milliseconds (rank #{rank}, offset {off}).", {
        ms: e.authTime - now,
        rank: e.rank,
        off: this.cl.myOffset(),
      });
      // The other replicas learn our offset, so that they rank themselves.
      for (const r of st.replicasOf(master)) {
        const l = this.out.get(r);
        if (l && r !== me) this.send(l, MSG.PONG);
      }
      return;
    }
    if (!e.authSent && !e.manual && this.mf.end === 0) {
      const rank = this.rank(master);
      if (rank > e.rank) {
        e.authTime += (rank - e.rank) * 1000;
        e.rank = rank;
      }
    }
    if (now < e.authTime) return;
    if (now - e.authTime > authTimeout) {
      if (e.manual) e.manual = false;
      return;
    }
    if (!e.authSent) {
      st.currentEpoch++;
      e.authEpoch = st.currentEpoch;
      log.info("Starting a failover election for epoch {epoch}.", { epoch: e.authEpoch });
      const mflags = new Uint8Array(3);
      if (e.manual) mflags[0] = 2; // FORCEACK: vote even though the master is not FAIL
      for (const [n, l] of this.out) {
        if (n.flags & F.HANDSHAKE) continue;
        const bytes = encodeMessage({
          header: { ...this.header(MSG.FAILOVER_AUTH_REQUEST), mflags },
          body: { kind: "empty" },
        });
        this.cl.stats.sent.set(
          "auth-req",
          (this.cl.stats.sent.get("auth-req") ?? 0) + 1,
        );
        this.enqueue(l, bytes);
      }
      e.authSent = true;
      this.cl.changed();
      return;
    }
    const needed = Math.floor(st.size / 2) + 1;
    if (e.authCount >= needed) {
      log.info("Failover election won: I'm the new master.");
      st.myself.configEpoch = e.authEpoch;
      e.manual = false;
      this.replaceMaster();
    }
  }

  /** This replica takes its master's slots and becomes a master. */
  private replaceMaster(): void {
    const st = this.st;
    const me = st.myself;
    const old = me.slaveof ? st.nodes.get(me.slaveof) : undefined;
    if (!old) return;
    st.setRole(me, null);
    for (let s = 0; s < CLUSTER_SLOTS; s++) if (st.owner[s] === old) st.moveSlot(s, me);
    this.s.replication.promote();
    this.mf = { end: 0, masterOffset: -1n, replica: null, paused: false };
    this.cl.changed();
    this.broadcast(MSG.PONG);
  }

  /** A replica asks for our vote (Redis's clusterSendFailoverAuthIfNeeded). */
  private maybeVote(node: ClusterNode, h: BusHeader, l: Link, now: number): void {
    const st = this.st;
    const me = st.myself;
    if (!isMaster(me) || me.numSlots === 0) return;
    if (h.currentEpoch < st.currentEpoch) return;
    if (st.lastVoteEpoch === st.currentEpoch) return;
    const master = node.slaveof ? st.nodes.get(node.slaveof) : undefined;
    const force = (h.mflags[0]! & 2) !== 0;
    if (isMaster(node) || !master) return;
    if (!(master.flags & F.FAIL) && !force) return;
    if (now - master.votedTime < this.nodeTimeout * 2) return;
    for (let s = 0; s < CLUSTER_SLOTS; s++) {
      if (!hasSlot(h.myslots, s)) continue;
      const owner = st.owner[s];
      if (owner && owner.configEpoch > h.configEpoch) return;
    }
    st.lastVoteEpoch = st.currentEpoch;
    master.votedTime = now;
    log.info("Failover auth granted to {name} for epoch {epoch}", {
      name: node.name,
      epoch: st.currentEpoch,
    });
    const target = this.out.get(node) ?? l;
    this.send(target, MSG.FAILOVER_AUTH_ACK, { kind: "empty" });
    this.cl.changed();
  }

  /** SPUBLISH in cluster mode reaches the other nodes of this node's shard only. */
  publishShard(channel: string, message: string): void {
    const st = this.st;
    const me = st.myself;
    const master = me.slaveof ? st.nodes.get(me.slaveof) : me;
    if (!master) return;
    const shard = new Set([master, ...st.replicasOf(master)]);
    const enc = binaryToBytes;
    const body: BusBody = { kind: "publish", channel: enc(channel), message: enc(message) };
    for (const n of shard) {
      if (n === me) continue;
      const l = this.out.get(n);
      if (l) this.send(l, MSG.PUBLISHSHARD, body);
    }
  }

  /** PUBLISH in cluster mode reaches the subscribers of every node. */
  publish(channel: string, message: string): void {
    const enc = binaryToBytes;
    this.broadcast(MSG.PUBLISH, {
      kind: "publish",
      channel: enc(channel),
      message: enc(message),
    });
  }
}
