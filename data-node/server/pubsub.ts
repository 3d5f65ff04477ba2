/** Channel and pattern subscriptions, and message delivery in RESP2 or RESP3 shape. */
import { globMatch } from "../../shared/glob.ts";
import { keyHashSlot } from "../../shared/slots.ts";
import type { Client } from "./client.ts";

export class PubSub {
  /** Called for a subscriber whose output grew (the server writes it out once per tick). */
  onOutput: (c: Client) => void = () => {};
  readonly channels = new Map<string, Set<Client>>();
  readonly patterns = new Map<string, Set<Client>>();
  /** Shard channels (SSUBSCRIBE): in cluster mode, each lives on the shard of its slot. */
  readonly shardChannels = new Map<string, Set<Client>>();

  ssubscribe(c: Client, channel: string): boolean {
    if (c.shardChannels.has(channel)) return false;
    c.shardChannels.add(channel);
    addTo(this.shardChannels, channel, c);
    return true;
  }

  sunsubscribe(c: Client, channel: string): boolean {
    if (!c.shardChannels.delete(channel)) return false;
    removeFrom(this.shardChannels, channel, c);
    return true;
  }

  /** SPUBLISH: delivers `smessage` to the channel's shard subscribers; the receiver count. */
  spublish(channel: string, message: string): number {
    const subs = this.shardChannels.get(channel);
    if (!subs) return 0;
    for (const c of subs) {
      const out = c.pushOut;
      out.push(3);
      out.bulk("smessage");
      out.bulk(channel);
      out.bulk(message);
      this.onOutput(c);
    }
    return subs.size;
  }

  /**
   * The shard channels of a slot our shard no longer serves: every subscriber is unsubscribed
   * and told with a `sunsubscribe` message, as Redis does.
   */
  dropShardSlot(slot: number): void {
    if (this.shardChannels.size === 0) return;
    for (const [ch, subs] of [...this.shardChannels]) {
      if (keyHashSlot(ch) !== slot) continue;
      for (const c of [...subs]) {
        this.sunsubscribe(c, ch);
        const out = c.pushOut;
        out.push(3);
        out.bulk("sunsubscribe");
        out.bulk(ch);
        out.int(c.shardChannels.size);
        this.onOutput(c);
      }
    }
  }

  subscribe(c: Client, channel: string): boolean {
    if (c.channels.has(channel)) return false;
    c.channels.add(channel);
    addTo(this.channels, channel, c);
    return true;
  }

  unsubscribe(c: Client, channel: string): boolean {
    if (!c.channels.delete(channel)) return false;
    removeFrom(this.channels, channel, c);
    return true;
  }

  psubscribe(c: Client, pattern: string): boolean {
    if (c.patterns.has(pattern)) return false;
    c.patterns.add(pattern);
    addTo(this.patterns, pattern, c);
    return true;
  }

  punsubscribe(c: Client, pattern: string): boolean {
    if (!c.patterns.delete(pattern)) return false;
    removeFrom(this.patterns, pattern, c);
    return true;
  }

  /** Drops every subscription of a client that is going away. */
  removeClient(c: Client): void {
    for (const ch of c.channels) removeFrom(this.channels, ch, c);
    for (const p of c.patterns) removeFrom(this.patterns, p, c);
    for (const ch of c.shardChannels) removeFrom(this.shardChannels, ch, c);
    c.channels.clear();
    c.patterns.clear();
    c.shardChannels.clear();
  }

  /** Delivers to channel subscribers and matching patterns; returns the receiver count. */
  publish(channel: string, message: string): number {
    let n = 0;
    const subs = this.channels.get(channel);
    if (subs) {
      for (const c of subs) {
        const out = c.pushOut;
        out.push(3);
        out.bulk("message");
        out.bulk(channel);
        out.bulk(message);
        this.onOutput(c);
        n++;
      }
    }
    for (const [pattern, clients] of this.patterns) {
      if (!globMatch(pattern, channel)) continue;
      for (const c of clients) {
        const out = c.pushOut;
        out.push(4);
        out.bulk("pmessage");
        out.bulk(pattern);
        out.bulk(channel);
        out.bulk(message);
        this.onOutput(c);
        n++;
      }
    }
    return n;
  }
}

function addTo(m: Map<string, Set<Client>>, k: string, c: Client): void {
  let s = m.get(k);
  if (!s) m.set(k, s = new Set());
  s.add(c);
}

function removeFrom(m: Map<string, Set<Client>>, k: string, c: Client): void {
  const s = m.get(k);
  if (!s) return;
  s.delete(c);
  if (s.size === 0) m.delete(k);
}
