import { deepStrictEqual } from "node:assert/strict";
import { IdleCollector } from "./idle_gc.ts";

const MB = 1024 * 1024;

/** A collector over a fake heap: `heap.size` is what V8 would report; gc() shrinks it. */
function fixture(liveAfterGc: number) {
  const heap = { size: 40 * MB, collections: [] as unknown[] };
  const gc = (options?: unknown) => {
    heap.collections.push(options);
    heap.size = liveAfterGc;
  };
  const collector = new IdleCollector(
    gc,
    { idleMs: 1000, minGrowthBytes: 16 * MB, minGrowthRatio: 0.25, maxHeapBytes: 1000 * MB },
    () => heap.size,
    () => 0,
  );
  return { heap, collector };
}

Deno.test("idle gc: runs once the node is idle after the heap grew, never while commands flow", () => {
  const { heap, collector } = fixture(50 * MB);
  heap.size = 100 * MB;
  // Commands flowing: the counter moves on every tick.
  for (let t = 0; t <= 5000; t += 100) deepStrictEqual(collector.tick(t, t), false);
  // Idle from 5000 ms on: not before a full second without a command.
  deepStrictEqual(collector.tick(5100, 5000), false);
  deepStrictEqual(collector.tick(5900, 5000), false);
  deepStrictEqual(collector.tick(6000, 5000), true);
  deepStrictEqual(heap.collections, [{ type: "major", flavor: "last-resort" }]);
  deepStrictEqual(collector.runs, 1);
  // Still idle, but nothing grew since: no second collection.
  for (let t = 6100; t <= 9000; t += 100) deepStrictEqual(collector.tick(t, 5000), false);
  deepStrictEqual(collector.runs, 1);
});

Deno.test("idle gc: needs growth by a quarter and by the minimum since the last one", () => {
  const { heap, collector } = fixture(80 * MB);
  // 40 -> 50 MB: 25% but under 16 MB.
  heap.size = 50 * MB;
  collector.tick(0, 1);
  deepStrictEqual(collector.tick(2000, 1), false);
  // 40 -> 60 MB: both.
  heap.size = 60 * MB;
  deepStrictEqual(collector.tick(2100, 1), true);
  // The baseline is now what the collection left (80 MB): 96 MB is 16 MB but not 25% more.
  heap.size = 96 * MB;
  collector.tick(3000, 2);
  deepStrictEqual(collector.tick(5000, 2), false);
  heap.size = 100 * MB;
  deepStrictEqual(collector.tick(5100, 2), true);
  deepStrictEqual(collector.runs, 2);
});

Deno.test("idle gc: a heap that shrank on its own lowers the baseline", () => {
  const { heap, collector } = fixture(10 * MB);
  heap.size = 20 * MB;
  collector.tick(0, 1);
  deepStrictEqual(collector.tick(2000, 1), false);
  // From 20 MB, 36 MB is growth enough (16 MB and 80%), though under 40 MB's + 16 MB.
  heap.size = 36 * MB;
  deepStrictEqual(collector.tick(2100, 1), true);
});

Deno.test("idle gc: none for a heap past the size whose collection would pause too long", () => {
  const { heap, collector } = fixture(900 * MB);
  heap.size = 1200 * MB;
  collector.tick(0, 1);
  deepStrictEqual(collector.tick(5000, 1), false);
  heap.size = 990 * MB;
  deepStrictEqual(collector.tick(5100, 1), true);
});

Deno.test("idle gc: without V8's gc() nothing runs", () => {
  const c = new IdleCollector(null, undefined, () => 1e12);
  deepStrictEqual(c.enabled, false);
  deepStrictEqual(c.tick(0, 0), false);
  deepStrictEqual(c.tick(1e6, 0), false);
  deepStrictEqual(c.runs, 0);
});
