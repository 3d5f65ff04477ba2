/**
 * Processes for tests: free ports, a real redis-server, our data node. Every started process is
 * registered and stopped on `await using` disposal, on stop(), or at unload at the latest, so a
 * failing test never leaves one running. Output is kept (last lines only) to explain failures.
 */
const root = new URL("../../", import.meta.url).pathname;
const OUTPUT_LINES = 200;
const STOP_GRACE_MS = 5000;
const PROBE_TIMEOUT_MS = 1000;
const PROBE_INTERVAL_MS = 50;
/** Processes still running (or not yet reaped), for the unload safety net. */
const live = new Set<ManagedProcess>();

/** Ports handed out lately, oldest first: not handed out again while listed. */
const recentPorts: number[] = [];
const RECENT_PORTS = 512;

/**
 * A port that was free a moment ago. Stays below 55000: cluster nodes also use port + 10000.
 * The system may offer a port again as soon as its probe closes, so two servers started side by
 * side could get the same one (the second one's readiness probe then reaches the first): a port
 * given out lately is skipped.
 */
export function freePort(): Promise<number> {
  for (;;) {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    if (port > 55000 || recentPorts.includes(port)) continue;
    recentPorts.push(port);
    if (recentPorts.length > RECENT_PORTS) recentPorts.shift();
    return Promise.resolve(port);
  }
}

/** The path of an executable on PATH (or the given path if it is one), else null. */
export function which(cmd: string): string | null {
  const candidates = cmd.includes("/")
    ? [cmd]
    : (Deno.env.get("PATH") ?? "").split(":").filter(Boolean).map((d) => `${d}/${cmd}`);
  for (const p of candidates) {
    try {
      const st = Deno.statSync(p);
      if (st.isFile && ((st.mode ?? 0o111) & 0o111) !== 0) return p;
    } catch { /* not here */ }
  }
  return null;
}

/**
 * The binary's path, or null after printing why the caller skips, so that a skip is never
 * silent. Use as `Deno.test({ name, ignore: !requireBinary("redis-server", name), fn })`.
 */
export function requireBinary(name: string, testName: string = name): string | null {
  const path = which(name);
  if (path === null) console.log(`SKIP: ${name} not installed: ${testName}`);
  return path;
}

export const hasRedis = which("redis-server") !== null;

export interface StartOptions {
  cmd: string[];
  port: number;
  readyTimeoutMs?: number;
  cwd?: string;
  env?: Record<string, string>;
  name?: string;
  /** A directory that belongs to the process: removed once it has stopped. */
  ownedDir?: string;
}

/** The last `capacity` lines of a process's stdout and stderr, interleaved as they arrive. */
class LineRing {
  private readonly lines: string[] = [];
  private next = 0;

  constructor(private readonly capacity: number) {}

  push(line: string): void {
    if (this.lines.length < this.capacity) this.lines.push(line);
    else this.lines[this.next] = line;
    this.next = (this.next + 1) % this.capacity;
  }

  text(): string {
    if (this.lines.length < this.capacity) return this.lines.join("\n");
    return [...this.lines.slice(this.next), ...this.lines.slice(0, this.next)].join("\n");
  }
}

export class ManagedProcess {
  private readonly ring = new LineRing(OUTPUT_LINES);
  private readonly captured: Promise<void>;
  private exited = false;
  private stopping: Promise<void> | null = null;
  readonly status: Promise<Deno.CommandStatus>;

  constructor(
    private readonly child: Deno.ChildProcess,
    readonly port: number,
    readonly name: string,
    private readonly ownedDir?: string,
  ) {
    this.status = child.status.then((s) => {
      this.exited = true;
      return s;
    });
    this.captured = Promise.all([this.capture(child.stdout), this.capture(child.stderr)])
      .then(() => {});
    live.add(this);
  }

  get pid(): number {
    return this.child.pid;
  }

  get alive(): boolean {
    return !this.exited;
  }

  /** Reads a stream to its end line by line; a line cut across chunks is joined first. */
  private async capture(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let partial = "";
    try {
      for await (const chunk of stream) {
        const lines = (partial + decoder.decode(chunk, { stream: true })).split("\n");
        partial = lines.pop() ?? "";
        for (const l of lines) this.ring.push(l);
      }
    } catch { /* the process is gone */ }
    if (partial) this.ring.push(partial);
  }

