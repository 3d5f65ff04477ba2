/**
 * Bearer-token auth for mutating admin routes (POST, PUT, PATCH, DELETE), and a protected mode
 * like Redis's: an API reachable beyond the loopback interface with no token set refuses them.
 */
import type { MiddlewareHandler } from "hono";
import { AdminError } from "./errors.ts";

const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

function constantTimeEqual(a: string, b: string): boolean {
  const ea = new TextEncoder().encode(a), eb = new TextEncoder().encode(b);
  let diff = ea.length ^ eb.length;
  for (let i = 0; i < Math.max(ea.length, eb.length); i++) diff |= (ea[i] ?? 0) ^ (eb[i] ?? 0);
  return diff === 0;
}

/** True for an address only this host can reach (what protected mode allows without a token). */
export function isLoopbackAddress(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^(::ffff:)?127\.\d+\.\d+\.\d+$/.test(h);
}

export const PROTECTED_REASON = "the admin API listens beyond the loopback interface and no " +
  "admin-token is set, so its mutating routes are refused (protected mode). Set admin-token and " +
  "send 'Authorization: Bearer <token>', or set admin-bind to a loopback address such as " +
  "127.0.0.1.";

/**
 * With a token configured, mutating routes need it. Without one they are open only while the
 * API listens on loopback (`exposed` false); read routes are always open.
 */
export function bearerAuth(
  opts: { token: () => string | undefined; exposed?: () => boolean },
): MiddlewareHandler {
  return async (c, next) => {
    const token = opts.token();
    if (!token && MUTATING.has(c.req.method) && opts.exposed?.()) {
      throw new AdminError(403, "protected_mode", PROTECTED_REASON);
    }
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
