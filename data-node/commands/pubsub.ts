/** SUBSCRIBE, PSUBSCRIBE, their UN- forms, PUBLISH and PUBSUB introspection. */
import { TO_REPL } from "../engine/propagation.ts";
import type { ClientState, Engine } from "../engine/types.ts";
import { globMatch } from "../../shared/glob.ts";
import { cmd, container, subcommandSyntaxError } from "./define.ts";
import type { CommandDef } from "./types.ts";

/** A confirmation: `[kind, name, count]`, a push in RESP3. */
function confirm(c: ClientState, kind: string, name: string | null, count: number): void {
  const out = c.pushOut;
  out.push(3);
  out.bulk(kind);
  if (name === null) out.nullBulk();
  else out.bulk(name);
  out.int(count);
}

function subscribe(s: Engine, c: ClientState, argv: string[]): void {
  for (let i = 1; i < argv.length; i++) {
    s.pubsub.subscribe(c, argv[i]!);
    confirm(c, "subscribe", argv[i]!, c.subscriptionCount);
  }
}

function psubscribe(s: Engine, c: ClientState, argv: string[]): void {
  for (let i = 1; i < argv.length; i++) {
    s.pubsub.psubscribe(c, argv[i]!);
    confirm(c, "psubscribe", argv[i]!, c.subscriptionCount);
  }
}

function unsubscribe(s: Engine, c: ClientState, argv: string[]): void {
  if (argv.length === 1) {
    unsubscribeChannels(s, c, true);
    return;
  }
  for (let i = 1; i < argv.length; i++) {
    s.pubsub.unsubscribe(c, argv[i]!);
    confirm(c, "unsubscribe", argv[i]!, c.subscriptionCount);
  }
}

function punsubscribe(s: Engine, c: ClientState, argv: string[]): void {
  if (argv.length === 1) {
    unsubscribePatterns(s, c, true);
    return;
  }
  for (let i = 1; i < argv.length; i++) {
    s.pubsub.punsubscribe(c, argv[i]!);
    confirm(c, "punsubscribe", argv[i]!, c.subscriptionCount);
  }
}

function unsubscribeChannels(s: Engine, c: ClientState, notify: boolean): void {
  if (c.channels.size === 0 && notify) confirm(c, "unsubscribe", null, c.subscriptionCount);
  for (const ch of [...c.channels]) {
    s.pubsub.unsubscribe(c, ch);
    if (notify) confirm(c, "unsubscribe", ch, c.subscriptionCount);
  }
}

function unsubscribePatterns(s: Engine, c: ClientState, notify: boolean): void {
  if (c.patterns.size === 0 && notify) confirm(c, "punsubscribe", null, c.subscriptionCount);
  for (const p of [...c.patterns]) {
    s.pubsub.punsubscribe(c, p);
    if (notify) confirm(c, "punsubscribe", p, c.subscriptionCount);
  }
}

function ssubscribe(s: Engine, c: ClientState, argv: string[]): void {
  for (let i = 1; i < argv.length; i++) {
    s.pubsub.ssubscribe(c, argv[i]!);
    confirm(c, "ssubscribe", argv[i]!, c.shardChannels.size);
  }
}

function sunsubscribe(s: Engine, c: ClientState, argv: string[]): void {
  const names = argv.length === 1 ? [...c.shardChannels] : argv.slice(1);
  if (names.length === 0) confirm(c, "sunsubscribe", null, 0);
  for (const ch of names) {
    s.pubsub.sunsubscribe(c, ch);
    confirm(c, "sunsubscribe", ch, c.shardChannels.size);
  }
}

/** SPUBLISH: the shard's subscribers get it (every node of the shard, in cluster mode). */
function spublish(s: Engine, c: ClientState, argv: string[]): void {
  c.out.int(s.pubsub.spublish(argv[1]!, argv[2]!));
  if (!s.clusterEnabled) s.propagation.also(c.db.id, argv, TO_REPL);
  else s.cluster?.publishShard(argv[1]!, argv[2]!);
}

function publish(s: Engine, c: ClientState, argv: string[]): void {
  s.stats.pubsubChannelsPublished++;
  c.out.int(s.pubsub.publish(argv[1]!, argv[2]!));
  // Replicas deliver it to their own subscribers; the AOF does not keep messages.
  if (!s.clusterEnabled) s.propagation.also(c.db.id, argv, TO_REPL);
  else s.cluster?.publish(argv[1]!, argv[2]!);
}

function channels(s: Engine, c: ClientState, argv: string[]): void {
  if (argv.length > 3) return subcommandSyntaxError(c, argv, "PUBSUB");
  const pattern = argv[2];
  const out: string[] = [];
  for (const ch of s.pubsub.channels.keys()) {
    if (pattern === undefined || globMatch(pattern, ch)) out.push(ch);
  }
  c.out.array(out.length);
  for (const ch of out) c.out.bulk(ch);
}

