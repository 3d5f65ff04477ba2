/**
 * used_memory (and so maxmemory) counts what the heap really holds: a probe process fills a
 * database with keys of each kind and compares the V8 heap growth after a full collection with
 * the estimate. Both must agree within a third either way.
 */
import { ok } from "node:assert/strict";

const root = new URL("..", import.meta.url).pathname;

Deno.test("the memory estimate per key is within a third of the V8 heap's real cost", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--v8-flags=--expose-gc", `${root}tests/helpers/heap_probe.ts`, "100000"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  ok(out.success, err);
  const rows = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    kind: string;
    heapPerKey: number;
    estimatePerKey: number;
    keys: number;
    n: number;
  }[];
  ok(rows.length > 0);
  for (const r of rows) {
    const ratio = r.estimatePerKey / r.heapPerKey;
    console.log(
      `${r.kind}: heap ${r.heapPerKey.toFixed(0)} B/key, estimate ${
        r.estimatePerKey.toFixed(0)
      } B/key (${ratio.toFixed(2)})`,
    );
    ok(r.keys === r.n, `${r.kind}: ${r.keys} keys of ${r.n}`);
    ok(ratio > 0.75 && ratio < 1.33, `${r.kind}: estimate/heap = ${ratio.toFixed(2)}`);
  }
});
