/**
 * A full garbage collection when the node turns idle after its heap has grown: our analogue of
 * Redis's active defragmentation. A burst of writes leaves garbage in V8's old generation
 * (arguments and intermediate values promoted while a batch was in flight, pages half full of
 * dead objects) that V8 itself gives back to the system only at its next memory-reducing
 * collection, which may come tens of seconds later or never. A collection that reduces the
 * footprint (compacting the fragmented pages and releasing the free ones) brings the resident
 * size back to what the data holds.
 *
 * It never runs while commands are flowing: only after `idleMs` without a command, and only when
 * the committed heap has grown by a quarter (and at least `minGrowthBytes`) since the last one,
 * so each collection pays for a real growth and their count is logarithmic in the heap's. Its
 * pause is that of full collections of the whole heap: about 0.3-1.2 s for 1,000,000 small
 * string keys (150 MB of heap) on a busy 2-core machine, so none runs for a heap over 1 GB.
 * It needs V8's `gc()` (the `--expose-gc` flag, which the data node's task and executable
 * carry); without it nothing runs.
 */

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
}

export const IDLE_GC_DEFAULTS: IdleCollectorOptions = {
  idleMs: 1000,
  minGrowthBytes: 16 * 1024 * 1024,
  minGrowthRatio: 0.25,
  maxHeapBytes: 1024 * 1024 * 1024,
};

/** The heap's committed bytes. */
export type HeapSize = () => number;

const v8Heap: HeapSize = () => Deno.memoryUsage().heapTotal;

export class IdleCollector {
  /** Collections run so far (INFO v8). */
  runs = 0;
  /** Milliseconds the last one took. */
  lastMs = 0;
  private lastActivity = -1;
  private idleSinceMs = 0;
  /** The committed heap right after the last collection (or at startup). */
  private baseline: number;

  constructor(
    private readonly gc: GcFunction | null = exposedGc(),
    private readonly opts: IdleCollectorOptions = IDLE_GC_DEFAULTS,
    private readonly heap: HeapSize = v8Heap,
    private readonly timer: () => number = () => performance.now(),
  ) {
    this.baseline = gc === null ? 0 : heap();
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
    if (activity !== this.lastActivity) {
      this.lastActivity = activity;
      this.idleSinceMs = nowMs;
      return false;
    }
    if (nowMs - this.idleSinceMs < this.opts.idleMs) return false;
    const heap = this.heap();
    const growth = heap - this.baseline;
    if (heap < this.baseline) this.baseline = heap;
    if (
      growth < this.opts.minGrowthBytes || growth < this.baseline * this.opts.minGrowthRatio ||
      heap > this.opts.maxHeapBytes
    ) return false;
    const t0 = this.timer();
    // "last-resort" reduces the footprint: besides freeing the dead objects, it compacts pages
    // that still hold live ones among much free space and releases the free pages to the
    // system, which a regular full collection leaves committed and resident.
    this.gc({ type: "major", flavor: "last-resort" });
    this.lastMs = this.timer() - t0;
    this.runs++;
    this.baseline = this.heap();
    return true;
  }
}

function exposedGc(): GcFunction | null {
  const gc = (globalThis as { gc?: unknown }).gc;
  return typeof gc === "function" ? gc as GcFunction : null;
}
