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
