/**
 * Keyspace notifications (Redis's notify-keyspace-events). A command that changes a key tells
 * the notifier what happened, after the change, with the event's class and Redis's event name:
 *
 *     s.notify(NOTIFY.STRING, "set", key, c.db.id);
 *
 * When the class is enabled, the event goes out through the local pub/sub as a message on
 * `__keyspace@<db>__:<key>` (message: the event, flag K) and one on `__keyevent@<db>__:<event>`
 * (message: the key, flag E). Nothing here is propagated: replicas and the AOF get the command,
 * and a replica raises the same events when it applies it. With notifications off (the default)
 * a call costs one integer test.
 *
 * Families call notify() for the events their command raises, in Redis's order; the keyspace
 * raises the generic ones itself: `new` (a key created), `expired` and `evicted`.
 */
import type { PubSub } from "../server/pubsub.ts";

/** Event classes: the bits of notify-keyspace-events (Redis's NOTIFY_* values). */
export const NOTIFY = {
  KEYSPACE: 1 << 0, // K
  KEYEVENT: 1 << 1, // E
  GENERIC: 1 << 2, // g
  STRING: 1 << 3, // $
  LIST: 1 << 4, // l
  SET: 1 << 5, // s
  HASH: 1 << 6, // h
  ZSET: 1 << 7, // z
  EXPIRED: 1 << 8, // x
  EVICTED: 1 << 9, // e
  STREAM: 1 << 10, // t
  KEY_MISS: 1 << 11, // m
  LOADED: 1 << 12, // (modules only)
  MODULE: 1 << 13, // d
  NEW: 1 << 14, // n
} as const;

/** `A`: every class but key-miss and new, as in Redis. */
const ALL = NOTIFY.GENERIC | NOTIFY.STRING | NOTIFY.LIST | NOTIFY.SET | NOTIFY.HASH |
  NOTIFY.ZSET | NOTIFY.EXPIRED | NOTIFY.EVICTED | NOTIFY.STREAM | NOTIFY.MODULE;

const LETTERS: Record<string, number> = {
  A: ALL,
  g: NOTIFY.GENERIC,
  $: NOTIFY.STRING,
  l: NOTIFY.LIST,
  s: NOTIFY.SET,
  h: NOTIFY.HASH,
  z: NOTIFY.ZSET,
  x: NOTIFY.EXPIRED,
  e: NOTIFY.EVICTED,
  K: NOTIFY.KEYSPACE,
  E: NOTIFY.KEYEVENT,
  t: NOTIFY.STREAM,
  m: NOTIFY.KEY_MISS,
  d: NOTIFY.MODULE,
  n: NOTIFY.NEW,
};

export const INVALID_NOTIFY_FLAGS = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";

/** The flags a notify-keyspace-events value stands for; null when a character is not a flag. */
export function parseNotifyFlags(s: string): number | null {
  let flags = 0;
  for (const ch of s) {
    const f = LETTERS[ch];
    if (f === undefined) return null;
    flags |= f;
  }
  return flags;
}

/**
 * The value as CONFIG GET shows it, in Redis 7.0's order: `A` when every class of `A` is on
 * (else each class letter), then K, E, m. As in 7.0, `n` shows only without `A`.
 */
export function formatNotifyFlags(flags: number): string {
  let out = "";
  if ((flags & ALL) === ALL) out += "A";
  else {
    for (const ch of "g$lshzxetdn") if (flags & LETTERS[ch]!) out += ch;
  }
  if (flags & NOTIFY.KEYSPACE) out += "K";
  if (flags & NOTIFY.KEYEVENT) out += "E";
  if (flags & NOTIFY.KEY_MISS) out += "m";
  return out;
}

/** The config schema's type for notify-keyspace-events: held as the flags. */
export const notifyFlagsType = {
  kind: "custom",
  parse: (args: string[]): number | Error => {
    const f = parseNotifyFlags(args.join(" "));
    return f === null ? new Error(INVALID_NOTIFY_FLAGS) : f;
  },
  format: (v: unknown) => {
    const s = formatNotifyFlags(v as number);
    return [s === "" ? '""' : s];
  },
  show: (v: unknown) => formatNotifyFlags(v as number),
} as const;

export class Notifier {
  /** The enabled classes (notify-keyspace-events); 0 = off. */
  flags = 0;

  constructor(private readonly pubsub: PubSub) {}

  /** Publishes one event if its class is enabled (see the top of this file). */
  notify(type: number, event: string, key: string, dbId: number): void {
    if ((this.flags & type) === 0) return;
    this.publish(event, key, dbId);
  }

  /** Publishes one event unconditionally (callers have tested its class). */
  publish(event: string, key: string, dbId: number): void {
    if (this.flags & NOTIFY.KEYSPACE) {
      this.pubsub.publish(`__keyspace@${dbId}__:${key}`, event);
    }
    if (this.flags & NOTIFY.KEYEVENT) {
      this.pubsub.publish(`__keyevent@${dbId}__:${event}`, key);
    }
  }
}
