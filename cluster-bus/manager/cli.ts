/** The manager's command line: one command, its report on stdout, an exit code. */
import type { Flags } from "../main.ts";
import { splitAddr } from "../proxy/slot_map.ts";
import { planRebalance } from "./plan.ts";
import {
  checkAndPrint,
  createCluster,
  DEFAULT_PIPELINE,
  fixCluster,
  isMaster,
  ManagerError,
  Nodes,
  reshardSlots,
  runMoves,
} from "./ops.ts";

const COMMANDS = ["create", "check", "fix", "reshard", "rebalance"];

function int(v: string | undefined, name: string, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || !Number.isInteger(n) || n < min || n > max) {
    throw new ManagerError(`--${name} must be an integer from ${min} to ${max}`);
  }
  return n;
}

async function ask(question: string, yes: boolean): Promise<boolean> {
  if (yes) return true;
  const buf = new Uint8Array(1024);
  await Deno.stdout.write(new TextEncoder().encode(`${question} (type 'yes' to accept): `));
  const n = await Deno.stdin.read(buf).catch(() => null);
  return n !== null && new TextDecoder().decode(buf.subarray(0, n)).trim() === "yes";
}

/** Runs a manager command; returns the exit code. */
export async function runManager(positionals: string[], f: Flags): Promise<number> {
  const [cmd, ...addrs] = positionals;
  if (!cmd || !COMMANDS.includes(cmd)) {
    console.error(`unknown command '${cmd}' (commands: ${COMMANDS.join(", ")})`);
    return 2;
  }
  for (const a of addrs) {
    if (!splitAddr(a)) {
      console.error(`bad node address '${a}' (expected host:port)`);
      return 2;
    }
  }
  if (addrs.length === 0 || (cmd !== "create" && addrs.length !== 1)) {
    console.error(`${cmd}: ${cmd === "create" ? "node addresses" : "one host:port"} required`);
    return 2;
  }
  const nodes = new Nodes({
    timeoutMs: int(f.timeout, "timeout", 5000, 1, 3_600_000),
    out: (l) => console.log(l),
    ...(f.masterauth ? { password: f.masterauth } : {}),
  });
  try {
    return await runCommand(nodes, cmd, addrs, f);
  } catch (e) {
    console.error(e instanceof ManagerError ? e.message : `[ERR] ${(e as Error).message}`);
    return 1;
  } finally {
    await nodes.close();
  }
}

async function runCommand(nodes: Nodes, cmd: string, addrs: string[], f: Flags): Promise<number> {
  const entry = addrs[0]!;
  const pipeline = int(f.pipeline, "pipeline", DEFAULT_PIPELINE, 1, 100_000);
  switch (cmd) {
    case "create": {
      const replicas = int(f.replicas, "replicas", 0, 0, 100);
      await createCluster(
        nodes,
        addrs,
        replicas,
        () => ask("Can I set the above configuration?", f.yes === true),
      );
      return 0;
    }
    case "check": {
      const r = await checkAndPrint(nodes, entry);
      return r.errors === 0 ? 0 : 1;
    }
    case "fix": {
      await checkAndPrint(nodes, entry);
      await fixCluster(nodes, entry, pipeline);
      const r = await checkAndPrint(nodes, entry);
      return r.errors === 0 ? 0 : 1;
    }
    case "reshard":
      return await reshard(nodes, entry, f, pipeline);
    case "rebalance":
      return await rebalance(nodes, entry, f, pipeline);
  }
  return 2;
}

async function reshard(nodes: Nodes, entry: string, f: Flags, pipeline: number): Promise<number> {
  const report = await checkAndPrint(nodes, entry);
  if (report.errors > 0) {
    console.error("*** Please fix your cluster problems before resharding");
    return 1;
  }
  if (!f.from || !f.to || !f.slots) {
    throw new ManagerError("reshard needs --from <id,...|all> --to <id> --slots <n>");
  }
  const from = f.from === "all" ? "all" : f.from.split(",");
  const slots = int(f.slots, "slots", 0, 1, 16384);
  const confirm = () =>
    ask("Do you want to proceed with the proposed reshard plan?", f.yes === true);
  return (await reshardSlots(nodes, entry, from, f.to, slots, pipeline, confirm)) ? 0 : 1;
}

async function rebalance(nodes: Nodes, entry: string, f: Flags, pipeline: number): Promise<number> {
  const report = await checkAndPrint(nodes, entry);
  if (report.errors > 0) {
    console.error("*** Please fix your cluster problems before rebalancing");
    return 1;
  }
  const known = (await nodes.view(entry)).known;
  const masters = known.filter((n) => isMaster(n) && !n.flags.includes("fail"));
  const weights = new Map<string, number>();
  for (const w of f.weight ?? []) {
    const [prefix, value] = w.split("=");
    const weight = Number(value);
    const m = masters.filter((x) => x.id.startsWith(prefix ?? "\0"));
    if (m.length !== 1 || !Number.isFinite(weight) || weight < 0) {
      throw new ManagerError(`*** bad --weight '${w}' (expected <node id prefix>=<weight>)`);
    }
    weights.set(m[0]!.id, weight);
  }
  const threshold = Number(f.threshold ?? "2");
  if (!Number.isFinite(threshold) || threshold < 0) {
    throw new ManagerError("--threshold must be a number of percent");
  }
  const moves = planRebalance(masters, weights, threshold, f["use-empty-masters"] === true);
  if (moves.length === 0) {
    console.log(
      "*** No rebalancing needed! All nodes are within the " +
        `${threshold.toFixed(2)}% threshold.`,
    );
    return 0;
  }
  console.log(
    `>>> Rebalancing across ${masters.length} nodes. Total weight = ` +
      `${masters.reduce((a, m) => a + (weights.get(m.id) ?? 1), 0).toFixed(2)}`,
  );
  await runMoves(nodes, known, moves, pipeline);
  return 0;
}
