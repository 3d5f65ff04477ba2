/** compose.yaml: valid for docker-compose, and it runs the executables this repo has. */
import { equal, ok } from "node:assert/strict";
import { which } from "./helpers/process.ts";

const root = new URL("../", import.meta.url).pathname;

Deno.test({
  name: "compose.yaml passes docker-compose config: a master, two replicas, three sentinels",
  ignore: !which("docker-compose"),
  fn: async () => {
    const out = await new Deno.Command("docker-compose", {
      args: ["-f", `${root}compose.yaml`, "config"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    equal(out.success, true, new TextDecoder().decode(out.stderr));
    ok(text.includes("data-node/main.ts"));
    ok(/published: 6379/.test(text) && /published: 7379/.test(text), "RESP and admin published");
    ok(/replicaof/.test(text) && /published: 6380/.test(text), "the replica follows the master");
    ok(/published: 6381/.test(text), "a second replica");
    for (const p of [26379, 26380, 26381]) ok(text.includes(`published: ${p}`), `sentinel ${p}`);
    ok(text.includes("sentinel monitor mymaster data-node 6379 2"), "sentinels monitor the master");
    await Deno.stat(`${root}sentinel/main.ts`);
    await Deno.stat(`${root}data-node/main.ts`);
  },
});

if (!which("docker-compose")) console.log("SKIP: docker-compose not installed: compose.yaml check");

Deno.test({
  name: "compose.yaml profile cluster: six cluster nodes, a create job and the proxy",
  ignore: !which("docker-compose"),
  fn: async () => {
    const out = await new Deno.Command("docker-compose", {
      args: ["-f", `${root}compose.yaml`, "--profile", "cluster", "config"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    equal(out.success, true, new TextDecoder().decode(out.stderr));
    for (let i = 0; i < 6; i++) {
      const ip = `172.30.0.${11 + i}`;
      ok(text.includes(`ipv4_address: ${ip}`), `cluster node ${i + 1} has a fixed address`);
      ok(text.includes(`- ${ip}\n`), `cluster node ${i + 1} announces its address`);
      ok(text.includes(`- '${7000 + i}'`) || text.includes(`- "${7000 + i}"`), `port ${7000 + i}`);
      ok(text.includes(`- '${17000 + i}'`) || text.includes(`- "${17000 + i}"`), "bus port");
    }
    equal(text.match(/- --cluster-enabled/g)?.length, 6, "six nodes in cluster mode");
    equal(text.match(/- --cluster-announce-ip/g)?.length, 6);
    // docker-compose folds long lines: compare with whitespace collapsed.
    const flat = text.replace(/\s+/g, " ");
    ok(flat.includes("cluster-bus/main.ts create 172.30.0.11:7000 172.30.0.12:7001"), "create job");
    ok(flat.includes("172.30.0.16:7005 --replicas 1 --yes"), "one replica per master, unattended");
    ok(text.includes("service_completed_successfully"), "the proxy waits for the cluster");
    ok(/published: 7777/.test(text) && /published: 8777/.test(text), "proxy RESP and admin");
    await Deno.stat(`${root}cluster-bus/main.ts`);
  },
});
