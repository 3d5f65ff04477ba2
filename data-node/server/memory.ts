/**
 * Memory figures. The V8 heap plus external (ArrayBuffer) memory stands for Redis's
 * used_memory: it counts what the process allocated for data and structures, like the
 * allocator-reported figure Redis uses. `startup` is the figure right after boot, and
 * dataset = used - startup - client buffers (an estimate of what the keys cost).
 */
import type { Server } from "./server.ts";

let startup = 0;
let peak = 0;

export function markStartupMemory(): void {
  const m = Deno.memoryUsage();
  startup = m.heapUsed + m.external;
}

export interface MemoryStats {
  used: number;
  rss: number;
  peak: number;
  startup: number;
  overhead: number;
  dataset: number;
  system: number;
}

export function usedMemory(): number {
  const m = Deno.memoryUsage();
  return m.heapUsed + m.external;
}

export function memoryStats(s: Server): MemoryStats {
  const m = Deno.memoryUsage();
  const used = m.heapUsed + m.external;
  peak = Math.max(peak, used);
  let clientBuffers = 0;
  for (const c of s.clients.values()) clientBuffers += c.parser.buf.length + c.out.buf.length;
  const overhead = startup + clientBuffers;
  return {
    used,
    rss: m.rss,
    peak,
    startup,
    overhead,
    dataset: Math.max(0, used - overhead),
    system: Deno.systemMemoryInfo().total,
  };
}
