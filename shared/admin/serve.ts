/** Serving an admin app, and the default admin port. */

export interface AdminHandle {
  addr: { hostname: string; port: number };
  shutdown(): Promise<void>;
}

export function serveAdmin(
  app: { fetch: Deno.ServeHandler },
  opts: { hostname: string; port: number; signal?: AbortSignal },
): AdminHandle {
  const ac = new AbortController();
  opts.signal?.addEventListener("abort", () => ac.abort());
  const server = Deno.serve(
    { hostname: opts.hostname, port: opts.port, signal: ac.signal, onListen: () => {} },
    app.fetch,
  );
  const a = server.addr as Deno.NetAddr;
  return {
    addr: { hostname: a.hostname, port: a.port },
    shutdown: async () => {
      ac.abort();
      await server.finished.catch(() => {});
    },
  };
}

/**
 * The admin port when none is configured: data port + 1000 (or - 1000 near the top of the port
 * range). It can never equal the data port or the cluster bus port (data port + 10000).
 */
export function defaultAdminPort(dataPort: number): number {
  return dataPort + 1000 <= 65535 ? dataPort + 1000 : dataPort - 1000;
}
