/**
 * Full garbage collections when the node turns idle after its heap has grown: our analogue of
 * Redis's active defragmentation. A burst of writes leaves garbage in V8's old generation
 * (arguments and intermediate values promoted while a batch was in flight, evicted or
 * overwritten values, pages half full of dead objects) that V8 itself gives back to the system
 * only at its next memory-reducing collection, which may come tens of seconds later or never.
 * Collections that reduce the footprint (compacting fragmented pages and releasing the free
 * ones) bring the resident size back to what the data holds.
 *
 * They never run while commands are flowing: only after `idleMs` without a command, and only
 * when the committed heap has grown by a quarter (and at least `minGrowthBytes`) since the last
 * ones, so each pays for a real growth and their count is logarithmic in the heap's. V8 moves a
 * bounded amount of live data per collection, so while a round still releases a good share of
 * the heap (`minRoundGain`) and the node stays idle, another round follows at the next timer
 * tick, up to `maxRounds`: a command arriving meanwhile waits for one round at most, and stops
 * them. A round pauses for one full collection of the whole heap: about 0.3-1.2 s for 1,000,000
 * small string keys (150 MB of heap) on a busy 2-core machine, so none runs for a heap over 1 GB.
 * It needs V8's `gc()` (the `--expose-gc` flag, which the data node's task and executable
 * carry); without it nothing runs.
 */

import { getHeapStatistics } from "node:v8";

/** V8's gc() with the options of --expose-gc. */
type GcFunction = (
  options?: { type?: "major" | "minor"; flavor?: "regular" | "last-resort" },
) => void;

export interface IdleCollectorOptions {
  /** How long without a command counts as idle. */
  idleMs: number;
  /** The least growth of the committed heap, in bytes, that is worth a collection. */
  minGrowthBytes: number;
  /** The fraction of the committed heap after the last collection it must grow by. */
  minGrowthRatio: number;
  /** No collection for a committed heap larger than this: it would pause too long. */
  maxHeapBytes: number;
  /** Another round follows while the last one released at least this share of the heap. */
  minRoundGain: number;
  /** Rounds per idle period at most. */
  maxRounds: number;
}

export const IDLE_GC_DEFAULTS: IdleCollectorOptions = {
  idleMs: 1000,
  minGrowthBytes: 16 * 1024 * 1024,
  minGrowthRatio: 0.25,
  maxHeapBytes: 1024 * 1024 * 1024,
  minRoundGain: 0.05,
  maxRounds: 8,
};

/** The heap's committed bytes. */
export type HeapSize = () => number;

/** V8's own figure (Deno.memoryUsage() also reads /proc for the RSS: 15x the cost). */
const v8Heap: HeapSize = () => getHeapStatistics().total_heap_size;

export class IdleCollector {
  /** Collections (rounds) run so far (INFO v8). */
  runs = 0;
  /** Milliseconds the last one took. */
  lastMs = 0;
  private lastActivity = -1;
  private idleSinceMs = 0;
  /**
   * The committed heap right after the last collection, or as start() found it (else at the
   * first tick), so that what startup allocates never counts as growth; -1 before either.
   */
  private baseline = -1;
  /** Rounds run in this idle period; 0 when none is under way. */
  private rounds = 0;

  constructor(
    private readonly gc: GcFunction | null = exposedGc(),
    private readonly opts: IdleCollectorOptions = IDLE_GC_DEFAULTS,
    private readonly heap: HeapSize = v8Heap,
    private readonly timer: () => number = () => performance.now(),
  ) {}

  /**
   * Takes the baseline now: the server calls this once startup is done and before it accepts
   * clients, so that neither startup nor a load arriving before the first tick is mistaken.
   */
  start(): void {
    if (this.gc !== null) this.baseline = this.heap();
  }

  /** True when V8's gc() is available. */
  get enabled(): boolean {
    return this.gc !== null;
  }

  /**
   * One timer tick: `activity` is any counter that moves with each command (commands
   * processed). Returns true when a collection ran.
   */
  tick(nowMs: number, activity: number): boolean {
    if (this.gc === null) return false;
    if (this.baseline < 0) this.baseline = this.heap();
    if (activity !== this.lastActivity) {
      this.lastActivity = activity;
      this.idleSinceMs = nowMs;
      this.rounds = 0;
      return false;
    }
    if (nowMs - this.idleSinceMs < this.opts.idleMs) return false;
    const heap = this.heap();
    if (heap > this.opts.maxHeapBytes) return false;
    if (this.rounds === 0) {
      const growth = heap - this.baseline;
      if (heap < this.baseline) this.baseline = heap;
      if (growth < this.opts.minGrowthBytes || growth < this.baseline * this.opts.minGrowthRatio) {
        return false;
      }
    } else if (this.rounds >= this.opts.maxRounds) return false;
    const t0 = this.timer();
    // "last-resort" reduces the footprint: besides freeing the dead objects, it compacts pages
    // that still hold live ones among much free space and releases the free pages to the
    // system, which a regular full collection leaves committed and resident.
    this.gc({ type: "major", flavor: "last-resort" });
    this.lastMs = this.timer() - t0;
    this.runs++;
    const after = this.heap();
    this.baseline = after;
    // Another round at the next tick while this one released enough; else done until growth.
    this.rounds = heap - after >= heap * this.opts.minRoundGain
      ? this.rounds + 1
      : this.opts.maxRounds;
    return true;
  }
}

function exposedGc(): GcFunction | null {
  const gc = (globalThis as { gc?: unknown }).gc;
  return typeof gc === "function" ? gc as GcFunction : null;
}
