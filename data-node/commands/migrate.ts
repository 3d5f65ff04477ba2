/**
 * MIGRATE, and the connections it keeps to its targets (Redis's migrate_cached_sockets): one per
 * host:port, reused by the next MIGRATE to the same target (a reshard sends thousands), at most
 * MIGRATE_CACHE_ITEMS of them, each closed after MIGRATE_CACHE_TTL_MS unused. SELECT is sent
 * only when the target's database is not the one the link last selected; AUTH, when given, on
 * every call, as Redis does. The MIGRATEs to one target take turns on its link.
 */
import { lookup } from "node:dns/promises";
import { NOTIFY } from "../engine/notify.ts";
import type { ClientState, Engine } from "../engine/types.ts";
import { dumpPayload } from "../persistence/rdb.ts";
import { ERR, parseIndex } from "./define.ts";
import {
  NEED_MORE,
  RespDecoder,
  RespError,
  type RespValue,
  RespWriter,
  writeCommand,
} from "../../shared/resp/mod.ts";

/** Redis's MIGRATE_SOCKET_CACHE_ITEMS. */
export const MIGRATE_CACHE_ITEMS = 64;
/** Redis's MIGRATE_SOCKET_CACHE_TTL (10 s). */
export const MIGRATE_CACHE_TTL_MS = 10_000;
/** How often idle links are looked for. */
const SWEEP_MS = 1000;
/** A target answers MIGRATE's commands with status lines: anything large is not a target. */
const REPLY_LIMITS = { maxBulkLen: 64 * 1024, maxMultibulkLen: 1024, maxInlineLen: 64 * 1024 };

/** How an exchange with a target ended. */
interface Exchange {
  replies: RespValue[];
  /** Null when every reply came; else the step that failed. */
  failed: null | "writing" | "reading";
  timedOut: boolean;
}

/** One connection to a target. */
class TargetLink {
  /** The database selected on the target (-1: unknown, SELECT next time). */
  lastDb = -1;
  lastUseMs = 0;
  busy = false;
  closed = false;
  private readonly decoder = new RespDecoder(REPLY_LIMITS);
  private readonly buf = new Uint8Array(16 * 1024);
  /** The exchange in progress: its timeout, its last progress, and whether it timed out. */
  private timeoutMs = 0;
  private progressMs = 0;
  private timedOut = false;
  /**
   * One timer per link, not per exchange: when it fires it closes a stalled exchange, or is armed
   * again for what is left (back-to-back MIGRATEs share it).
   */
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = 0;

  constructor(private readonly conn: Deno.TcpConn) {}

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }

  private arm(ms: number): void {
    const at = Date.now() + ms;
    if (this.timer !== undefined) {
      if (this.timerAt <= at) return;
      clearTimeout(this.timer);
    }
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.busy || this.closed) return;
      const idle = Date.now() - this.progressMs;
      if (idle < this.timeoutMs) return this.arm(this.timeoutMs - idle);
      this.timedOut = true;
      this.close();
    }, ms);
  }

  /**
   * Writes `bytes`, then reads `count` replies. The link closes when `timeoutMs` pass without
   * progress (a write or a read), as Redis's synchronous reads and writes time out; any failure
   * closes it too.
   */
  async exchange(bytes: Uint8Array, count: number, timeoutMs: number): Promise<Exchange> {
    const out: Exchange = { replies: [], failed: "writing", timedOut: false };
    this.timeoutMs = timeoutMs;
    this.progressMs = Date.now();
    this.timedOut = false;
    this.arm(timeoutMs);
    // The replies are read while the commands are still being written: a write is then not a
    // turn of the event loop of its own before the read starts.
    let wrote = false;
    const writing = this.writeAll(bytes).then(() => {
      wrote = true;
    }, () => this.close());
    try {
      while (out.replies.length < count) {
        let v = this.decoder.next();
        while (v !== NEED_MORE) {
          out.replies.push(v);
          if (out.replies.length === count) break;
          v = this.decoder.next();
        }
        if (out.replies.length === count) break;
        const n = await this.conn.read(this.buf);
        if (n === null) throw new Error("closed by the target");
        this.progressMs = Date.now();
        this.decoder.push(this.buf.subarray(0, n));
      }
      await writing;
      if (!wrote) throw new Error("write failed");
      out.failed = null;
      // Anything beyond the replies asked for puts the stream out of step: not reused.
      if (this.decoder.pending > 0) this.close();
    } catch {
      this.close();
      await writing;
      if (wrote) out.failed = "reading";
    }
    out.timedOut = this.timedOut;
    return out;
  }

  private async writeAll(bytes: Uint8Array): Promise<void> {
    for (let off = 0; off < bytes.length;) {
      off += await this.conn.write(bytes.subarray(off));
      this.progressMs = Date.now();
    }
  }
}

