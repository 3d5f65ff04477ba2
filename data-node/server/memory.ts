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

/** What maxmemory is checked against. */
export function usedMemoryEstimate(s: Server): number {
  return BASELINE_BYTES + datasetBytes(s) + clientBuffers(s);
}

/** The V8 heap plus external buffers: the runtime's own view, used for AUX used-mem. */
export function usedMemory(): number {
  const m = Deno.memoryUsage();
  return m.heapUsed + m.external;
}

export function memoryStats(s: Server): MemoryStats {
  const dataset = datasetBytes(s);
  const overhead = BASELINE_BYTES + clientBuffers(s);
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