  /** The last lines the process printed (stdout and stderr). */
  output(): string {
    return this.ring.text();
  }

  signal(sig: Deno.Signal): void {
    if (this.exited) return;
    try {
      this.child.kill(sig);
    } catch { /* already gone */ }
  }

  pause(): void {
    this.signal("SIGSTOP");
  }

  resume(): void {
    this.signal("SIGCONT");
  }

  /** Kills without a chance to clean up (a crash); stop() or disposal still reaps and tidies. */
  async kill9(): Promise<void> {
    this.signal("SIGKILL");
    await this.status;
  }

  /** Stops the process (SIGKILL after a grace period) and removes its directory. Idempotent. */
  stop(sig: Deno.Signal = "SIGTERM"): Promise<void> {
    this.stopping ??= this.terminate(sig);
    return this.stopping;
  }

  private async terminate(sig: Deno.Signal): Promise<void> {
    if (!this.exited) {
      // A stopped process would hold the signal pending until continued.
      this.signal("SIGCONT");
      this.signal(sig);
      const timer = setTimeout(() => this.signal("SIGKILL"), STOP_GRACE_MS);
      await this.status;
      clearTimeout(timer);
    }
    await this.captured;
    live.delete(this);
    if (this.ownedDir) await Deno.remove(this.ownedDir, { recursive: true }).catch(() => {});
  }

  /** For unload: no awaiting is possible there. */
  killNow(): void {
    this.signal("SIGCONT");
    this.signal("SIGKILL");
    if (!this.ownedDir) return;
    try {
      Deno.removeSync(this.ownedDir, { recursive: true });
    } catch { /* already gone */ }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** True once anything answers a PING on the port: -LOADING and -NOAUTH mean it is up too. */
async function pingOnce(port: number): Promise<boolean> {
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch {
    return false;
  }
  // Closing the connection ends a read that a hung process would never answer.
  const timer = setTimeout(() => conn.close(), PROBE_TIMEOUT_MS);
  try {
    await conn.write(new TextEncoder().encode("*1\r\n$4\r\nPING\r\n"));
    const buf = new Uint8Array(64);
    const n = await conn.read(buf);
    return n !== null && n > 0;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timer */ }
  }
}

/**
 * Whether process `pid` holds the socket listening on `port` (from Linux's /proc); null where
 * that cannot be told.
 */
function listensOn(pid: number, port: number): boolean | null {
  const inodes = new Set<string>();
  let readable = false;
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = Deno.readTextFileSync(file);
    } catch {
      continue;
    }
    readable = true;
    for (const line of text.split("\n").slice(1)) {
      // sl local_address rem_address st ... inode: a listener is state 0A.
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || cols[3] !== "0A") continue;
      if (parseInt(cols[1]!.split(":")[1]!, 16) === port) inodes.add(cols[9]!);
    }
  }
  if (!readable) return null;
  if (inodes.size === 0) return false;
  let fds: Deno.DirEntry[];
  try {
    fds = [...Deno.readDirSync(`/proc/${pid}/fd`)];
  } catch {
    return null;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(Deno.readLinkSync(`/proc/${pid}/fd/${fd.name}`));
      if (m && inodes.has(m[1]!)) return true;
    } catch { /* closed meanwhile */ }
  }
  return false;
}

