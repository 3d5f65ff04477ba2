import { deepStrictEqual } from "node:assert/strict";
import { IDLE_GC_DEFAULTS, IdleCollector } from "./idle_gc.ts";

const MB = 1024 * 1024;

/**
 * A collector over a fake heap: `heap.size` is what V8 would report; each gc() frees the
 * garbage and compacts at most `compactPerRound` of the remaining slack above `live`.
 */
function fixture(live: number, compactPerRound = Infinity) {
  const heap = { size: 40 * MB, live, collections: [] as unknown[] };
  const gc = (options?: unknown) => {
    heap.collections.push(options);
    heap.size = Math.max(heap.live, heap.size - compactPerRound);
  };
  const collector = new IdleCollector(
    gc,
    { ...IDLE_GC_DEFAULTS, maxHeapBytes: 1000 * MB },
    () => heap.size,
    () => 0,
  );
  // The first tick takes the baseline: 40 MB.
  collector.tick(-1e9, -1);
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
  deepStrictEqual(heap.collections[0], { type: "major", flavor: "last-resort" });
  // A second round checks whether more can be compacted; it released nothing, so no third.
  deepStrictEqual(collector.tick(6100, 5000), true);
  for (let t = 6200; t <= 9000; t += 100) deepStrictEqual(collector.tick(t, 5000), false);
  deepStrictEqual(collector.runs, 2);
  // Commands again, then idle: nothing grew since, so no collection.
  collector.tick(9100, 5001);
  for (let t = 9200; t <= 12000; t += 100) deepStrictEqual(collector.tick(t, 5001), false);
  deepStrictEqual(collector.runs, 2);
});

Deno.test("idle gc: rounds go on while each releases a twentieth of the heap, one per tick", () => {
  // 200 MB committed over 100 MB live, 20 MB compacted per round.
  const { heap, collector } = fixture(100 * MB, 20 * MB);
  heap.size = 200 * MB;
  collector.tick(0, 1);
  const sizes: number[] = [];
  for (let t = 1000; t <= 3000; t += 100) {
    if (collector.tick(t, 1)) sizes.push(heap.size / MB);
  }
  // 200 -> 180 -> ... -> 100; the round that finds nothing left ends them.
  deepStrictEqual(sizes, [180, 160, 140, 120, 100, 100]);
});

Deno.test("idle gc: a command stops the rounds", () => {
  const { heap, collector } = fixture(10 * MB, 40 * MB);
  heap.size = 400 * MB;
  collector.tick(0, 1);
  deepStrictEqual(collector.tick(1000, 1), true);
  deepStrictEqual(collector.tick(1100, 1), true);
  // A command: no round until idle again, and then as a new start (growth since: none).
  deepStrictEqual(collector.tick(1200, 2), false);
  deepStrictEqual(collector.tick(2100, 2), false);
  deepStrictEqual(collector.tick(2200, 2), false);
  deepStrictEqual(collector.runs, 2);
});

Deno.test("idle gc: at most maxRounds per idle period, even while each releases enough", () => {
  const { heap, collector } = fixture(10 * MB, 60 * MB);
  heap.size = 900 * MB;
  collector.tick(0, 1);
  let ran = 0;
  for (let t = 1000; t <= 8000; t += 100) if (collector.tick(t, 1)) ran++;
  deepStrictEqual(ran, IDLE_GC_DEFAULTS.maxRounds);
  deepStrictEqual(heap.size, (900 - 60 * IDLE_GC_DEFAULTS.maxRounds) * MB);
});

Deno.test("idle gc: needs growth by a quarter and by the minimum since the last one", () => {
  const { heap, collector } = fixture(80 * MB);
  // 40 -> 50 MB: 25% but under 16 MB.
  heap.size = 50 * MB;
  collector.tick(0, 1);
  deepStrictEqual(collector.tick(2000, 1), false);
  // 40 -> 60 MB: both (the collection leaves 80 MB: live data grew meanwhile).
  heap.size = 60 * MB;
  deepStrictEqual(collector.tick(2100, 1), true);
  deepStrictEqual(collector.tick(2200, 1), false);
  // The baseline is now 80 MB: 96 MB is 16 MB but not 25% more.
  heap.size = 96 * MB;
  heap.live = 96 * MB;
  collector.tick(3000, 2);
  deepStrictEqual(collector.tick(5000, 2), false);
  heap.size = 100 * MB;
  deepStrictEqual(collector.tick(5100, 2), true);
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

Deno.test("idle gc: what startup allocates before the first tick is no growth", () => {
  const heap = { size: 90 * MB };
  const c = new IdleCollector(
    () => void (heap.size = 30 * MB),
    IDLE_GC_DEFAULTS,
    () => heap.size,
  );
  c.tick(0, 1);
  deepStrictEqual(c.tick(5000, 1), false);
  heap.size = 120 * MB;
  deepStrictEqual(c.tick(5100, 1), true);
});

Deno.test("idle gc: without V8's gc() nothing runs", () => {
  const c = new IdleCollector(null, undefined, () => 1e12);
  deepStrictEqual(c.enabled, false);
  deepStrictEqual(c.tick(0, 0), false);
  deepStrictEqual(c.tick(1e6, 0), false);
  deepStrictEqual(c.runs, 0);
});

Deno.test("idle gc: start() takes the baseline, so a load before the first tick is growth", () => {
  const heap = { size: 30 * MB };
  const c = new IdleCollector(
    () => void (heap.size = 30 * MB),
    IDLE_GC_DEFAULTS,
    () => heap.size,
  );
  c.start();
  // Clients loaded 60 MB before the timer first ticked.
  heap.size = 90 * MB;
  c.tick(0, 1);
  deepStrictEqual(c.tick(5000, 1), true);
});
