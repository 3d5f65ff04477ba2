/**
 * Blocking commands (BLPOP, BLMOVE, BZPOPMIN...): a client waits on keys until a write makes
 * one of them ready, its timeout fires, or CLIENT UNBLOCK wakes it. Waiters on a key are served
 * first come, first served. After every command the server retries the waiters of keys that
 * were modified, which is when Redis serves blocked clients too.
 */
import { MAX_TIMER_MS } from "../../shared/limits.ts";
import type { Client } from "./client.ts";
import type { Database } from "../store/database.ts";

export interface BlockSpec {
  db: Database;
  keys: string[];
  /** 0 = forever. */
  timeoutMs: number;
  /** Tries to serve the client from a key that became ready; true when it replied. */
  retry(key: string): boolean;
  /** Replies for a timeout (usually a null array). */
  onTimeout(): void;
}

interface Waiter {
  client: Client;
  spec: BlockSpec;
  done: () => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

const UNBLOCKED_ERROR = "UNBLOCKED client unblocked via CLIENT UNBLOCK";

export class BlockingRegistry {
  /** Called for a served client (the server writes it out once per tick). */
  onOutput: (c: Client) => void = () => {};
  /** Around each retry: the client a retry serves runs as the current client (tracking). */
  onRetry: (c: Client | null) => void = () => {};
  /** Called when a client stops waiting: `served` unless it timed out (or disconnected). */
  onUnblocked: (c: Client, served: boolean) => void = () => {};
  /** "db\0key" -> waiters in arrival order (a Set keeps insertion order). */
  private readonly waiting = new Map<string, Set<Waiter>>();
  private readonly ready = new Set<string>();
  private readonly byClient = new Map<Client, Waiter>();
  private serving = false;

  get blockedCount(): number {
    return this.byClient.size;
  }

  /** Blocks a client; resolves when it was served, timed out or unblocked. */
  block(client: Client, spec: BlockSpec): Promise<void> {
    return new Promise<void>((resolve) => {
      const w: Waiter = { client, spec, done: resolve, timer: undefined };
      for (const k of spec.keys) {
        const id = keyId(spec.db, k);
        let set = this.waiting.get(id);
        if (!set) this.waiting.set(id, set = new Set());
        set.add(w);
      }
      this.byClient.set(client, w);
      client.blocked = {
        unblock: (reason) => this.unblock(client, reason),
        timed: spec.timeoutMs > 0,
      };
      if (spec.timeoutMs > 0) this.armTimeout(w, Date.now() + spec.timeoutMs);
    });
  }

  /**
   * Times the waiter out at `deadline`. Timers fire at once past 2^31-1 ms, so a longer wait
   * (BLPOP k 2147484 and up, as Redis allows) is made of capped steps.
   */
  private armTimeout(w: Waiter, deadline: number): void {
    const left = deadline - Date.now();
    if (left > MAX_TIMER_MS) {
      w.timer = setTimeout(() => this.armTimeout(w, deadline), MAX_TIMER_MS);
    } else {
      w.timer = setTimeout(() => this.finish(w, () => w.spec.onTimeout()), Math.max(0, left));
    }
  }

  /** Called on every key modification: cheap unless someone waits on that key. */
  keyModified(db: Database, key: string): void {
    if (this.waiting.size === 0) return;
    const id = keyId(db, key);
    if (this.waiting.has(id)) this.ready.add(id);
  }

  /**
   * After a database's contents were replaced (SWAPDB, FLUSHDB, FLUSHALL): every key waited on
   * there is retried, as Redis rescans its blocked keys then: one that exists now may serve its
   * waiters, and XREADGROUP waiters whose stream is gone get their error.
   */
  contentsReplaced(db: Database): void {
    if (this.waiting.size === 0) return;
    const prefix = `${db.id}\0`;
    for (const id of this.waiting.keys()) {
      if (id.startsWith(prefix)) this.ready.add(id);
    }
  }

  /** Retries waiters of modified keys, FIFO per key, until no key is ready. */
  serveReady(): void {
    if (this.serving || this.ready.size === 0) return;
    this.serving = true;
    try {
      while (this.ready.size > 0) {
        const id = this.ready.values().next().value!;
        this.ready.delete(id);
        const set = this.waiting.get(id);
        if (!set) continue;
        for (const w of [...set]) {
          if (!this.byClient.has(w.client)) continue;
          // Whether the reply it gets is an error (failed_calls).
          w.client.failed = false;
          this.onRetry(w.client);
          try {
            if (w.spec.retry(id.slice(id.indexOf("\0") + 1))) this.finish(w, null);
          } finally {
            this.onRetry(null);
          }
          this.onOutput(w.client);
        }
      }
    } finally {
      this.serving = false;
    }
  }

  /**
   * CLIENT UNBLOCK (timeout or error) and clients that disconnect; `message` replaces CLIENT
   * UNBLOCK's error text.
   */
  unblock(client: Client, reason: "timeout" | "error", message = UNBLOCKED_ERROR): boolean {
    const w = this.byClient.get(client);
    if (!w) return false;
    client.failed = false;
    this.finish(w, () => {
      if (reason === "timeout") w.spec.onTimeout();
      else client.error(message);
    }, reason === "error");
    return true;
  }

  /**
   * Ends the waits that `refuse` gives an error for, with that error (cluster mode: a key
   * whose slot is served elsewhere now, or the cluster is down).
   */
  refuse(refuse: (client: Client, key: string) => string | null): void {
    if (this.byClient.size === 0) return;
    for (const w of [...this.byClient.values()]) {
      // Every key of a wait is in one slot in cluster mode: the first one tells.
      const key = w.spec.keys[0];
      if (key === undefined) continue;
      const err = refuse(w.client, key);
      if (err === null) continue;
      w.client.failed = false;
      this.finish(w, () => w.client.error(err), false);
    }
  }

  private finish(w: Waiter, reply: (() => void) | null, served = reply === null): void {
    if (!this.byClient.has(w.client)) return;
    this.byClient.delete(w.client);
    clearTimeout(w.timer);
    for (const k of w.spec.keys) {
      const id = keyId(w.spec.db, k);
      const set = this.waiting.get(id);
      set?.delete(w);
      if (set?.size === 0) this.waiting.delete(id);
    }
    w.client.blocked = null;
    if (reply && !w.client.closing) reply();
    this.onUnblocked(w.client, served && !w.client.closing);
    w.done();
  }
}

function keyId(db: Database, key: string): string {
  return `${db.id}\0${key}`;
}
