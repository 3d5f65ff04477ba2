/**
 * What commands see of the server. Engine is the server narrowed to the keyspace,
 * configuration, counters, propagation, pub/sub and blocking registries and the few
 * server-level operations commands perform (INFO, CLIENT, SHUTDOWN...): no listeners, sockets,
 * timers or files. Command handlers take it (and a client, which needs no socket), so a family
 * runs in tests without one (engine/harness.ts).
 */
import type { Server } from "../server/server.ts";
import type { Client } from "../server/client.ts";

export type Engine = Pick<
  Server,
  | "acl"
  | "aclDisconnect"
  | "aclDisconnectSubscribers"
  | "aclLoad"
  | "aclLog"
  | "aclSave"
  | "abortShutdown"
  | "activeExpire"
  | "afterFlushAll"
  | "asyncLoading"
  | "batchTime"
  | "aof"
  | "blocking"
  | "clientInfoLine"
  | "clients"
  | "clock"
  | "cluster"
  | "clusterEnabled"
  | "commands"
  | "config"
  | "dbs"
  | "debugExtensions"
  | "dirty"
  | "expiryMode"
  | "freeClient"
  | "infoText"
  | "inExec"
  | "lastSaveSec"
  | "lfuMode"
  | "loading"
  | "lfuParams"
  | "maxmemory"
  | "memoryStats"
  | "migrating"
  | "monitors"
  | "notify"
  | "notifier"
  | "nowMs"
  | "pause"
  | "performEvictions"
  | "persistence"
  | "propagation"
  | "pubsub"
  | "replId"
  | "replOffset"
  | "replicaKeysWithExpire"
  | "replication"
  | "requiresAuth"
  | "role"
  | "scripting"
  | "shutdown"
  | "stats"
  | "tracking"
  | "unpause"
  | "wantsFlush"
>;

/**
 * A client as commands see it: its reply buffer and the state commands read and change
 * (database, transaction, subscriptions, reply mode). A client needs no socket: tests and the
 * AOF loader run commands on clients without one.
 */
export type ClientState = Client;
