/** The proxy's listener: accepts clients, one Session each, bounded by maxclients. */
import { getLogger } from "../../shared/log.ts";
import { Cluster, type ClusterOptions } from "./cluster.ts";
import { Session } from "./session.ts";

const log = getLogger(["cluster-bus", "proxy"]);

export interface ProxyOptions extends ClusterOptions {
  bind: string;
  port: number;
  requirepass?: string;
  maxClients: number;
}

export class ProxyServer {
  readonly cluster: Cluster;
  private listener: Deno.TcpListener | null = null;
  private readonly sessions = new Set<Session>();
  private nextId = 1;
  private readonly conns = new Set<Deno.TcpConn>();
  clientsTotal = 0;
  rejected = 0;

  constructor(readonly opts: ProxyOptions) {
    this.cluster = new Cluster(opts);
  }

  get clients(): number {
    return this.sessions.size;
  }

  get boundPort(): number {
    return (this.listener?.addr as Deno.NetAddr | undefined)?.port ?? 0;
  }

  /**
   * Listens now and starts learning the slot map; the promise tells whether the first refresh
   * worked (until one does, each command tries again and clients get an error, never a hang).
   */
  start(): Promise<boolean> {
    this.listener = Deno.listen({ hostname: this.opts.bind, port: this.opts.port });
    this.cluster.start();
    void this.accept(this.listener);
    return this.cluster.refresh().then((ok) => {
      if (!ok) log.warn("no seed answered CLUSTER SLOTS yet; retrying in the background");
      return ok;
    });
  }

  private async accept(l: Deno.TcpListener): Promise<void> {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await l.accept();
      } catch {
        return; // listener closed
      }
      if (this.sessions.size >= this.opts.maxClients) {
        this.rejected++;
        void conn.write(new TextEncoder().encode("-ERR max number of clients reached\r\n"))
          .catch(() => {}).finally(() => conn.close());
        continue;
      }
      try {
        conn.setNoDelay(true);
      } catch { /* not fatal */ }
      const s = new Session(conn, this.cluster, {
        id: this.nextId++,
        ...(this.opts.requirepass ? { requirepass: this.opts.requirepass } : {}),
      });
      this.sessions.add(s);
      this.conns.add(conn);
      this.clientsTotal++;
      void s.run().finally(() => {
        this.sessions.delete(s);
        this.conns.delete(conn);
      });
    }
  }

  async close(): Promise<void> {
    try {
      this.listener?.close();
    } catch { /* closed */ }
    for (const c of this.conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await this.cluster.close();
  }
}
