/**
 * An outgoing TCP connection from a chosen local address (bind-source-addr). `Deno.connect`
 * takes no local address, so such a connection is made with node:net and given the few
 * members of a `Deno.TcpConn` the replication link and the cluster bus use: read, write, close,
 * setNoDelay, setKeepAlive, localAddr and remoteAddr. Without an address, `Deno.connect` is used
 * as before.
 */
import net from "node:net";

/** Bytes received and not yet read after which the socket stops reading (backpressure). */
const MAX_PENDING = 1024 * 1024;

class BoundConn {
  private readonly chunks: Uint8Array[] = [];
  private pending = 0;
  private ended = false;
  private failure: Error | null = null;
  private waiter: (() => void) | null = null;

  constructor(private readonly sock: net.Socket) {
    sock.on("data", (d: Uint8Array) => {
      this.chunks.push(d);
      this.pending += d.length;
      if (this.pending >= MAX_PENDING) sock.pause();
      this.wake();
    });
    sock.on("end", () => {
      this.ended = true;
      this.wake();
    });
    sock.on("close", () => {
      this.ended = true;
      this.wake();
    });
    sock.on("error", (e: Error) => {
      this.failure = e;
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  async read(p: Uint8Array): Promise<number | null> {
    while (this.chunks.length === 0) {
      if (this.failure) throw this.failure;
      if (this.ended) return null;
      await new Promise<void>((r) => this.waiter = r);
    }
    let n = 0;
    while (n < p.length && this.chunks.length > 0) {
      const c = this.chunks[0]!;
      const take = Math.min(c.length, p.length - n);
      p.set(c.subarray(0, take), n);
      n += take;
      if (take === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(take);
    }
    this.pending -= n;
    if (this.pending < MAX_PENDING && this.sock.isPaused()) this.sock.resume();
    return n;
  }

  write(p: Uint8Array): Promise<number> {
    if (this.failure) return Promise.reject(this.failure);
    // A copy: the caller may reuse its buffer once the promise resolves.
    const copy = p.slice();
    return new Promise((resolve, reject) => {
      this.sock.write(copy, (e) => e ? reject(e) : resolve(copy.length));
    });
  }

  close(): void {
    this.ended = true;
    this.sock.destroy();
    this.wake();
  }

  setNoDelay(on = true): void {
    this.sock.setNoDelay(on);
  }

  setKeepAlive(on = true): void {
    this.sock.setKeepAlive(on);
  }

  get localAddr(): Deno.NetAddr {
    return {
      transport: "tcp",
      hostname: this.sock.localAddress ?? "",
      port: this.sock.localPort ?? 0,
    };
  }

  get remoteAddr(): Deno.NetAddr {
    return {
      transport: "tcp",
      hostname: this.sock.remoteAddress ?? "",
      port: this.sock.remotePort ?? 0,
    };
  }
}

/** Connects to host:port, from `localAddress` when one is given (else as Deno.connect does). */
export function connectFrom(host: string, port: number, localAddress: string): Promise<Deno.Conn> {
  if (localAddress === "") return Deno.connect({ hostname: host, port });
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port, localAddress });
    const failed = (e: Error) => {
      sock.destroy();
      reject(e);
    };
    sock.once("error", failed);
    sock.once("connect", () => {
      sock.off("error", failed);
      // Only the members above are used on a replication link's or a bus link's connection.
      resolve(new BoundConn(sock) as unknown as Deno.Conn);
    });
  });
}
