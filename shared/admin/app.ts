/**
 * The admin app factory shared by all three executables: /health, /info, /metrics, JSON errors
 * and bearer auth on every mutating route (including routes the executable adds later).
 * The app never listens; main.ts serves it (serve.ts) and tests call app.request().
 */
import { type Context, Hono } from "hono";
import { AdminError } from "./errors.ts";
import { bearerAuth, isLoopbackAddress } from "./auth.ts";

export { AdminError, isLoopbackAddress };

export interface Metric {
  name: string;
  help: string;
  type: "counter" | "gauge";
  samples: { labels?: Record<string, string>; value: number }[];
}

export interface AdminDeps {
  role: string;
  token: () => string | undefined;
  /**
   * True while the API listens beyond the loopback interface: mutating routes then need a
   * token, and without one they answer 403 (protected mode).
   */
  exposed?: () => boolean;
  info: (section?: string) => Record<string, Record<string, string>>;
  metrics: () => Metric[];
  health?: () => { ok: boolean; [k: string]: unknown };
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function formatNumber(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/** Prometheus text exposition format 0.0.4. */
export function renderPrometheus(metrics: Metric[]): string {
  let out = "";
  for (const m of metrics) {
    if (!METRIC_NAME.test(m.name)) throw new Error(`invalid metric name ${m.name}`);
    out += `# HELP ${m.name} ${m.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}\n`;
    out += `# TYPE ${m.name} ${m.type}\n`;
    for (const s of m.samples) {
      const labels = Object.entries(s.labels ?? {});
      const l = labels.length
        ? `{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`
        : "";
      out += `${m.name}${l} ${formatNumber(s.value)}\n`;
    }
  }
  return out;
}

/** Parses and validates a JSON body; a 400 with the reason when it is malformed. */
export async function readJson<T>(c: Context, validate: (x: unknown) => T): Promise<T> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw new AdminError(400, "bad_request", "body is not valid JSON");
  }
  try {
    return validate(body);
  } catch (e) {
    throw new AdminError(400, "bad_request", (e as Error).message);
  }
}

export function createAdminApp(deps: AdminDeps): Hono {
  const app = new Hono();
  app.use(
    "*",
    bearerAuth({ token: deps.token, ...(deps.exposed ? { exposed: deps.exposed } : {}) }),
  );
  app.onError((err, c) => {
    if (err instanceof AdminError) {
      return c.json({ error: err.code, reason: err.reason }, err.status);
    }
    return c.json({ error: "internal", reason: err.message }, 500);
  });
  app.notFound((c) =>
    c.json({ error: "not_found", reason: `no route ${c.req.method} ${c.req.path}` }, 404)
  );
  app.get("/health", (c) => {
    const h = deps.health?.() ?? { ok: true };
    const { ok, ...rest } = h;
    return c.json({ status: ok ? "ok" : "fail", role: deps.role, ...rest }, ok ? 200 : 503);
  });
  app.get("/info", (c) => {
    const section = c.req.query("section")?.toLowerCase();
    const info = deps.info(section);
    if (section && !info[section]) {
      throw new AdminError(404, "no_such_section", `unknown INFO section '${section}'`);
    }
    return c.json(info);
  });
  app.get("/metrics", (c) => {
    return c.text(renderPrometheus(deps.metrics()), 200, {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
    });
  });
  return app;
}
