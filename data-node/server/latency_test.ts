import { deepStrictEqual, ok } from "node:assert/strict";
import { Histogram, LatencyMonitor, percentileLabel, SlowLog } from "./latency.ts";

// Bucket bounds as redis-server reports them (e.g. 132, 528, 4227, 33816 µs).
Deno.test("histogram: percentiles within two significant digits, CDF by powers of two", () => {
  const h = new Histogram();
  for (let i = 1; i <= 1000; i++) h.record(i * 1000); // 1..1000 µs
  deepStrictEqual(h.total, 1000);
  const p50 = h.valueAt(50) / 1000, p99 = h.valueAt(99) / 1000;
  ok(Math.abs(p50 - 500) / 500 < 0.01, `p50 ${p50}`);
  ok(Math.abs(p99 - 990) / 990 < 0.01, `p99 ${p99}`);
  deepStrictEqual(h.valueAt(100), h.valueAt(100.5));
  const cdf = h.cdf();
  deepStrictEqual(cdf.map(([us]) => us), [1, 2, 4, 8, 16, 33, 66, 132, 264, 528, 1056]);
  deepStrictEqual(cdf.at(-1)![1], 1000);
  for (let i = 1; i < cdf.length; i++) ok(cdf[i]![1] > cdf[i - 1]![1]);
  // Out-of-range durations are clamped, never lost.
  h.record(-5);
  h.record(5e12);
  deepStrictEqual(h.total, 1002);
  deepStrictEqual(new Histogram().valueAt(50), 0);
});

Deno.test("percentile labels print as Redis's %f with zeros trimmed", () => {
  deepStrictEqual([50, 99, 99.9, 99.99, 0.5].map(percentileLabel), [
    "50",
    "99",
    "99.9",
    "99.99",
    "0.5",
  ]);
});

Deno.test("slow log: newest first, argument and length limits, trimming", () => {
  const log = new SlowLog();
  const many = Array.from({ length: 40 }, (_, i) => String(i));
  log.push(many, 12.7, 100, "1.2.3.4:5", "n", 2);
  log.push(["SET", "k", "x".repeat(130)], 3, 101, "p", "", 2);
  log.push(["GET", "k"], 1, 102, "p", "", 2);
  deepStrictEqual(log.entries.map((e) => e.id), [2, 1]);
  deepStrictEqual(log.entries[1]!.argv[2], "x".repeat(128) + "... (2 more bytes)");
  const fresh = new SlowLog();
  fresh.push(many, 12.7, 100, "a", "b", 10);
  deepStrictEqual(fresh.entries[0]!.argv.length, 32);
  deepStrictEqual(fresh.entries[0]!.argv[31], "... (9 more arguments)");
  deepStrictEqual(fresh.entries[0]!.duration, 12);
});

Deno.test("latency monitor: one sample per second keeps the worst; reset by name", () => {
  const m = new LatencyMonitor();
  m.add("command", 10, 1000);
  m.add("command", 30, 1000);
  m.add("command", 20, 1000);
  m.add("command", 5, 1001);
  deepStrictEqual(m.samples("command"), [{ time: 1000, latency: 30 }, { time: 1001, latency: 5 }]);
  deepStrictEqual(m.latest(), [{ event: "command", time: 1001, latency: 5, max: 30 }]);
  for (let t = 0; t < 200; t++) m.add("command", t, 2000 + t);
  deepStrictEqual(m.samples("command").length, 160);
  deepStrictEqual(m.samples("command")[0]!.time, 2040);
  const a = m.analyze("command", 2300);
  deepStrictEqual([a.samples, a.min, a.max, a.allTimeHigh], [160, 40, 199, 199]);
  deepStrictEqual(m.reset("nope"), 0);
  deepStrictEqual(m.reset("COMMAND"), 1);
  deepStrictEqual(m.latest(), []);
});
