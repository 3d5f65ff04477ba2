/**
 * `deno task up`: the local topology starts (a master, two replicas, three sentinels that find
 * each other), prints its endpoints, and SIGTERM stops every process it started.
 */
import { equal, ok } from "node:assert/strict";
import { RedisClient } from "../shared/client.ts";
import { eventually } from "./helpers/raw.ts";

const root = new URL("..", import.meta.url).pathname;

function portsFree(ports: number[]): boolean {
  for (const p of ports) {
    try {
      Deno.listen({ hostname: "127.0.0.1", port: p }).close();
    } catch {
      return false;
    }
  }
  return true;
}

async function refuses(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return false;
  } catch {
    return true;
  }
}

Deno.test("deno task up starts a sentinel-managed group and SIGTERM stops all of it", async () => {
  let base = 0;
  for (let i = 0; i < 20 && base === 0; i++) {
    const b = 20000 + Math.floor(Math.random() * 8000);
    const all = [b, b + 1, b + 2, b + 10, b + 11, b + 12];
    if (portsFree([...all, ...all.map((p) => p + 1000)])) base = b;
  }
  ok(base > 0, "no free ports for the topology");
  const dir = await Deno.makeTempDir();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "tests/up.ts",
      "--port",
      String(base),
      "--sentinel-port",
      String(base + 10),
      "--down-after",
      "1000",
      "--dir",
      dir,
    ],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  const reading = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) out += chunk;
  })();
  const sentinel = () => RedisClient.connect({ port: base + 10, reconnect: { enabled: false } });
  try {
    await eventually(() => out.includes("are up"), "the topology to start", 60_000);
    ok(out.includes(`redis://127.0.0.1:${base}`), out);
    ok(out.includes(`127.0.0.1:${base + 10},127.0.0.1:${base + 11},127.0.0.1:${base + 12}`));
    const c = await sentinel();
    try {
      await eventually(
        async () => {
          const info = await c.callText("INFO", "sentinel");
          return info!.includes("status=ok") && info!.includes("slaves=2,sentinels=3");
        },
        "the sentinels to find the replicas and each other",
        30_000,
      );
      const addr = await c.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster");
      equal(JSON.stringify(addr), JSON.stringify(["127.0.0.1", String(base)]));
    } finally {
      await c.close();
    }
  } finally {
    try {
      child.kill("SIGTERM");
    } catch { /* it already exited: its status and output say why */ }
    const st = await child.status;
    await reading.catch(() => {});
    const err = await new Response(child.stderr).text().catch(() => "");
    equal(st.success, true, `exit code ${st.code}: ${err}\n${out}`);
    for (const p of [base, base + 1, base + 2, base + 10, base + 11, base + 12]) {
      ok(await refuses(p), `port ${p} still answers after the stop`);
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("deno task up cluster makes six nodes a cluster and SIGTERM stops it", async () => {
  let base = 0;
  for (let i = 0; i < 20 && base === 0; i++) {
    const b = 20000 + Math.floor(Math.random() * 8000);
    const ports = [0, 1, 2, 3, 4, 5].map((x) => b + x);
    if (portsFree([...ports, ...ports.map((p) => p + 1000), ...ports.map((p) => p + 10000)])) {
      base = b;
    }
  }
  ok(base > 0, "no free ports for the cluster");
  const dir = await Deno.makeTempDir();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "tests/up.ts",
      "cluster",
      "--port",
      String(base),
      "--node-timeout",
      "1000",
      "--dir",
      dir,
    ],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  const reading = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) out += chunk;
  })();
  try {
    await eventually(() => out.includes("is up"), "the cluster to form", 120_000);
    const c = await RedisClient.connect({ port: base + 5, reconnect: { enabled: false } });
    try {
      const info = await c.callText("CLUSTER", "INFO");
      ok(info!.includes("cluster_state:ok") && info!.includes("cluster_size:3"), info!);
      const role = await c.call("ROLE");
      equal((role as unknown[])[0], "slave");
    } finally {
      await c.close();
    }
  } finally {
    try {
      child.kill("SIGTERM");
    } catch { /* it already exited: its status and output say why */ }
    const st = await child.status;
    await reading.catch(() => {});
    const err = await new Response(child.stderr).text().catch(() => "");
    equal(st.success, true, `exit code ${st.code}: ${err}\n${out}`);
    for (let i = 0; i < 6; i++) ok(await refuses(base + i), `port ${base + i} still answers`);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