/** The cached links of one server. */
class TargetLinks {
  private readonly links = new Map<string, TargetLink>();
  /** The tail of each target's queue of MIGRATEs. */
  private readonly turns = new Map<string, Promise<void>>();
  private sweeper: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly s: Engine) {}

  /**
   * The target's turn: the function to call when done, at once when no earlier MIGRATE to it is
   * under way (the common case: the exchange starts without waiting for a promise), else a
   * promise of it.
   */
  turn(name: string): (() => void) | Promise<() => void> {
    const before = this.turns.get(name);
    let done = () => {};
    const mine = new Promise<void>((r) => (done = r));
    const tail = before ? before.then(() => mine) : mine;
    this.turns.set(name, tail);
    const end = () => {
      done();
      if (this.turns.get(name) === tail) this.turns.delete(name);
    };
    return before ? before.then(() => end) : end;
  }

  /** The cached link to `name` (host:port), if it is still open. */
  get(name: string): TargetLink | undefined {
    const l = this.links.get(name);
    if (l && l.closed) {
      this.links.delete(name);
      return undefined;
    }
    return l;
  }

  /** Connects to a target; the link is cached, unless all cached links are in use. */
  async open(name: string, host: string, port: number, timeoutMs: number): Promise<TargetLink> {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), timeoutMs);
    let conn: Deno.TcpConn;
    try {
      conn = await Deno.connect({ hostname: host, port, signal: ac.signal });
    } finally {
      clearTimeout(timer);
    }
    try {
      conn.setNoDelay(true);
    } catch { /* not fatal */ }
    const link = new TargetLink(conn);
    if (this.links.size >= MIGRATE_CACHE_ITEMS) {
      // The least recently used idle link makes room.
      for (const [k, l] of this.links) {
        if (l.busy) continue;
        l.close();
        this.links.delete(k);
        break;
      }
    }
    if (this.links.size < MIGRATE_CACHE_ITEMS) {
      this.links.set(name, link);
      this.startSweeper();
    }
    return link;
  }

  /** Marks a link used now (most recently used last). */
  touch(name: string, link: TargetLink): void {
    link.lastUseMs = this.s.clock.nowMs();
    if (this.links.get(name) === link) {
      this.links.delete(name);
      this.links.set(name, link);
    }
  }

  drop(name: string, link: TargetLink): void {
    link.close();
    if (this.links.get(name) === link) this.links.delete(name);
  }

  /** Whether the link is kept after this MIGRATE (an uncached one is closed). */
  cached(name: string, link: TargetLink): boolean {
    return this.links.get(name) === link;
  }

  private startSweeper(): void {
    if (this.sweeper) return;
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
  }

  /** Closes the links unused for MIGRATE_CACHE_TTL_MS. */
  sweep(): void {
    const now = this.s.clock.nowMs();
    for (const [k, l] of this.links) {
      if (l.closed || (!l.busy && now - l.lastUseMs > MIGRATE_CACHE_TTL_MS)) {
        l.close();
        this.links.delete(k);
      }
    }
    if (this.links.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  get size(): number {
    return this.links.size;
  }
}

const perServer = new WeakMap<Engine, TargetLinks>();

function linksOf(s: Engine): TargetLinks {
  let l = perServer.get(s);
  if (!l) perServer.set(s, l = new TargetLinks(s));
  return l;
}

/** How many cached MIGRATE links a server holds (INFO migrate_cached_sockets). */
export function cachedMigrateLinks(s: Engine): number {
  return perServer.get(s)?.size ?? 0;
}

interface Moving {
  key: string;
  entry: unknown;
  ttl: number;
  payload: Uint8Array;
}

/**
 * MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH pw | AUTH2 user pw]
 * [KEYS key ...]: each key goes to the target as RESTORE (RESTORE-ASKING in cluster mode, so a
 * node importing the slot takes it), then is deleted here unless COPY. The client waits for the
 * target's replies; meanwhile other clients' writes to the keys wait too (Redis serves no one
 * during a MIGRATE), and a key that expired meanwhile is left alone.
 */
export function migrate(s: Engine, c: ClientState, argv: string[]): void | Promise<void> {
  let copy = false, replace = false;
  let auth: { user?: string; pass: string } | null = null;
  let firstKey = 3, numKeys = 1;
  for (let j = 6; j < argv.length; j++) {
    const o = argv[j]!.toLowerCase();
    const more = argv.length - j - 1;
    if (o === "copy") copy = true;
    else if (o === "replace") replace = true;
    else if (o === "auth" && more >= 1) {
      c.redact(argv, j + 1);
      auth = { pass: argv[++j]! };
    } else if (o === "auth2" && more >= 2) {
      c.redact(argv, j + 1);
      c.redact(argv, j + 2);
      auth = { user: argv[j + 1]!, pass: argv[j + 2]! };
      j += 2;
    } else if (o === "keys") {
      if (argv[3] !== "") {
        return c.error(
          "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string",
        );
      }
      firstKey = j + 1;
      numKeys = argv.length - j - 1;
      break;
    } else return c.error(ERR.syntax);
  }
  // The port is read as C's atoi reads it (leading digits, else 0): a bad one fails to connect.
  const port = atoi(argv[2]!);
  let timeout = parseIndex(argv[5]!);
  const db = parseIndex(argv[4]!);
  if (db === null || timeout === null) return c.error(ERR.notInt);
  if (timeout <= 0) timeout = 1000;
  const moving: Moving[] = [];
  const opts = {
    compress: s.config.get<boolean>("rdbcompression"),
    listFill: s.config.get<number>("list-max-listpack-size"),
  };
  for (let i = 0; i < numKeys; i++) {
    const key = argv[firstKey + i]!;
    const e = c.db.lookup(key);
    if (!e) continue;
    const exp = c.db.getExpire(key);
    let ttl = 0;
    if (exp !== undefined) {
      ttl = exp - s.nowMs;
      if (ttl < 1) ttl = 1;
    }
    moving.push({ key, entry: e, ttl, payload: dumpPayload(e.value, opts) });
  }
  if (moving.length === 0) return c.out.simple("NOKEY");
  // Writes to these keys wait until the target has answered and the keys are gone here.
  const locked = moving.map((p) => p.key);
  s.migrating.lock(locked);
  return send(s, c, argv[1]!, port, db, timeout, { copy, replace, auth }, moving)
    .finally(() => s.migrating.unlock(locked));
}

/**
 * C's atoi, which is (int)strtol(s): optional spaces and sign, then digits up to the first other
 * character; past the range of a 64-bit long it saturates, and the int keeps the low 32 bits.
 */
function atoi(s: string): number {
  let i = 0;
  while (i < s.length && " \t\n\v\f\r".includes(s[i]!)) i++;
  let neg = false;
  if (s[i] === "+" || s[i] === "-") neg = s[i++] === "-";
  const LONG_MAX = (1n << 63n) - 1n, LONG_MIN = -(1n << 63n);
  let n = 0n;
  for (; i < s.length && s[i]! >= "0" && s[i]! <= "9" && n <= LONG_MAX; i++) {
    n = n * 10n + BigInt(s.charCodeAt(i) - 48);
  }
  let v = neg ? -n : n;
  if (v > LONG_MAX) v = LONG_MAX;
  else if (v < LONG_MIN) v = LONG_MIN;
  return Number(BigInt.asIntN(32, v));
}

/** Whether getaddrinfo finds the host. */
async function resolves(host: string): Promise<boolean> {
  try {
    await lookup(host);
    return true;
  } catch {
    return false;
  }
}

async function send(
  s: Engine,
  c: ClientState,
  host: string,
  port: number,
  db: number,
  timeout: number,
  o: { copy: boolean; replace: boolean; auth: { user?: string; pass: string } | null },
  moving: Moving[],
): Promise<void> {
  const links = linksOf(s);
  const name = `${host}:${port}`;
  const restoreCmd = s.clusterEnabled ? "RESTORE-ASKING" : "RESTORE";
  const db0 = c.db;
  const turn = links.turn(name);
  const done = typeof turn === "function" ? turn : await turn;
  try {
    for (let mayRetry = true;; mayRetry = false) {
      let link = links.get(name);
      if (!link) {
        // Redis formats the port for getaddrinfo, which fails on a negative one (or a host it
        // cannot find, an empty one included) and keeps the low 16 bits of a larger one; its
        // connect only waits for the socket to be writable, so a refused connection (port 0
        // included, once the host resolves) fails at the first write instead.
        const p16 = port & 0xffff;
        let refused = false;
        if (port >= 0 && host !== "") {
          if (p16 === 0) refused = await resolves(host);
          else {
            try {
              link = await links.open(name, host, p16, timeout);
            } catch (e) {
              refused = e instanceof Deno.errors.ConnectionRefused;
            }
          }
        }
        if (!link) {
          return c.error(
            refused
              ? "IOERR error or timeout writing to target instance"
              : "IOERR error or timeout connecting to the client",
          );
        }
      }
      link.busy = true;
      links.touch(name, link);
      const select = link.lastDb !== db;
      const w = new RespWriter(1024);
      if (o.auth) {
        writeCommand(w, o.auth.user ? ["AUTH", o.auth.user, o.auth.pass] : ["AUTH", o.auth.pass]);
      }
      if (select) writeCommand(w, ["SELECT", String(db)]);
      for (const p of moving) {
        writeCommand(
          w,
          o.replace
            ? [restoreCmd, p.key, String(p.ttl), p.payload, "REPLACE"]
            : [restoreCmd, p.key, String(p.ttl), p.payload],
        );
      }
      const before = (o.auth ? 1 : 0) + (select ? 1 : 0);
      const r = await link.exchange(w.take(), before + moving.length, timeout);
      link.busy = false;
      const restored = Math.max(0, r.replies.length - before);
      // As Redis: a cached link the target has closed fails before any RESTORE reply; unless
      // that was a timeout it is tried once more on a new link.
      if (r.failed && restored === 0 && !r.timedOut && mayRetry) {
        links.drop(name, link);
        continue;
      }
      // An error from AUTH or SELECT counts for every key, as Redis reads it.
      const early = r.replies.slice(0, before).find((v) => v instanceof RespError);
      let failure = early as RespError | undefined;
      const deleted: string[] = [];
      for (let i = 0; i < restored; i++) {
        const v = r.replies[before + i]!;
        if (early || v instanceof RespError) {
          failure ??= v as RespError;
          continue;
        }
        const p = moving[i]!;
        if (!o.copy && db0.lookup(p.key, false) === p.entry && db0.delete(p.key)) {
          s.notify(NOTIFY.GENERIC, "del", p.key, db0.id);
          deleted.push(p.key);
        }
      }
      if (deleted.length > 0) {
        s.dirty += deleted.length;
        s.propagation.also(db0.id, ["DEL", ...deleted]);
      }
      if (r.failed) links.drop(name, link);
      else if (!links.cached(name, link)) link.close();
      if (failure) {
        link.lastDb = -1;
        return c.error(`ERR Target instance replied with error: ${failure.message}`);
      }
      if (r.failed) {
        return c.error(`IOERR error or timeout ${r.failed} to target instance`);
      }
      link.lastDb = db;
      return c.out.ok();
    }
  } finally {
    done();
  }
}
