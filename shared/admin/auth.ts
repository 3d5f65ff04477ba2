/** Bearer-token auth for mutating admin routes (POST, PUT, PATCH, DELETE). */
import type { MiddlewareHandler } from "hono";
import { AdminError } from "./errors.ts";

const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

function constantTimeEqual(a: string, b: string): boolean {
  const ea = new TextEncoder().encode(a), eb = new TextEncoder().encode(b);
  let diff = ea.length ^ eb.length;
  for (let i = 0; i < Math.max(ea.length, eb.length); i++) diff |= (ea[i] ?? 0) ^ (eb[i] ?? 0);
  return diff === 0;
}

/** With no token configured every route is open; otherwise mutating ones need it. */
export function bearerAuth(opts: { token: () => string | undefined }): MiddlewareHandler {
  return async (c, next) => {
    const token = opts.token();
    if (token && MUTATING.has(c.req.method)) {
      const h = c.req.header("authorization") ?? "";
      const m = /^Bearer\s+(.+)$/i.exec(h);
      if (!m) throw new AdminError(401, "unauthorized", "missing bearer token");
      if (!constantTimeEqual(m[1]!, token)) {
        throw new AdminError(401, "unauthorized", "invalid bearer token");
      }
    }
    await next();
  };
}
