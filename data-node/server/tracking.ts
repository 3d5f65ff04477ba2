/**
 * Client-side caching (CLIENT TRACKING), as Redis 7.0 serves it.
 *
 * Default mode: the keys a tracking client reads with a read-only command go into the tracking
 * table (key -> ids of the clients that may cache it). When a key changes (every change goes
 * through the keyspace's modification signal, the one WATCH uses), expires or is evicted, each
 * client in its entry gets one invalidation and the entry goes: a client is told once until it
 * reads the key again. BCAST mode: clients subscribe to key prefixes instead; the keys changed
 * under a prefix are collected and sent as one message per prefix once the current work is done.
 *
 * An invalidation goes as a RESP3 push `>2 invalidate [keys]` to the client itself, or to its
 * REDIRECT client: pushed to a RESP3 one, or as a message on `__redis__:invalidate` to a RESP2
 * one subscribed there. A flush invalidates everything with a null in place of the keys. A
 * client's own change of a key it tracks reaches it after the reply to the command.
 */
import type { Client } from "./client.ts";

/** A client's tracking options (CLIENT TRACKING ON ...); null on the client while off. */
export interface TrackingState {
  /** REDIRECT target id, 0 for none. */
  redirect: number;
  bcast: boolean;
  optin: boolean;
  optout: boolean;
  noloop: boolean;
  /** CLIENT CACHING YES (OPTIN) / NO (OPTOUT) given for the next command. */
  caching: boolean;
  /** The REDIRECT client went away (CLIENT LIST flag R). */
  brokenRedirect: boolean;
  /** BCAST prefixes. */
  prefixes: Set<string>;
}

/** One BCAST prefix: its subscribers, and the keys changed since the last broadcast. */
interface PrefixState {
  clients: Set<Client>;
  /** Changed key -> the client that changed it (null: no client), for NOLOOP. */
  keys: Map<string, Client | null>;
}

/** How many table entries one call may drop per round over tracking-table-max-keys. */
const EVICTION_EFFORT = 100;

export const TRACKING_CHANNEL = "__redis__:invalidate";

export class Tracking {
  /** key -> ids of the clients that read it while tracking. */
  readonly table = new Map<string, Set<number>>();
  /** Sum of the table's id sets (INFO tracking_total_items). */
  totalItems = 0;
  readonly prefixes = new Map<string, PrefixState>();
  /** Clients with tracking on (INFO tracking_clients); 0 keeps the hot path to one test. */
  clientsOn = 0;
  /** The client running the current top-level command, or null (cron, eviction). */
  current: Client | null = null;
  /** Invalidations for `current` held until its reply is written (null = flush). */
  private pending: (string | null)[] = [];
  private broadcastScheduled = false;
  /** Rounds in a row that ended over the limit: each one tries harder, as Redis does. */
  private overLimitRounds = 0;

  constructor(
    private readonly clients: Map<number, Client>,
    /** A client's output grew outside its own read loop. */
    private readonly onOutput: (c: Client) => void,
    /** tracking-table-max-keys. */
    private readonly maxKeys: () => number,
  ) {}

  /** True when a change of a key may concern someone. */
  get active(): boolean {
    return this.table.size !== 0 || this.prefixes.size !== 0;
  }

  /** CLIENT TRACKING ON: (re)enables with these options; BCAST prefixes add up, as in Redis. */
  enable(
    c: Client,
    redirect: number,
    o: Omit<TrackingState, "redirect" | "caching" | "brokenRedirect" | "prefixes">,
    prefixes: string[],
  ): void {
    if (c.tracking === null) {
      this.clientsOn++;
      c.tracking = {
        redirect: 0,
        bcast: false,
        optin: false,
        optout: false,
        noloop: false,
        caching: false,
        brokenRedirect: false,
        prefixes: new Set(),
      };
    }
    const t = c.tracking;
    t.redirect = redirect;
    t.brokenRedirect = false;
    t.bcast = o.bcast;
    t.optin = o.optin;
    t.optout = o.optout;
    t.noloop = o.noloop;
    if (!o.bcast) return;
    for (const p of prefixes.length === 0 ? [""] : prefixes) {
      t.prefixes.add(p);
      let ps = this.prefixes.get(p);
      if (ps === undefined) this.prefixes.set(p, ps = { clients: new Set(), keys: new Map() });
      ps.clients.add(c);
    }
  }

  /** CLIENT TRACKING OFF, or a client going away. Its table entries stay until invalidated. */
  disable(c: Client): void {
    const t = c.tracking;
    if (t === null) return;
    for (const p of t.prefixes) {
      const ps = this.prefixes.get(p);
      if (ps === undefined) continue;
      ps.clients.delete(c);
      if (ps.clients.size === 0) this.prefixes.delete(p);
    }
    c.tracking = null;
    this.clientsOn--;
  }

