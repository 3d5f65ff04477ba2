/**
 * The admin app factory shared by all three executables: /health, /info, /metrics,
 * /openapi.json, JSON errors and bearer auth on every mutating route (including routes the
 * executable adds later).
 *
 * Every route is declared with a schema (`@hono/zod-openapi`): its parameters and body are
 * validated before the handler runs, a failure answers 400 `{error: "bad_request", reason}` like
 * every other admin error, and GET /openapi.json describes all routes, those added later too.
 * A JSON body is read as JSON whatever its content type says (as before schemas, so that
 * `curl -d '{...}'` works), and a body that does not parse is a 400.
 * The app never listens; main.ts serves it (serve.ts) and tests call app.request().
 */
import type { Context, MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { AdminError, type AdminStatus } from "./errors.ts";
import { bearerAuth, isLoopbackAddress } from "./auth.ts";

export { AdminError, isLoopbackAddress, z };

/** The admin app type: a Hono app whose routes carry OpenAPI schemas. */
export type AdminApp = OpenAPIHono;

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

// ---------------------------------------------------------------------------------------------
// Schemas and route helpers

/** The body of every error: a code and a human reason. */
export const ErrorBody = z.object({
  error: z.string().openapi({ example: "bad_request" }),
  reason: z.string().openapi({ example: "port: must be an integer from 1 to 65535" }),
}).openapi("Error");

const ERROR_DESCRIPTIONS: Record<AdminStatus, string> = {
  400: "Bad request: the body or a parameter does not match the schema",
  401: "Missing or wrong bearer token",
  403: "Protected mode: exposed beyond loopback with no admin-token set",
  404: "Not found",
  409: "Conflict with the node's state",
  422: "Rejected by the node",
  500: "Internal error",
  503: "Unavailable",
};

/** Error responses for a route, each `{error, reason}`. */
export function errorResponses<S extends AdminStatus>(
  ...statuses: S[]
): Record<
  S,
  { description: string; content: { "application/json": { schema: typeof ErrorBody } } }
> {
  const out = {} as Record<
    S,
    { description: string; content: { "application/json": { schema: typeof ErrorBody } } }
  >;
  for (const s of statuses) {
    out[s] = {
      description: ERROR_DESCRIPTIONS[s],
      content: { "application/json": { schema: ErrorBody } },
    };
  }
  return out;
}

/** A JSON response of a route. */
export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

/** A required JSON request body. */
export function jsonBody<T extends z.ZodType>(schema: T, description?: string) {
  return {
    required: true,
    ...(description ? { description } : {}),
    content: { "application/json": { schema } },
  };
}

/** The security requirement of mutating routes (the scheme is registered by createAdminApp). */
export const ADMIN_TOKEN_SECURITY: { adminToken: string[] }[] = [{ adminToken: [] }];

/**
 * Route middleware for JSON bodies: the body is JSON whatever the request's content type says
 * (a missing or form content type included), and a body that does not parse is a 400. Runs
 * before the schema's validator, which then sees an application/json request.
 */
export const lenientJson: MiddlewareHandler = async (c, next) => {
  const text = await c.req.raw.text();
  try {
    JSON.parse(text);
  } catch {
    throw new AdminError(400, "bad_request", "body is not valid JSON");
  }
  const headers = new Headers(c.req.raw.headers);
  headers.set("content-type", "application/json");
  c.req.raw = new Request(c.req.raw.url, { method: c.req.raw.method, headers, body: text });
  await next();
};

type Issue = z.core.$ZodIssue;

function joinPath(prefix: PropertyKey[], path: PropertyKey[]): string {
  return [...prefix, ...path].map(String).join(".");
}

/**
 * One line per issue: `path: message`. A union of strict objects that no branch matched is
 * explained by the one branch whose keys the input uses (no unknown key), else by the union's
 * own message.
 */
function issueReasons(issues: readonly Issue[], prefix: PropertyKey[] = []): string[] {
  const out: string[] = [];
  for (const i of issues) {
    if (i.code === "invalid_union" && i.errors.length > 0) {
      const fits = i.errors.filter((b) => !b.some((x) => x.code === "unrecognized_keys"));
      if (fits.length === 1) {
        out.push(...issueReasons(fits[0]!, [...prefix, ...i.path]));
        continue;
      }
    }
    const where = joinPath(prefix, i.path);
    const message = i.code === "unrecognized_keys"
      ? `unknown field${i.keys.length > 1 ? "s" : ""} ${i.keys.map((k) => `"${k}"`).join(", ")}`
      : i.message;
    out.push(where ? `${where}: ${message}` : message);
  }
  return out;
}

/** The reason of a validation failure, for `{error: "bad_request", reason}`. */
export function validationReason(error: z.ZodError, target?: string): string {
  const reasons = issueReasons(error.issues);
  const text = reasons.slice(0, 3).join("; ") + (reasons.length > 3 ? "; ..." : "");
  return target === "query" || target === "param" ? `${target} ${text}` : text;
}

// ---------------------------------------------------------------------------------------------
// The shared routes

const HealthBody = z.looseObject({
  status: z.enum(["ok", "fail"]),
  role: z.string().openapi({ example: "data-node" }),
}).openapi("Health", { description: "status and role, plus figures of the executable" });

const InfoBody = z.record(z.string(), z.record(z.string(), z.string())).openapi("Info", {
  description: "INFO sections by name, each a map of field to value",
  example: { server: { redis_version: "7.0.15" } },
});

const healthRoute = createRoute({
  method: "get",
  path: "/health",
  tags: ["base"],
  summary: "Liveness and role",
  responses: {
    200: jsonResponse(HealthBody, "Healthy"),
    503: jsonResponse(HealthBody, "Unhealthy"),
  },
});

const infoRoute = createRoute({
  method: "get",
  path: "/info",
  tags: ["base"],
  summary: "INFO as JSON sections",
  request: {
    query: z.object({
      section: z.string().optional().openapi({
        description: "one section, by name (case-insensitive)",
        example: "replication",
      }),
    }),
  },
  responses: {
    200: jsonResponse(InfoBody, "The sections"),
    ...errorResponses(404),
  },
});

const metricsRoute = createRoute({
  method: "get",
  path: "/metrics",
  tags: ["base"],
  summary: "Prometheus metrics (text exposition format 0.0.4)",
  responses: {
    200: {
      description: "The metrics",
      content: { "text/plain": { schema: z.string() } },
    },
  },
});

const openApiRoute = createRoute({
  method: "get",
  path: "/openapi.json",
  tags: ["base"],
  summary: "This API's OpenAPI 3 document",
  responses: {
    200: jsonResponse(
      z.looseObject({ openapi: z.string(), info: z.looseObject({}), paths: z.looseObject({}) }),
      "The document",
    ),
  },
});

function errorJson(c: Context, status: AdminStatus, code: string, reason: string): Response {
  return c.json({ error: code, reason }, status);
}

export function createAdminApp(deps: AdminDeps): AdminApp {
  const app = new OpenAPIHono({
    defaultHook: (result) => {
      if (!result.success) {
        throw new AdminError(400, "bad_request", validationReason(result.error, result.target));
      }
    },
  });
  app.use(
    "*",
    bearerAuth({ token: deps.token, ...(deps.exposed ? { exposed: deps.exposed } : {}) }),
  );
  app.onError((err, c) => {
    if (err instanceof AdminError) return errorJson(c, err.status, err.code, err.reason);
    if (err instanceof HTTPException) {
      const code = err.status === 400 ? "bad_request" : `http_${err.status}`;
      return c.json({ error: code, reason: err.message }, err.status);
    }
    return errorJson(c, 500, "internal", err.message);
  });
  app.notFound((c) =>
    c.json({ error: "not_found", reason: `no route ${c.req.method} ${c.req.path}` }, 404)
  );
  app.openAPIRegistry.registerComponent("securitySchemes", "adminToken", {
    type: "http",
    scheme: "bearer",
    description: "admin-token; needed by mutating routes when set (see protected mode)",
  });

  app.openapi(healthRoute, (c) => {
    const h = deps.health?.() ?? { ok: true };
    const { ok, ...rest } = h;
    const body = { status: ok ? "ok" as const : "fail" as const, role: deps.role, ...rest };
    return ok ? c.json(body, 200) : c.json(body, 503);
  });
  app.openapi(infoRoute, (c) => {
    const section = c.req.valid("query").section?.toLowerCase();
    const info = deps.info(section);
    if (section && !info[section]) {
      throw new AdminError(404, "no_such_section", `unknown INFO section '${section}'`);
    }
    return c.json(info, 200);
  });
  app.openapi(metricsRoute, (c) => {
    return c.text(renderPrometheus(deps.metrics()), 200, {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
    });
  });
  app.openapi(openApiRoute, (c) => {
    const doc = app.getOpenAPIDocument({
      openapi: "3.0.3",
      info: {
        title: `${deps.role} admin API`,
        version: "1",
        description: "Mutating routes (POST, PUT, PATCH, DELETE) take `Authorization: Bearer " +
          "<admin-token>` when admin-token is set; without one they answer 403 while the API " +
          "listens beyond loopback. Errors are `{error, reason}`.",
      },
    });
    return c.json(doc as unknown as { openapi: string; info: object; paths: object }, 200);
  });
  return app;
}
