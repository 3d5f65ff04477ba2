/**
 * INFO: sections of `field:value` lines with Redis 7.0's field names. The same data feeds the
 * admin API's /info (JSON) and /metrics.
 */
import { percentileLabel } from "./latency.ts";
import type { Server } from "./server.ts";
import { REDIS_VERSION } from "../../shared/version.ts";
import { memoryStats, replicationMemory } from "./memory.ts";
import { cachedMigrateLinks } from "../commands/migrate.ts";
import { getHeapStatistics } from "node:v8";

export type Section = [string, string | number][];

/** Redis 7.0's display order. */
const ORDER = [
  "server",
  "clients",
  "memory",
  "persistence",
  "stats",
  "replication",
  "cpu",
  "modules",
  "commandstats",
  "errorstats",
  "latencystats",
  "cluster",
  "keyspace",
];
/**
 * Shown only by INFO all / everything, or when asked for by name. `v8` (not a Redis section) is
 * in neither list: only `INFO v8` shows it.
 */
const ALL_EXTRA = ["commandstats", "latencystats"];
const DEFAULT_SECTIONS = ORDER.filter((s) => !ALL_EXTRA.includes(s));

/** Which sections an INFO argument list selects, in Redis's display order. */
export function selectSections(args: string[]): string[] {
  if (args.length === 0) return DEFAULT_SECTIONS;
  const want = new Set<string>();
  for (const a of args.map((x) => x.toLowerCase())) {
    if (a === "default") DEFAULT_SECTIONS.forEach((s) => want.add(s));
    else if (a === "all" || a === "everything") {
      [...DEFAULT_SECTIONS, ...ALL_EXTRA].forEach((s) => want.add(s));
    } else want.add(a);
  }
  return [...ORDER.filter((s) => want.has(s)), ...[...want].filter((s) => !ORDER.includes(s))];
}

const TITLES: Record<string, string> = {
  server: "Server",
  clients: "Clients",
  memory: "Memory",
  persistence: "Persistence",
  stats: "Stats",
  replication: "Replication",
  cpu: "CPU",
  modules: "Modules",
  errorstats: "Errorstats",
  cluster: "Cluster",
  keyspace: "Keyspace",
  commandstats: "Commandstats",
  latencystats: "Latencystats",
  v8: "V8",
};

export function sectionFields(s: Server, name: string): Section | null {
  const f = SECTIONS[name];
  return f ? f(s) : null;
}

/** The INFO reply text. Unknown sections are skipped, as Redis does. */
export function infoText(s: Server, args: string[]): string {
  const parts: string[] = [];
  for (const name of selectSections(args)) {
    const fields = sectionFields(s, name);
    if (!fields) continue;
    let text = `# ${TITLES[name]}\r\n`;
    for (const [k, v] of fields) text += `${k}:${v}\r\n`;
    parts.push(text);
  }
  return parts.join("\r\n");
}