  /**
   * After a read-only command of a tracking client (default mode): remembers the keys it read,
   * unless OPTIN without CACHING YES or OPTOUT with CACHING NO.
   */
  remember(c: Client, keys: readonly string[]): void {
    const t = c.tracking!;
    if ((t.optin && !t.caching) || (t.optout && t.caching)) return;
    for (const key of keys) {
      let ids = this.table.get(key);
      if (ids === undefined) this.table.set(key, ids = new Set());
      if (ids.has(c.id)) continue;
      ids.add(c.id);
      this.totalItems++;
    }
  }

  /** A key changed (modified, deleted, expired, evicted). */
  invalidate(key: string): void {
    if (this.prefixes.size !== 0) this.collectForBroadcast(key);
    const ids = this.table.get(key);
    if (ids === undefined) return;
    for (const id of ids) {
      const target = this.clients.get(id);
      // Clients that turned tracking off, or on in BCAST mode, since they read the key.
      if (target === undefined || target.tracking === null || target.tracking.bcast) continue;
      if (target === this.current) {
        if (!target.tracking.noloop) this.pending.push(key);
        continue;
      }
      this.send(target, [key]);
    }
    this.totalItems -= ids.size;
    this.table.delete(key);
  }

  /** FLUSHDB/FLUSHALL: every tracking client is told to drop everything; the table empties. */
  flushed(): void {
    if (this.clientsOn !== 0) {
      for (const c of this.clients.values()) {
        if (c.tracking === null) continue;
        if (c === this.current) this.pending.push(null);
        else this.send(c, null);
      }
    }
    this.table.clear();
    this.totalItems = 0;
  }

  /** The end of a top-level command: the held invalidations follow its reply. */
  commandDone(c: Client): void {
    this.current = null;
    if (this.pending.length === 0) return;
    const keys = this.pending;
    this.pending = [];
    if (c.tracking === null) return;
    for (const k of keys) this.send(c, k === null ? null : [k]);
  }

  /**
   * Over tracking-table-max-keys: drops entries (invalidating them) until under it, with an
   * effort that grows each round that ends over the limit. Redis picks entries at random;
   * here the oldest entries go first.
   */
  limitTableSize(): void {
    const max = this.maxKeys();
    if (max === 0 || this.table.size <= max) {
      this.overLimitRounds = 0;
      return;
    }
    let effort = EVICTION_EFFORT * (this.overLimitRounds + 1);
    for (const key of this.table.keys()) {
      if (effort-- <= 0) break;
      this.invalidate(key);
      if (this.table.size <= max) {
        this.overLimitRounds = 0;
        return;
      }
    }
    this.overLimitRounds++;
  }

  private collectForBroadcast(key: string): void {
    for (const [prefix, ps] of this.prefixes) {
      if (!key.startsWith(prefix)) continue;
      ps.keys.set(key, this.current);
      if (!this.broadcastScheduled) {
        this.broadcastScheduled = true;
        queueMicrotask(() => this.broadcast());
      }
    }
  }

  /**
   * BCAST: one message per prefix with its changed keys (minus a NOLOOP client's own). As in
   * Redis (whose tables are radix trees), prefixes and keys go in byte order.
   */
  private broadcast(): void {
    this.broadcastScheduled = false;
    for (const prefix of [...this.prefixes.keys()].sort()) {
      const ps = this.prefixes.get(prefix)!;
      if (ps.keys.size === 0) continue;
      const changed = [...ps.keys.keys()].sort();
      for (const c of ps.clients) {
        let keys = changed;
        if (c.tracking?.noloop) keys = keys.filter((k) => ps.keys.get(k) !== c);
        if (keys.length > 0) this.send(c, keys);
      }
      ps.keys.clear();
    }
  }

  /** Sends one invalidation (keys, or null for everything) for tracking client `c`. */
  private send(c: Client, keys: string[] | null): void {
    const t = c.tracking!;
    let target = c, redirected = false;
    if (t.redirect !== 0) {
      const r = this.clients.get(t.redirect);
      if (r === undefined) {
        t.brokenRedirect = true;
        if (c.proto === 3) {
          c.pushOut.push(2);
          c.pushOut.bulk("tracking-redir-broken");
          c.pushOut.int(t.redirect);
          this.onOutput(c);
        }
        return;
      }
      target = r;
      redirected = true;
    }
    const out = target.pushOut;
    if (target.proto === 3) {
      out.push(2);
      out.bulk("invalidate");
    } else if (redirected && target.subscriptionCount > 0) {
      out.push(3);
      out.bulk("message");
      out.bulk(TRACKING_CHANNEL);
    } else {
      // RESP2 without a redirect: there is no way to tell this client.
      return;
    }
    if (keys === null) out.nullBulk();
    else {
      out.array(keys.length);
      for (const k of keys) out.bulk(k);
    }
    this.onOutput(target);
  }
}
