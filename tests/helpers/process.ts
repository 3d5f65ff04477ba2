/**
 * Processes for tests: free ports, a real redis-server, our data node. Each started process is
 * registered and stopped on `await using` disposal, on stop(), or at unload at the latest, so a
 * failing test never leaves one running.
 */
const root = new URL("../../", import.meta.url).pathname;
const decoder = new TextDecoder();
const live = new Set<ManagedProcess>();

export function freePort(): Promise<number> {
  for (;;) {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    // Cluster nodes also need port+10000, so stay below that range.
    if (port <= 55000) return Promise.resolve(port);
  }
}

export function which(cmd: string): string | null {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      const p = `${dir}/${cmd}`;
      if (Deno.statSync(p).isFile) return p;
    } catch { /* not here */ }
  }
  return null;
}

/** True when the binary exists; otherwise prints why the caller skips. */
export function requireBinary(name: string, testName: string): boolean {
  if (which(name)) return true;
  console.log(`SKIP: ${name} not installed: ${testName}`);
  return false;
}

export const hasRedis = which("redis-server") !== null;

export interface StartOptions {
  cmd: string[];
  port: number;
  readyTimeoutMs?: number;
  cwd?: string;
  name?: string;
  cleanup?: () => Promise<void>;
}

export class ManagedProcess {
  private lines: string[] = [];
  private exited = false;
  readonly status: Promise<Deno.CommandStatus>;

  constructor(
    private readonly child: Deno.ChildProcess,
    readonly port: number,
    readonly name: string,
    private readonly cleanup?: () => Promise<void>,
  ) {
    this.status = child.status.then((s) => {
      this.exited = true;
      return s;
    });
    void this.capture(child.stdout);
    void this.capture(child.stderr);
    live.add(this);
  }

  get pid(): number {
    return this.child.pid;
  }

  get alive(): boolean {
    return !this.exited;
  }

  private async capture(stream: ReadableStream<Uint8Array>): Promise<void> {
    try {
      for await (const chunk of stream) {
        for (const l of decoder.decode(chunk).split("\n")) {
          if (l) this.lines.push(l);
        }
        if (this.lines.length > 400) this.lines.splice(0, this.lines.length - 200);
      }
    } catch { /* process gone */ }
  }

  output(): string {
    return this.lines.join("\n");
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

  async kill9(): Promise<void> {
    this.signal("SIGKILL");
    await this.status;
  }

  async stop(sig: Deno.Signal = "SIGTERM"): Promise<void> {
    if (!this.exited) {
      this.signal("SIGCONT");
      this.signal(sig);
      const timer = setTimeout(() => this.signal("SIGKILL"), 5000);
      await this.status;
      clearTimeout(timer);
    }
    live.delete(this);
    await this.cleanup?.();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

async function pingOnce(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await conn.write(new TextEncoder().encode("*1\r\n$4\r\nPING\r\n"));
      const buf = new Uint8Array(64);
      const n = await conn.read(buf);
      return n !== null && n > 0;
    } finally {
      conn.close();
    }
  } catch {
    return false;
  }
}

export async function startProcess(opts: StartOptions): Promise<ManagedProcess> {
  const [bin, ...args] = opts.cmd;
  const child = new Deno.Command(bin!, {
    args,
    cwd: opts.cwd ?? root,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const p = new ManagedProcess(child, opts.port, opts.name ?? bin!, opts.cleanup);
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 20000);
  while (Date.now() < deadline) {
    if (!p.alive) {
      await p.stop();
      throw new Error(`${p.name} exited before it was ready:\n${p.output()}`);
    }
    if (await pingOnce(opts.port)) return p;
    await new Promise((r) => setTimeout(r, 50));
  }
  await p.stop("SIGKILL");
  throw new Error(`${p.name} not ready on port ${opts.port}:\n${p.output()}`);
}

async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "redis-ha-test-" });
  return { dir, cleanup: () => Deno.remove(dir, { recursive: true }).catch(() => {}) };
}

export interface ServerOptions {
  /** Run in this directory (kept); by default a fresh temp dir, removed on stop. */
  dir?: string;
  readyTimeoutMs?: number;
}

/** The command line of our data node, as redis-server takes it (a config file comes first). */
export function dataNodeCommand(port: number, args: string[], configFile?: string): string[] {
  const file = configFile ? [configFile] : [];
  return [
    Deno.execPath(),
    "run",
    "-A",
    `${root}data-node/main.ts`,
    ...file,
    "--port",
    String(port),
    ...args,
  ];
}

/**
 * Starts a server on a free 127.0.0.1 port with persistence off unless `args` turn it on
 * (later directives win, as in redis-server).
 */
async function startServer(
  name: "redis-server" | "data-node",
  args: string[],
  opts: ServerOptions,
): Promise<ManagedProcess> {
  const port = await freePort();
  const temp = opts.dir ? null : await tempDir();
  const dir = opts.dir ?? temp!.dir;
  const common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir];
  const cmd = name === "redis-server"
    ? ["redis-server", "--port", String(port), ...common, ...args]
    : dataNodeCommand(port, [...common, "--admin-port", "-1", ...args]);
  return startProcess({
    cmd,
    port,
    name,
    ...(temp ? { cleanup: temp.cleanup } : {}),
    ...(opts.readyTimeoutMs ? { readyTimeoutMs: opts.readyTimeoutMs } : {}),
  });
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
  for (const p of live) p.signal("SIGKILL");
});

/** Runs the data node to completion (for startups that must fail) and returns its output. */
export async function runDataNode(args: string[]): Promise<{ success: boolean; stderr: string }> {
  // A leading config file must stay the first argument.
  const file = args[0] !== undefined && !args[0].startsWith("--") ? args[0] : undefined;
  const rest0 = file === undefined ? args : args.slice(1);
  const [bin, ...rest] = dataNodeCommand(await freePort(), ["--admin-port", "-1", ...rest0], file);
  const out = await new Deno.Command(bin!, { args: rest, stdout: "piped", stderr: "piped" })
    .output();
  return { success: out.success, stderr: new TextDecoder().decode(out.stderr) };
}
