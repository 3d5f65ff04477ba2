/**
 * nodes.conf in Redis's format: one line per known node (as CLUSTER NODES shows it, with the
 * ping/pong times zeroed) and a last `vars currentEpoch N lastVoteEpoch M` line. Saved after
 * every change as Redis 7.0 saves it: in place, padded with newlines to the old length (blank
 * lines are skipped when it is read), then truncated, so a file cut short by a crash of the
 * process still parses; fsynced where Redis fsyncs (epochs, votes, roles, nodes, failure states,
 * slots learned from other nodes), not for CLUSTER SETSLOT. (A temporary file renamed over the
 * old one cost 1.5-2x as much per fsynced save on ext4, and a reshard fsyncs on every node once
 * per slot.) Read at startup so that a restarted node rejoins with its name, epochs, slots and
 * peers. A file that does not parse stops startup with the line and the reason; it is never
 * rewritten then.
 */
import { ConfigError } from "../../shared/config/parse.ts";
import { CLUSTER_SLOTS } from "../../shared/slots.ts";
import { type ClusterNode, ClusterState, F, newNode, nodeLine } from "./state.ts";

const FLAG_WORDS: Record<string, number> = {
  myself: F.MYSELF,
  master: F.MASTER,
  slave: F.SLAVE,
  "fail?": F.PFAIL,
  fail: F.FAIL,
  handshake: F.HANDSHAKE,
  noaddr: F.NOADDR,
  nofailover: F.NOFAILOVER,
  noflags: 0,
};

export function formatNodesConf(st: ClusterState): string {
  const lines: string[] = [];
  for (const n of st.nodes.values()) {
    // Handshake nodes are not saved, as in Redis.
    if (n.flags & F.HANDSHAKE) continue;
    lines.push(nodeLine(st, n, 0, true));
  }
  lines.push(`vars currentEpoch ${st.currentEpoch} lastVoteEpoch ${st.lastVoteEpoch}`);
  return lines.join("\n") + "\n";
}

/** Parses a nodes.conf; throws ConfigError naming the line. Null for an empty file. */
export function parseNodesConf(text: string, file: string, now: number): ClusterState | null {
  const lines = text.split("\n");
  let st: ClusterState | null = null;
  const pending: { node: ClusterNode; master: string }[] = [];
  const slotLines: { node: ClusterNode; words: string[]; line: number }[] = [];
  const nodes: ClusterNode[] = [];
  let epochs: { current: bigint; lastVote: bigint } = { current: 0n, lastVote: 0n };
  let myself: ClusterNode | null = null;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === "") continue;
    const w = raw.split(/\s+/);
    const fail = (why: string) => new ConfigError(file, i + 1, `Unrecoverable error: ${why}`);
    if (w[0] === "vars") {
      for (let j = 1; j + 1 < w.length; j += 2) {
        const v = BigInt(/^\d+$/.test(w[j + 1]!) ? w[j + 1]! : "0");
        if (w[j] === "currentEpoch") epochs = { ...epochs, current: v };
        else if (w[j] === "lastVoteEpoch") epochs = { ...epochs, lastVote: v };
      }
      continue;
    }
    if (w.length < 8) {
      throw fail("corrupted cluster config file (a node line has fewer than 8 fields)");
    }
    const [name, addr, flags, master, , , epoch] = w as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    if (!/^[0-9a-f]{40}$/.test(name)) throw fail(`bad node name '${name}'`);
    const m = /^(.*):(\d+)@(\d+)(?:,(.*))?$/.exec(addr);
    if (!m) throw fail(`bad address '${addr}'`);
    let bits = 0;
    for (const f of flags.split(",")) {
      const b = FLAG_WORDS[f];
      if (b === undefined) throw fail(`unknown node flag '${f}'`);
      bits |= b;
    }
    if (!/^\d+$/.test(epoch)) throw fail(`bad config epoch '${epoch}'`);
    const n = newNode(name, bits & ~(F.PFAIL), now);
    n.ip = m[1]!;
    n.port = Number(m[2]);
    n.cport = Number(m[3]);
    n.hostname = m[4] ?? "";
    n.configEpoch = BigInt(epoch);
    if (master !== "-") pending.push({ node: n, master });
    if (bits & F.MYSELF) {
      if (myself) throw fail("more than one node flagged myself");
      myself = n;
    }
    nodes.push(n);
    slotLines.push({ node: n, words: w.slice(8), line: i + 1 });
  }
  if (nodes.length === 0) return null;
  if (!myself) throw new ConfigError(file, 0, "Unrecoverable error: no node flagged myself");
  st = new ClusterState(myself);
  for (const n of nodes) st.addNode(n);
  for (const p of pending) p.node.slaveof = p.master;
  for (const { node, words, line } of slotLines) {
    for (const word of words) {
      const bad = () => new ConfigError(file, line, `Unrecoverable error: bad slot '${word}'`);
      const mig = /^\[(\d+)-([<>])-([0-9a-f]{40})\]$/.exec(word);
      if (mig) {
        const slot = Number(mig[1]);
        if (slot >= CLUSTER_SLOTS) throw bad();
        const other = st.nodes.get(mig[3]!) ?? newNode(mig[3]!, F.NOADDR, now);
        if (!st.nodes.has(other.name)) st.addNode(other);
        if (mig[2] === ">") st.migrating.set(slot, other);
        else st.importing.set(slot, other);
        continue;
      }
      const r = /^(\d+)(?:-(\d+))?$/.exec(word);
      if (!r) throw bad();
      const a = Number(r[1]), b = r[2] === undefined ? a : Number(r[2]);
      if (a > b || b >= CLUSTER_SLOTS) throw bad();
      for (let s = a; s <= b; s++) st.addSlot(node, s);
    }
  }
  st.currentEpoch = epochs.current;
  st.lastVoteEpoch = epochs.lastVote;
  return st;
}

/** Writes nodes.conf in place, fsynced unless `fsync` is false. Throws on failure. */
export function saveNodesConf(path: string, st: ClusterState, fsync = true): void {
  writeInPlaceSync(path, formatNodesConf(st), fsync);
}

/**
 * Overwrites a file in place: padded with newlines to its old length first (blank lines are
 * skipped when it is read), fsynced if asked, then truncated to the new text's length.
 */
function writeInPlaceSync(path: string, text: string, fsync: boolean): void {
  const f = Deno.openSync(path, { create: true, write: true });
  try {
    const old = f.statSync().size;
    const bytes = new Uint8Array(Math.max(old, text.length));
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    bytes.fill(10, text.length);
    let off = 0;
    while (off < bytes.length) off += f.writeSync(bytes.subarray(off));
    if (fsync) f.syncSync();
    if (old > text.length) f.truncateSync(text.length);
  } finally {
    f.close();
  }
}