function human(bytes: number): string {
  const units = ["B", "K", "M", "G", "T", "P"];
  let v = bytes, i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${bytes}B` : `${v.toFixed(2)}${units[i]}`;
}

/** utime and stime of this process, in seconds, from /proc (Linux). */
export function cpuTimes(): { user: number; sys: number } {
  try {
    const stat = Deno.readTextFileSync("/proc/self/stat");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { user: Number(fields[11]) / 100, sys: Number(fields[12]) / 100 };
  } catch {
    return { user: 0, sys: 0 };
  }
}

/** Fields Redis adds only while the AOF is on. */
/**
 * While loading: when the load began, its size and progress, and Redis's estimate of the seconds
 * left (the time so far scaled by what is left, 1 in the first second).
 */
function loadingFields(s: Server): Section {
  const p = s.loadingProgress;
  if (!(s.loading || s.asyncLoading) || p === null) return [];
  const perc = p.totalBytes > 0 ? (p.loadedBytes / p.totalBytes) * 100 : 0;
  const remaining = p.totalBytes > 0 ? p.totalBytes - p.loadedBytes : 1;
  const elapsed = Math.floor(s.clock.nowMs() / 1000) - p.startSec;
  const eta = elapsed === 0 ? 1 : Math.floor((elapsed * remaining) / (p.loadedBytes + 1));
  return [
    ["loading_start_time", p.startSec],
    ["loading_total_bytes", p.totalBytes],
    ["loading_rdb_used_mem", p.usedMem],
    ["loading_loaded_bytes", p.loadedBytes],
    ["loading_loaded_perc", perc.toFixed(2)],
    ["loading_eta_seconds", eta],
  ];
}

function aofSizes(s: Server): Section {
  if (!s.aof?.enabled) return [];
  const { current, base } = s.aof.sizes();
  return [
    ["aof_current_size", current],
    ["aof_base_size", base],
    ["aof_pending_rewrite", 0],
    ["aof_buffer_length", 0],
    ["aof_pending_bio_fsync", 0],
    ["aof_delayed_fsync", 0],
  ];
}

const SECTIONS: Record<string, (s: Server) => Section> = {
  server: (s) => {
    const now = Date.now();
    const up = Math.floor((now - s.startMs) / 1000);
    return [
      ["redis_version", REDIS_VERSION],
      ["redis_git_sha1", "00000000"],
      ["redis_git_dirty", 0],
      ["redis_build_id", "0"],
      ["redis_mode", s.clusterEnabled ? "cluster" : "standalone"],
      ["os", `${Deno.build.os} ${Deno.osRelease()} ${Deno.build.arch}`],
      ["arch_bits", 64],
      ["monotonic_clock", "POSIX clock_gettime"],
      ["multiplexing_api", "epoll"],
      ["atomicvar_api", "c11-builtin"],
      ["gcc_version", "0.0.0"],
      ["process_id", Deno.pid],
      ["process_supervised", "no"],
      ["run_id", s.runId],
      ["tcp_port", s.boundPort()],
      ["server_time_usec", now * 1000],
      ["uptime_in_seconds", up],
      ["uptime_in_days", Math.floor(up / 86400)],
      ["hz", s.config.get<number>("hz")],
      ["configured_hz", s.config.get<number>("hz")],
      ["lru_clock", Math.floor(now / 1000) & 0xffffff],
      ["executable", Deno.execPath()],
      ["config_file", s.config.configFile ?? ""],
      ["io_threads_active", 0],
      ...(s.shutdownInMs() === null
        ? []
        : [["shutdown_in_milliseconds", s.shutdownInMs()!] as [string, number]]),
    ];
  },
  clients: (s) => {
    let blocked = 0, timeouts = 0, replicas = 0;
    for (const c of s.clients.values()) {
      if (c.kind === "replica") replicas++;
      // As Redis's timeout table: blocked clients that have a timeout.
      if (c.blocked?.timed) timeouts++;
      if (c.blocked || c.postponed) blocked++;
    }
    const peaks = s.recentMaxBuffers();
    return [
      // Replicas are not counted, as in Redis (a replica's master link is).
      ["connected_clients", s.clients.size - replicas],
      ["cluster_connections", 0],
      ["maxclients", s.config.get<number>("maxclients")],
      ["client_recent_max_input_buffer", peaks.input],
      ["client_recent_max_output_buffer", peaks.output],
      ["blocked_clients", blocked],
      ["tracking_clients", s.tracking.clientsOn],
      ["clients_in_timeout_table", timeouts],
    ];
  },
  memory: (s) => {
    const m = memoryStats(s);
    const repl = replicationMemory(s);
    const max = s.config.get<number>("maxmemory");
    const sc = s.scripting;
    return [
      ["used_memory", m.used],
      ["used_memory_human", human(m.used)],
      ["used_memory_rss", m.rss],
      ["used_memory_rss_human", human(m.rss)],
      ["used_memory_peak", m.peak],
      ["used_memory_peak_human", human(m.peak)],
      ["used_memory_peak_perc", `${(m.used * 100 / Math.max(1, m.peak)).toFixed(2)}%`],
      ["used_memory_overhead", m.overhead],
      ["used_memory_startup", m.startup],
      ["used_memory_dataset", m.dataset],
      ["used_memory_dataset_perc", `${(m.dataset * 100 / Math.max(1, m.used)).toFixed(2)}%`],
      ["allocator_allocated", m.used],
      ["allocator_active", m.used],
      ["allocator_resident", m.rss],
      ["total_system_memory", m.system],
      ["total_system_memory_human", human(m.system)],
      ["used_memory_lua", 0],
      ["used_memory_vm_eval", 0],
      ["used_memory_lua_human", "0B"],
      // The Lua VMs' own memory is JavaScript heap, not measured apart: shown as 0.
      ["used_memory_scripts_eval", sc.scriptsBytes],
      ["number_of_cached_scripts", sc.scripts.size],
      ["number_of_functions", sc.functions.size],
      ["number_of_libraries", sc.libraries.size],
      ["used_memory_vm_functions", 0],
      ["used_memory_vm_total", 0],
      ["used_memory_vm_total_human", "0B"],
      ["used_memory_functions", sc.functionsBytes],
      ["used_memory_scripts", sc.scriptsBytes + sc.functionsBytes],
      ["used_memory_scripts_human", human(sc.scriptsBytes + sc.functionsBytes)],
      ["maxmemory", max],
      ["maxmemory_human", human(max)],
      ["maxmemory_policy", s.config.getString("maxmemory-policy")],
      ["allocator_frag_ratio", "1.00"],
      ["allocator_frag_bytes", 0],
      ["allocator_rss_ratio", (m.rss / Math.max(1, m.used)).toFixed(2)],
      ["allocator_rss_bytes", m.rss - m.used],
      ["rss_overhead_ratio", "1.00"],
      ["rss_overhead_bytes", 0],
      ["mem_fragmentation_ratio", (m.rss / Math.max(1, m.used)).toFixed(2)],
      ["mem_fragmentation_bytes", m.rss - m.used],
      ["mem_not_counted_for_evict", repl.notCounted],
      ["mem_replication_backlog", repl.backlog],
      ["mem_total_replication_buffers", repl.total],
      ["mem_clients_slaves", repl.replicas],
      ["mem_clients_normal", m.overhead - m.startup - repl.total],
      ["mem_cluster_links", 0],
      ["mem_aof_buffer", 0],
      ["mem_allocator", "v8"],
      ["active_defrag_running", 0],
      ["lazyfree_pending_objects", 0],
      ["lazyfreed_objects", s.stats.lazyfreedObjects],
    ];
  },
  persistence: (s) => [
    ["loading", s.loading ? 1 : 0],
    ["async_loading", s.asyncLoading ? 1 : 0],
    ["current_cow_peak", 0],
    ["current_cow_size", 0],
    ["current_cow_size_age", 0],
    ["current_fork_perc", "0.00"],
    ["current_save_keys_processed", 0],
    ["current_save_keys_total", 0],
    ["rdb_changes_since_last_save", s.dirty],
    ["rdb_bgsave_in_progress", s.persistence?.bgsave || s.persistence?.rdbWrites ? 1 : 0],
    ["rdb_last_save_time", s.lastSaveSec],
    ["rdb_last_bgsave_status", s.persistence?.lastBgsaveOk === false ? "err" : "ok"],
    ["rdb_last_bgsave_time_sec", s.persistence?.lastBgsaveSec ?? -1],
    ["rdb_current_bgsave_time_sec", s.persistence?.inProgressSec ?? -1],
    ["rdb_saves", s.persistence?.saves ?? 0],
    ["rdb_last_cow_size", 0],
    ["rdb_last_load_keys_expired", s.persistence?.lastLoadExpired ?? 0],
    ["rdb_last_load_keys_loaded", s.persistence?.lastLoadLoaded ?? 0],
    ["aof_enabled", s.aof?.enabled ? 1 : 0],
    ["aof_rewrite_in_progress", s.aof?.rewriting && !s.aof.rewriteWaiting ? 1 : 0],
    ["aof_rewrite_scheduled", s.aof?.rewriteScheduled ? 1 : 0],
    ["aof_last_rewrite_time_sec", -1],
    ["aof_current_rewrite_time_sec", -1],
    ["aof_last_bgrewrite_status", s.aof?.lastRewriteOk === false ? "err" : "ok"],
    ["aof_rewrites", s.aof?.rewrites ?? 0],
    ["aof_rewrites_consecutive_failures", 0],
    ["aof_last_write_status", s.aof?.lastWriteOk === false ? "err" : "ok"],
    ["aof_last_cow_size", 0],
    ["module_fork_in_progress", 0],
    ["module_fork_last_cow_size", 0],
    ...aofSizes(s),
    ...loadingFields(s),
  ],
  stats: (s) => {
    const st = s.stats, smp = s.cpuSample;
    return [
      ["total_connections_received", st.totalConnections],
      ["total_commands_processed", st.totalCommands],
      ["instantaneous_ops_per_sec", smp.opsPerSec],
      ["total_net_input_bytes", st.netInputBytes],
      ["total_net_output_bytes", st.netOutputBytes],
      ["total_net_repl_input_bytes", s.replication.replica.replIn],
      ["total_net_repl_output_bytes", s.replication.master.counters.replOut],
      ["instantaneous_input_kbps", smp.inKbps.toFixed(2)],
      ["instantaneous_output_kbps", smp.outKbps.toFixed(2)],
      ["instantaneous_input_repl_kbps", "0.00"],
      ["instantaneous_output_repl_kbps", "0.00"],
      ["rejected_connections", st.rejectedConnections],
      ["sync_full", st.syncFull],
      ["sync_partial_ok", st.syncPartialOk],
      ["sync_partial_err", st.syncPartialErr],
      ["expired_keys", st.expiredKeys],
      ["expired_stale_perc", "0.00"],
      ["expired_time_cap_reached_count", 0],
      ["expire_cycle_cpu_milliseconds", 0],
      ["evicted_keys", st.evictedKeys],
      ["evicted_clients", st.evictedClients],
      ["total_eviction_exceeded_time", 0],
      ["current_eviction_exceeded_time", 0],
      ["keyspace_hits", st.keyspaceHits],
      ["keyspace_misses", st.keyspaceMisses],
      ["pubsub_channels", s.pubsub.channels.size],
      ["pubsub_patterns", s.pubsub.patterns.size],
      ["pubsubshard_channels", s.pubsub.shardChannels.size],
      // No fork here: a background write (BGSAVE, AOF rewrite, full sync) takes its snapshot
      // in-process; these count those and the time the last snapshot took, as Redis's forks.
      ["latest_fork_usec", s.persistence?.latestSnapshotUs ?? 0],
      ["total_forks", s.persistence?.snapshotsTaken ?? 0],
      ["migrate_cached_sockets", cachedMigrateLinks(s)],
      ["slave_expires_tracked_keys", s.replicaKeysWithExpire.size],
      ["active_defrag_hits", 0],
      ["active_defrag_misses", 0],
      ["active_defrag_key_hits", 0],
      ["active_defrag_key_misses", 0],
      ["total_active_defrag_time", 0],
      ["current_active_defrag_time", 0],
      ["tracking_total_keys", s.tracking.table.size],
      ["tracking_total_items", s.tracking.totalItems],
      ["tracking_total_prefixes", s.tracking.prefixes.size],
      ["unexpected_error_replies", st.unexpectedErrorReplies],
      ["total_error_replies", st.totalErrorReplies],
      ["dump_payload_sanitizations", 0],
      ["total_reads_processed", st.totalReads],
      ["total_writes_processed", st.totalWrites],
      ["io_threaded_reads_processed", 0],
      ["io_threaded_writes_processed", 0],
      ["reply_buffer_shrinks", st.replyBufferShrinks],
      ["reply_buffer_expands", st.replyBufferExpands],
    ];
  },
  replication: (s) => s.replication.info(),
  cpu: () => {
    const t = cpuTimes();
    return [
      ["used_cpu_sys", t.sys.toFixed(6)],
      ["used_cpu_user", t.user.toFixed(6)],
      ["used_cpu_sys_children", "0.000000"],
      ["used_cpu_user_children", "0.000000"],
      ["used_cpu_sys_main_thread", t.sys.toFixed(6)],
      ["used_cpu_user_main_thread", t.user.toFixed(6)],
    ];
  },
  modules: () => [],
  errorstats: (s) => [...s.stats.errors].map(([code, n]) => [`errorstat_${code}`, `count=${n}`]),
  cluster: (s) => [["cluster_enabled", s.clusterEnabled ? 1 : 0]],
  keyspace: (s) =>
    s.dbs.filter((db) => db.size > 0).map((db) => [
      `db${db.id}`,
      `keys=${db.size},expires=${db.expires.size},avg_ttl=${Math.round(db.avgTtlMs)}`,
    ]),
  commandstats: (s) =>
    [...s.stats.commands].filter(([, st]) => st.calls + st.rejectedCalls + st.failedCalls > 0)
      .map(([name, st]) => [
        `cmdstat_${name}`,
        `calls=${st.calls},usec=${Math.round(st.usec)},usec_per_call=${
          (st.calls ? st.usec / st.calls : 0).toFixed(2)
        },rejected_calls=${st.rejectedCalls},failed_calls=${st.failedCalls}`,
      ]),
  latencystats: (s) => {
    const percentiles = s.config.getString("latency-tracking-info-percentiles").split(" ")
      .filter((p) => p !== "").map(Number);
    return [...s.stats.commands].filter(([, st]) => st.hist !== null && st.hist.total > 0)
      .map(([name, st]) => [
        `latency_percentiles_usec_${name}`,
        percentiles.map((p) => `p${percentileLabel(p)}=${(st.hist!.valueAt(p) / 1000).toFixed(3)}`)
          .join(","),
      ]);
  },
  // The JavaScript heap as the engine sees it. total_allocated_bytes counts every byte allocated
  // since startup (it advances in allocation-buffer steps of up to a few hundred KB), so its
  // growth over a workload divided by the commands run is the heap allocated per command.
  // v8_idle_collections counts the collections run when the node turned idle (idle_gc.ts), -1
  // when V8's gc() is not exposed to the node.
  v8: (s) => {
    const h = getHeapStatistics() as ReturnType<typeof getHeapStatistics> & {
      total_allocated_bytes?: number;
    };
    const idle = s.idleGc;
    return [
      ["v8_total_allocated_bytes", h.total_allocated_bytes ?? -1],
      ["v8_used_heap_size", h.used_heap_size],
      ["v8_total_heap_size", h.total_heap_size],
      ["v8_external_memory", h.external_memory ?? 0],
      ["v8_idle_collections", idle.enabled ? idle.runs : -1],
      ["v8_idle_collection_last_ms", idle.lastMs.toFixed(1)],
    ];
  },
};
