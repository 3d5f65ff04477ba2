/** Pieces the benchmark's sections share: progress lines, process CPU, redis-benchmark, ratios. */

export const TICKS = Number(
  new TextDecoder().decode(
    (await new Deno.Command("getconf", { args: ["CLK_TCK"] }).output()).stdout,
  )
    .trim(),
) || 100;

/** Progress on stderr, so that --json output stays clean. */
export function progress(msg: string): void {
  console.error(`[bench] ${msg}`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** utime + stime of a process from /proc, in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / TICKS;
}

export async function redisBenchmark(args: string[]): Promise<string> {
  const out = await new Deno.Command("redis-benchmark", {
    args,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `redis-benchmark ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return new TextDecoder().decode(out.stdout);
}

/** A ratio for the tables: a run too short to register CPU ticks has none. */
export function ratio(x: number, width = 8): string {
  return (Number.isFinite(x) ? x.toFixed(2) : "n/a").padStart(width);
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

/** A target of the summary: the ratios ours/redis that count and the limit they must keep. */
export interface Target {
  target: string;
  /** The ratios that count, with where each was measured. */
  ratios: { at: string; ratio: number }[];
  /** How many ratios the target covers (fewer were measured when sections or flags left some out). */
  expected: number;
  limit: number;
  /** "max": every ratio must be at most the limit; "min": at least. */
  kind: "max" | "min";
  /** Measurements of ours that broke (a crash, a failover that never completed): missed. */
  failed?: string[];
}

/** The median of some numbers (the mean of the middle two for an even count). */
export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * A measurement of both servers taken `rounds` times, alternating (redis first in each round),
 * with each figure the median of its rounds: a burst of load from elsewhere on the machine then
 * moves one round of one server, not the ratio.
 */
export async function interleaved<T extends { [K in keyof T]: number }>(
  rounds: number,
  redis: () => Promise<T>,
  ours: () => Promise<T>,
): Promise<[T, T]> {
  const rs: T[] = [], os: T[] = [];
  for (let i = 0; i < rounds; i++) {
    rs.push(await redis());
    os.push(await ours());
  }
  const med = (xs: T[]): T => {
    const out = { ...xs[0]! };
    for (const k of Object.keys(out) as (keyof T)[]) {
      out[k] = median(xs.map((x) => x[k])) as T[keyof T];
    }
    return out;
  };
  return [med(rs), med(os)];
}