/** Spawns a process and waits until it answers PING; on failure it is killed and its output shown. */
export async function startProcess(opts: StartOptions): Promise<ManagedProcess> {
  const [bin, ...args] = opts.cmd;
  if (bin === undefined) throw new Error("startProcess: empty command");
  const name = opts.name ?? bin;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(bin, {
      args,
      cwd: opts.cwd ?? root,
      ...(opts.env ? { env: opts.env } : {}),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    if (opts.ownedDir) await Deno.remove(opts.ownedDir, { recursive: true }).catch(() => {});
    throw e;
  }
  const p = new ManagedProcess(child, opts.port, name, opts.ownedDir);
  await waitReady(p, opts.readyTimeoutMs ?? 20000);
  return p;
}

async function waitReady(p: ManagedProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!p.alive) {
      const status = await p.status;
      await p.stop();
      throw new Error(
        `${p.name} exited (code ${status.code}) before it was ready:\n${p.output()}`,
      );
    }
    // Another test's server may have taken the port first: only our own process counts (ours
    // then exits with "address already in use", and startServer tries another port).
    if (await pingOnce(p.port) && listensOn(p.pid, p.port) !== false) return;
    await new Promise((r) => setTimeout(r, PROBE_INTERVAL_MS));
  }
  await p.stop("SIGKILL");
  throw new Error(`${p.name} not ready on port ${p.port} after ${timeoutMs} ms:\n${p.output()}`);
}

export interface ServerOptions {
  /** Run in this directory (kept); by default a fresh temp dir, removed on stop. */
  dir?: string;
  readyTimeoutMs?: number;
}

/** As deno.json's tasks and the compiled executable run the data node (see tests/compile.ts). */
export const DATA_NODE_V8_FLAGS = "--v8-flags=--max-semi-space-size=4,--expose-gc";

/** The command line of our data node, as redis-server takes it (a config file comes first). */
export function dataNodeCommand(port: number, args: string[], configFile?: string): string[] {
  const file = configFile ? [configFile] : [];
  return [
    Deno.execPath(),
    "run",
    "-A",
    DATA_NODE_V8_FLAGS,
    `${root}data-node/main.ts`,
    ...file,
    "--port",
    String(port),
    ...args,
  ];
}

/** Another test may take the free port before the server binds it; then a new port is tried. */
const PORT_ATTEMPTS = 3;

/**
 * Starts a server on a free 127.0.0.1 port with persistence off unless `args` turn it on
 * (later directives win, as in redis-server).
 */
async function startServer(
  kind: "redis-server" | "data-node",
  args: string[],
  opts: ServerOptions,
): Promise<ManagedProcess> {
  for (let attempt = 1;; attempt++) {
    const port = await freePort();
    const ownedDir = opts.dir ? undefined : await Deno.makeTempDir({ prefix: "redis-ha-test-" });
    const dir = opts.dir ?? ownedDir!;
    const common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir];
    const cmd = kind === "redis-server"
      ? ["redis-server", "--port", String(port), ...common, ...args]
      : dataNodeCommand(port, [...common, "--admin-port", "-1", ...args]);
    try {
      return await startProcess({
        cmd,
        port,
        name: kind,
        ...(ownedDir ? { ownedDir } : {}),
        ...(opts.readyTimeoutMs ? { readyTimeoutMs: opts.readyTimeoutMs } : {}),
      });
    } catch (e) {
      const portTaken = /address already in use/i.test((e as Error).message);
      if (!portTaken || attempt >= PORT_ATTEMPTS) throw e;
    }
  }
}

/** A real redis-server. */
export function startRedisServer(
  args: string[] = [],
  opts: ServerOptions = {},
): Promise<ManagedProcess> {
  return startServer("redis-server", args, opts);
}

/** Our data node. */
export function startDataNode(
  args: string[] = [],
  opts: ServerOptions = {},
): Promise<ManagedProcess> {
  return startServer("data-node", args, opts);
}

globalThis.addEventListener("unload", () => {
  for (const p of live) p.killNow();
});

/** Runs the data node to completion (for startups that must fail) and returns its output. */
export async function runDataNode(
  args: string[],
): Promise<{ success: boolean; stderr: string; stdout: string }> {
  // A leading config file must stay the first argument.
  const file = args[0] !== undefined && !args[0].startsWith("--") ? args[0] : undefined;
  const rest0 = file === undefined ? args : args.slice(1);
  const [bin, ...rest] = dataNodeCommand(await freePort(), ["--admin-port", "-1", ...rest0], file);
  const out = await new Deno.Command(bin!, { args: rest, stdout: "piped", stderr: "piped" })
    .output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { success: out.success, stderr: text(out.stderr), stdout: text(out.stdout) };
}

/** Runs `fn` with a fresh temporary directory, removed afterwards whatever happens. */
export async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "redis-ha-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
