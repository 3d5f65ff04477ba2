/**
 * `deno task up`: a local topology on this machine: a master, two replicas and three sentinels
 * (each with its HTTP admin API), their data and config files in one directory. Prints every
 * endpoint and how a Sentinel-aware client connects; Ctrl-C or SIGTERM stops everything.
 *
 *   deno task up [--port 6379] [--sentinel-port 26379] [--dir DIR] [--down-after 5000]
 *   deno task up cluster [--port 7000] [--dir DIR] [--node-timeout 5000]
 *
 * Data nodes listen on port, port+1, port+2 and sentinels on sentinel-port .. +2 (admin APIs on
 * each port + 1000). `cluster` starts six cluster nodes on port .. port+5 (buses on +10000) and
 * makes them a cluster of three masters with a replica each, as `redis-cli --cluster create`
 * would. A busy port stops the start with the reason.
 */
import { parseArgs } from "node:util";
import { RedisClient } from "../shared/client.ts";

const root = new URL("..", import.meta.url).pathname;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    "node-timeout": { type: "string", default: "5000" },
    port: { type: "string" },
    "sentinel-port": { type: "string", default: "26379" },
    dir: { type: "string" },
    "down-after": { type: "string", default: "5000" },
    help: { type: "boolean", default: false },
  },
});

if (values.help) {
  console.log(
    "Usage: deno task up [--port 6379] [--sentinel-port 26379] [--dir DIR] [--down-after ms]\n" +
      "       deno task up cluster [--port 7000] [--dir DIR] [--node-timeout ms]",
  );
  Deno.exit(0);
}
const clusterMode = positionals[0] === "cluster";
if (positionals.length > 1 || (positionals.length === 1 && !clusterMode)) {
  console.error(`unknown topology '${positionals.join(" ")}' (known: the default, cluster)`);
  Deno.exit(2);
}

function portArg(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65533) {
    console.error(`--${name} must be a port from 1 to 65533`);
    Deno.exit(2);
  }
  return n;
}

const port = portArg("port", values.port ?? (clusterMode ? "7000" : "6379"));
const sentinelPort = portArg("sentinel-port", values["sentinel-port"]!);
const downAfter = Number(values["down-after"]);
if (!Number.isInteger(downAfter) || downAfter < 100) {
  console.error("--down-after must be an integer number of milliseconds, at least 100");
  Deno.exit(2);
}
const dir = values.dir ?? await Deno.makeTempDir({ prefix: "redis-ha-up-" });
await Deno.mkdir(dir, { recursive: true });

/** Refuses to start on a busy port (the reason names it). */
function checkFree(p: number): void {
  try {
    Deno.listen({ hostname: "127.0.0.1", port: p }).close();
  } catch (e) {
    console.error(`port ${p} is not free: ${(e as Error).message}`);
    Deno.exit(1);
  }
}

const dataPorts = clusterMode
  ? [0, 1, 2, 3, 4, 5].map((i) => port + i)
  : [port, port + 1, port + 2];
const sentinelPorts = clusterMode ? [] : [sentinelPort, sentinelPort + 1, sentinelPort + 2];
for (const p of [...dataPorts, ...sentinelPorts]) {
  checkFree(p);
  checkFree(p + 1000);
  if (clusterMode) checkFree(p + 10000);
}
const nodeTimeout = Number(values["node-timeout"]);
if (clusterMode && (!Number.isInteger(nodeTimeout) || nodeTimeout < 100)) {
  console.error("--node-timeout must be an integer number of milliseconds, at least 100");
  Deno.exit(2);
}

const children: { name: string; proc: Deno.ChildProcess }[] = [];

function spawn(name: string, args: string[]): void {
  const log = Deno.openSync(`${dir}/${name}.log`, { create: true, append: true });
  const proc = new Deno.Command(Deno.execPath(), {
    args,
    cwd: root,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const pump = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s) log.writeSync(chunk);
  };
  void Promise.all([pump(proc.stdout), pump(proc.stderr)]).finally(() => log.close());
  children.push({ name, proc });
}

for (const [i, p] of dataPorts.entries()) {
  const name = clusterMode ? `node${i + 1}` : i === 0 ? "master" : `replica${i}`;
  await Deno.mkdir(`${dir}/${name}`, { recursive: true });
  const role = clusterMode
    ? ["--cluster-enabled", "yes", "--cluster-node-timeout", String(nodeTimeout)]
    : i === 0
    ? []
    : ["--replicaof", "127.0.0.1", String(port)];
  spawn(name, [
    "run",
    "-A",
    "--v8-flags=--max-semi-space-size=4,--expose-gc",
    "data-node/main.ts",
    "--port",
    String(p),
    "--dir",
    `${dir}/${name}`,
    ...role,
  ]);
}
for (const [i, p] of sentinelPorts.entries()) {
  const conf = `${dir}/sentinel${i + 1}.conf`;
  Deno.writeTextFileSync(
    conf,
    `port ${p}\n` +
      `sentinel monitor mymaster 127.0.0.1 ${port} 2\n` +
      `sentinel down-after-milliseconds mymaster ${downAfter}\n` +
      `sentinel failover-timeout mymaster ${Math.max(10_000, downAfter * 6)}\n`,
  );
  spawn(`sentinel${i + 1}`, ["run", "-A", "sentinel/main.ts", conf]);
}