function numsub(s: Engine, c: ClientState, argv: string[]): void {
  c.out.array((argv.length - 2) * 2);
  for (let i = 2; i < argv.length; i++) {
    c.out.bulk(argv[i]!);
    c.out.int(s.pubsub.channels.get(argv[i]!)?.size ?? 0);
  }
}

const PUBSUB_HELP = [
  "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "CHANNELS [<pattern>]",
  "    Return the currently active channels matching a <pattern> (default: '*').",
  "NUMPAT",
  "    Return number of subscriptions to patterns.",
  "NUMSUB [<channel> ...]",
  "    Return the number of subscribers for the specified channels, excluding",
  "    pattern subscriptions(default: no channels).",
  "SHARDCHANNELS [<pattern>]",
  "    Return the currently active shard level channels matching a <pattern> (default: '*').",
  "SHARDNUMSUB [<shardchannel> ...]",
  "    Return the number of subscribers for the specified shard level channel(s)",
  "HELP",
  "    Prints this help.",
];

const flags = "pubsub noscript loading stale";
const m = (summary: string, since = "2.0.0") => ({ summary, since });

export const PUBSUB_COMMANDS: CommandDef[] = [
  cmd(
    "subscribe",
    -2,
    flags,
    null,
    "pubsub",
    subscribe,
    m("Listens for messages published to channels."),
  ),
  cmd(
    "unsubscribe",
    -1,
    flags,
    null,
    "pubsub",
    unsubscribe,
    m("Stops listening to messages posted to channels."),
  ),
  cmd(
    "psubscribe",
    -2,
    flags,
    null,
    "pubsub",
    psubscribe,
    m("Listens for messages published to channels that match one or more patterns."),
  ),
  cmd(
    "punsubscribe",
    -1,
    flags,
    null,
    "pubsub",
    punsubscribe,
    m("Stops listening to messages published to channels that match one or more patterns."),
  ),
  cmd(
    "ssubscribe",
    -2,
    flags,
    [1, -1, 1],
    "pubsub",
    ssubscribe,
    m("Listens for messages published to shard channels.", "7.0.0"),
  ),
  cmd(
    "sunsubscribe",
    -1,
    flags,
    [1, -1, 1],
    "pubsub",
    sunsubscribe,
    m("Stops listening to messages posted to shard channels.", "7.0.0"),
  ),
  cmd(
    "spublish",
    3,
    "pubsub loading stale fast",
    [1, 1, 1],
    "pubsub",
    spublish,
    m("Post a message to a shard channel", "7.0.0"),
  ),
  cmd(
    "publish",
    3,
    "pubsub loading stale fast",
    null,
    "pubsub",
    publish,
    m("Posts a message to a channel."),
  ),
  container("pubsub", "pubsub", [
    cmd(
      "pubsub|channels",
      -2,
      "pubsub loading stale",
      null,
      "pubsub",
      channels,
      m("Returns the active channels.", "2.8.0"),
    ),
    cmd(
      "pubsub|numsub",
      -2,
      "pubsub loading stale",
      null,
      "pubsub",
      numsub,
      m("Returns a count of subscribers to channels.", "2.8.0"),
    ),
    cmd(
      "pubsub|numpat",
      2,
      "pubsub loading stale",
      null,
      "pubsub",
      (s, c) => c.out.int(s.pubsub.patterns.size),
      m("Returns a count of unique pattern subscriptions.", "2.8.0"),
    ),
    cmd(
      "pubsub|shardchannels",
      -2,
      "pubsub loading stale",
      null,
      "pubsub",
      (s, c, a) => {
        if (a.length > 3) return subcommandSyntaxError(c, a, "PUBSUB");
        const out = [...s.pubsub.shardChannels.keys()].filter((ch) =>
          a[2] === undefined || globMatch(a[2], ch)
        );
        c.out.array(out.length);
        for (const ch of out) c.out.bulk(ch);
      },
      m("Returns the active shard channels.", "7.0.0"),
    ),
    cmd("pubsub|shardnumsub", -2, "pubsub loading stale", null, "pubsub", (s, c, a) => {
      c.out.array((a.length - 2) * 2);
      for (let i = 2; i < a.length; i++) {
        c.out.bulk(a[i]!);
        c.out.int(s.pubsub.shardChannels.get(a[i]!)?.size ?? 0);
      }
    }, m("Returns the count of subscribers of shard channels.", "7.0.0")),
    pubsubHelp(),
  ], m("A container for Pub/Sub commands.", "2.8.0")),
];

/** PUBSUB HELP: in the pubsub group, but without the @pubsub category (it has no pubsub flag). */
function pubsubHelp(): CommandDef {
  const def = cmd("pubsub|help", 2, "loading stale", null, "pubsub", (_s, c) => {
    c.out.array(PUBSUB_HELP.length);
    for (const l of PUBSUB_HELP) c.out.simple(l);
  }, m("Returns helpful text about the different subcommands.", "6.2.0"));
  def.acl = ["slow"];
  return def;
}
