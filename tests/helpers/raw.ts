/** A bare RESP connection for tests: send a command, read exactly one reply. */
import { encodeCommand, NEED_MORE, RespDecoder, type RespValue } from "../../shared/resp/mod.ts";

export class RawConn {
  private readonly dec = new RespDecoder();
  private readonly buf = new Uint8Array(64 * 1024);
  private closed = false;

  private constructor(private readonly conn: Deno.Conn) {}

  static async connect(port: number, host = "127.0.0.1"): Promise<RawConn> {
    return new RawConn(await Deno.connect({ hostname: host, port }));
  }

  async write(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) off += await this.conn.write(bytes.subarray(off));
  }

  /** The next reply; rejects on timeout or when the server closes the connection. */
  async read(timeoutMs = 5000): Promise<RespValue> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = this.dec.next();
      if (v !== NEED_MORE) return v;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("timed out waiting for a reply");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const n = await Promise.race([
        this.conn.read(this.buf),
        new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), left)),
      ]);
      clearTimeout(timer);
      if (n === "timeout") throw new Error("timed out waiting for a reply");
      if (n === null) throw new Error("connection closed by server");
      this.dec.push(this.buf.subarray(0, n));
    }
  }

  /** True once the server has closed the connection (reads EOF within the timeout). */
  async closedByServer(timeoutMs = 2000): Promise<boolean> {
    try {
      for (;;) await this.read(timeoutMs);
    } catch (e) {
      return (e as Error).message === "connection closed by server";
    }
  }

  async call(...args: string[]): Promise<RespValue> {
    await this.write(encodeCommand(args));
    return await this.read();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Polls until `check` passes (returns true), or fails after `timeoutMs`. */
export async function eventually(
  check: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