let stopping = false;
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log("\nstopping...");
  for (const c of children) {
    try {
      c.proc.kill("SIGTERM");
    } catch { /* already gone */ }
  }
  const timer = setTimeout(() => {
    for (const c of children) {
      try {
        c.proc.kill("SIGKILL");
      } catch { /* gone */ }
    }
  }, 5000);
  await Promise.all(children.map((c) => c.proc.status));
  clearTimeout(timer);
  Deno.exit(code);
}
for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(sig, () => void stop(0));
for (const c of children) {
  void c.proc.status.then((st) => {
    if (!stopping) {
      console.error(`${c.name} exited (code ${st.code}); see ${dir}/${c.name}.log`);
      void stop(1);
    }
  });
}

/** Waits until a port answers PING (a process that exits first stops everything above). */
async function waitReady(p: number): Promise<void> {
  for (let i = 0; i < 300 && !stopping; i++) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: p });
      await conn.write(new TextEncoder().encode("PING\r\n"));
      const buf = new Uint8Array(64);
      const n = await conn.read(buf);
      conn.close();
      if (n && new TextDecoder().decode(buf.subarray(0, n)).startsWith("+PONG")) return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`port ${p} did not answer PING`);
}

try {
  for (const p of [...dataPorts, ...sentinelPorts]) await waitReady(p);
} catch (e) {
  console.error((e as Error).message);
  await stop(1);
}

if (clusterMode) {
  try {
    await createCluster(dataPorts);
  } catch (e) {
    console.error(`could not make the cluster: ${(e as Error).message}`);
    await stop(1);
  }
  console.log(`A cluster of three masters with a replica each is up (data and logs in ${dir}).

${
    dataPorts.map((p, i) =>
      `  node ${i + 1}  redis://127.0.0.1:${p}  bus ${p + 10000}  admin http://127.0.0.1:${
        p + 1000
      }`
    ).join("\n")
  }

Cluster clients: any node as a seed, e.g. redis-cli -c -p ${port}, or with ioredis
  new Redis.Cluster([{ host: "127.0.0.1", port: ${port} }])

Ctrl-C stops everything.`);
} else {
  printSentinelTopology();
}

/**
 * What `redis-cli --cluster create --cluster-replicas 1` does: slots split in three ranges over
 * the first three nodes, a config epoch each, every node met, then each of the last three made
 * a replica of one master; done when every node says cluster_state:ok.
 */
async function createCluster(ports: number[]): Promise<void> {
  const clients = await Promise.all(
    ports.map((p) => RedisClient.connect({ port: p, reconnect: { enabled: false } })),
  );
  try {
    const ids = await Promise.all(clients.map((c) => c.callText("CLUSTER", "MYID")));
    const ranges = [[0, 5460], [5461, 10922], [10923, 16383]];
    for (let i = 0; i < clients.length; i++) {
      await clients[i]!.call("CLUSTER", "SET-CONFIG-EPOCH", String(i + 1));
    }
    for (let i = 0; i < 3; i++) {
      await clients[i]!.call("CLUSTER", "ADDSLOTSRANGE", ...ranges[i]!.map(String));
    }
    for (let i = 1; i < clients.length; i++) {
      await clients[i]!.call("CLUSTER", "MEET", "127.0.0.1", String(ports[0]));
    }
    const until = async (what: string, check: () => Promise<boolean>) => {
      for (let t = 0; t < 600; t++) {
        if (await check()) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`timed out waiting for ${what}`);
    };
    // Every node knows every other by its real name (a handshake still uses a random one).
    await until("every node to know the others", async () => {
      for (const c of clients) {
        const nodes = (await c.callText("CLUSTER", "NODES"))!;
        if (nodes.includes("handshake") || ids.some((id) => !nodes.includes(id!))) return false;
      }
      return true;
    });
    for (let i = 3; i < clients.length; i++) {
      await clients[i]!.call("CLUSTER", "REPLICATE", ids[i - 3]!);
    }
    await until("cluster_state:ok on every node", async () => {
      for (const c of clients) {
        if (!(await c.callText("CLUSTER", "INFO"))!.includes("cluster_state:ok")) return false;
      }
      return true;
    });
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

function printSentinelTopology(): void {
  const sentinelList = sentinelPorts.map((p) => `127.0.0.1:${p}`).join(",");
  console.log(`A master, two replicas and three sentinels are up (data and logs in ${dir}).

  master      redis://127.0.0.1:${dataPorts[0]}   admin http://127.0.0.1:${dataPorts[0]! + 1000}
  replica 1   redis://127.0.0.1:${dataPorts[1]}   admin http://127.0.0.1:${dataPorts[1]! + 1000}
  replica 2   redis://127.0.0.1:${dataPorts[2]}   admin http://127.0.0.1:${dataPorts[2]! + 1000}
${
    sentinelPorts.map((p, i) =>
      `  sentinel ${i + 1}  redis://127.0.0.1:${p}  admin http://127.0.0.1:${p + 1000}`
    ).join("\n")
  }

Sentinel clients: master name "mymaster", sentinels ${sentinelList}
  ioredis:    new Redis({ name: "mymaster", sentinels: [${
    sentinelPorts.map((p) => `{ host: "127.0.0.1", port: ${p} }`).join(", ")
  }] })
  redis-cli:  redis-cli -p ${sentinelPorts[0]} SENTINEL GET-MASTER-ADDR-BY-NAME mymaster

Ctrl-C stops everything.`);
}
