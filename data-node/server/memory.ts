/**
 * Memory figures. `used_memory` (and what maxmemory compares against) is an estimate in Redis's
 * terms: a fixed baseline like redis-server's own startup footprint, plus each key's estimated
 * cost (kept current as keys change, see Database.bytes), plus client buffers. The V8 heap can't
 * serve here: freed memory only shows after garbage collection, so evicting on it would
 * overshoot. The real process footprint is reported as used_memory_rss.
 */
import type { Server } from "./server.ts";

/** About what redis-server 7.0 uses right after startup. */
export const BASELINE_BYTES = 880 * 1024;

let peak = 0;

export interface MemoryStats {
  used: number;
  rss: number;
  peak: number;
  startup: number;
  overhead: number;
  dataset: number;
  system: number;
}

function clientBuffers(s: Server): number {
  let n = 0;
  for (const c of s.clients.values()) n += c.parser.pending + c.outputPending;
  return n;
}

function datasetBytes(s: Server): number {
  let n = 0;
  for (const db of s.dbs) n += db.bytes;
  return n;
}

/**
 * The replication stream's memory, split as Redis 7.0 splits its shared replication buffer: up
 * to repl-backlog-size is the backlog's; what lagging replicas hold beyond it is theirs
 * (mem_clients_slaves, while there are replicas) and is not counted for eviction, so a slow
 * replica never makes the master evict keys.
 */
export function replicationMemory(
  s: Server,
): { total: number; backlog: number; replicas: number; notCounted: number } {
  const st = s.replStream;
  if (st === null) return { total: 0, backlog: 0, replicas: 0, notCounted: 0 };
  const total = st.histlen;
  const over = Math.max(0, total - st.capacity);
  const replicas = s.replication.master.links.size > 0 ? over : 0;
  return { total, backlog: total - replicas, replicas, notCounted: over };
}

/** What maxmemory is checked against (used_memory less mem_not_counted_for_evict). */
export function usedMemoryEstimate(s: Server): number {
  const repl = replicationMemory(s);
  return BASELINE_BYTES + datasetBytes(s) + clientBuffers(s) + repl.total - repl.notCounted;
}

/** The V8 heap plus external buffers: the runtime's own view, used for AUX used-mem. */
export function usedMemory(): number {
  const m = Deno.memoryUsage();
  return m.heapUsed + m.external;
}

export function memoryStats(s: Server): MemoryStats {
  const dataset = datasetBytes(s);
  const overhead = BASELINE_BYTES + clientBuffers(s) + replicationMemory(s).total;
  const used = dataset + overhead;
  peak = Math.max(peak, used);
  return {
    used,
    rss: Deno.memoryUsage().rss,
    peak,
    startup: BASELINE_BYTES,
    overhead,
    dataset,
    system: Deno.systemMemoryInfo().total,
  };
}
