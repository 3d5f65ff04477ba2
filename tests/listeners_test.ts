/**
 * CONFIG SET of the directives that own a listening socket: port and bind (compared with a real
 * redis-server), and our admin-port, admin-bind and admin-token; CONFIG GET * then CONFIG SET of
 * every pair refuses exactly what Redis refuses.
 */
import { deepStrictEqual, equal, match, ok } from "node:assert/strict";
import {
  freePort,
  type ManagedProcess,
  requireBinary,
  startDataNode,
  startRedisServer,
} from "./helpers/process.ts";
import { eventually, RawConn } from "./helpers/raw.ts";
import { RespError } from "../shared/resp/mod.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

const SERVERS = {
  "data-node": (args: string[] = []) => startDataNode(args),
  "redis-server": (args: string[] = []) => startRedisServer(args),
} as const;

/** An address no test machine has (TEST-NET-1): binding it fails. */
const UNASSIGNED = "192.0.2.1";

function errorText(reply: unknown): string {
  ok(reply instanceof RespError, `expected an error, got ${JSON.stringify(reply)}`);
  return reply.message;
}

async function answers(port: number, host = "127.0.0.1"): Promise<boolean> {
  try {
    using c = await RawConn.connect(port, host);
    return String(await c.call("PING")) === "PONG";
  } catch {
    return false;
  }
}

for (const [kind, start] of Object.entries(SERVERS)) {
  Deno.test({
    name: `CONFIG SET port and bind move the listener, or answer Redis's error (${kind})`,
    ...opts,
    ignore: kind === "redis-server" && !requireBinary("redis-server", "CONFIG SET port"),
    fn: async () => {
      await using n: ManagedProcess = await start();
      using c = await RawConn.connect(n.port);
      const busy = Deno.listen({ hostname: "127.0.0.1", port: await freePort() });
      try {
        const busyPort = String((busy.addr as Deno.NetAddr).port);
        const cannotListen =
          "ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs.";
        equal(errorText(await c.call("CONFIG", "SET", "port", busyPort)), cannotListen);
        deepStrictEqual(await c.call("CONFIG", "GET", "port"), ["port", String(n.port)]);
        ok(await answers(n.port));
        // The whole CONFIG SET is undone, effects included: maxmemory 1 would refuse the SET.
        equal(
          errorText(await c.call("CONFIG", "SET", "maxmemory", "1", "port", busyPort)),
          cannotListen,
        );
        equal(String(await c.call("SET", "a", "b")), "OK");
        deepStrictEqual(await c.call("CONFIG", "GET", "maxmemory"), ["maxmemory", "0"]);
      } finally {
        busy.close();
      }
      const moved = await freePort();
      equal(String(await c.call("CONFIG", "SET", "port", String(moved))), "OK");
      ok(await answers(moved), "listening on the new port");
      ok(!(await answers(n.port)), "no longer on the old port");
      deepStrictEqual(await c.call("CONFIG", "GET", "port"), ["port", String(moved)]);
      equal(await c.call("GET", "a"), "b", "connected clients stay");
      equal(
        errorText(await c.call("CONFIG", "SET", "bind", UNASSIGNED)),
        "ERR CONFIG SET failed (possibly related to argument 'bind') - Failed to bind to specified addresses.",
      );
      deepStrictEqual(await c.call("CONFIG", "GET", "bind"), ["bind", "127.0.0.1"]);
      ok(await answers(moved));
      equal(String(await c.call("CONFIG", "SET", "bind", `127.0.0.1 -${UNASSIGNED}`)), "OK");
      ok(await answers(moved));
      // Port 0: no TCP listener at all.
      equal(String(await c.call("CONFIG", "SET", "port", "0")), "OK");
      ok(!(await answers(moved)));
      equal(String(await c.call("CONFIG", "SET", "port", String(moved))), "OK");
      ok(await answers(moved));
      // A wildcard address on the same port, and back (here the old socket goes first).
      equal(String(await c.call("CONFIG", "SET", "bind", "*")), "OK");
      await eventually(() => answers(moved, "127.0.0.2"), "listening on *");
      equal(String(await c.call("CONFIG", "SET", "bind", "127.0.0.1")), "OK");
      await eventually(() => answers(moved), "listening on 127.0.0.1 again");
      ok(!(await answers(moved, "127.0.0.2")));
      // The test harness stops the process by its pid; the port it started on is gone.
    },
  });
}

/** CONFIG GET * then CONFIG SET of each pair: the names refused, with the reason. */
async function refusedSets(port: number): Promise<Record<string, string>> {
  using c = await RawConn.connect(port);
  const all = await c.call("CONFIG", "GET", "*") as string[];
  const refused: Record<string, string> = {};
  for (let i = 0; i < all.length; i += 2) {
    const r = await c.call("CONFIG", "SET", all[i]!, all[i + 1]!);
    if (r instanceof RespError) refused[all[i]!] = r.message.replace(/.* - /, "");
    else equal(String(r), "OK", `CONFIG SET ${all[i]} ${all[i + 1]}`);
  }
  return refused;
}

Deno.test({
  name: "CONFIG SET of every pair CONFIG GET * lists refuses exactly what Redis refuses",
  ...opts,
  fn: async () => {
    await using ours = await startDataNode(["--admin-port", String(await freePort())]);
    const mine = await refusedSets(ours.port);
    for (const name of ["admin-port", "admin-bind", "admin-token"]) ok(!(name in mine), name);
    for (const why of Object.values(mine)) {
      ok(why === "can't set immutable config" || why === "can't set protected config", why);
    }
    if (!requireBinary("redis-server", "CONFIG SET of every pair, compared with Redis")) return;
    await using redis = await startRedisServer();
    deepStrictEqual(mine, await refusedSets(redis.port));
  },
});

async function health(port: number): Promise<boolean> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/health`);
    await r.body?.cancel();
    return r.ok;
  } catch {
    return false;
  }
}

Deno.test({
  name: "CONFIG SET admin-port, admin-bind and admin-token move and guard the admin API",
  ...opts,
  fn: async () => {
    const first = await freePort();
    await using n = await startDataNode(["--admin-port", String(first)]);
    using c = await RawConn.connect(n.port);
    ok(await health(first));
    const second = await freePort();
    equal(String(await c.call("CONFIG", "SET", "admin-port", String(second))), "OK");
    ok(await health(second), "serving on the new port");
    ok(!(await health(first)), "no longer on the old port");
    const busy = Deno.listen({ hostname: "127.0.0.1", port: await freePort() });
    try {
      const busyPort = String((busy.addr as Deno.NetAddr).port);
      equal(
        errorText(await c.call("CONFIG", "SET", "admin-port", busyPort)),
        "ERR CONFIG SET failed (possibly related to argument 'admin-port') - Unable to listen on this port. Check server logs.",
      );
    } finally {
      busy.close();
    }
    equal(
      errorText(await c.call("CONFIG", "SET", "admin-bind", UNASSIGNED)),
      "ERR CONFIG SET failed (possibly related to argument 'admin-bind') - Failed to bind to specified addresses.",
    );
    deepStrictEqual(await c.call("CONFIG", "GET", "admin-port"), ["admin-port", String(second)]);
    ok(await health(second));
    // A wildcard address on the same port: the old server stops first, then the new one starts.
    equal(String(await c.call("CONFIG", "SET", "admin-bind", "0.0.0.0")), "OK");
    await eventually(() => health(second), "the admin API on 0.0.0.0");
    // The token applies at once to mutating routes.
    equal(String(await c.call("CONFIG", "SET", "admin-token", "t0k")), "OK");
    const denied = await fetch(`http://127.0.0.1:${second}/config`, {
      method: "POST",
      body: JSON.stringify({ maxmemory: "1mb" }),
    });
    equal(denied.status, 401);
    await denied.body?.cancel();
    equal(String(await c.call("CONFIG", "SET", "admin-port", "-1")), "OK");
    await eventually(async () => !(await health(second)), "the admin API stopped");
  },
});

/** One command over a Unix socket: a line reply, a bulk's payload or a short array's lines. */
async function unixCall(path: string, ...args: string[]): Promise<string> {
  const conn = await Deno.connect({ transport: "unix", path });
  try {
    const req = `*${args.length}\r\n` + args.map((a) => `$${a.length}\r\n${a}\r\n`).join("");
    await conn.write(new TextEncoder().encode(req));
    const buf = new Uint8Array(4096);
    let text = "";
    // Enough for the first line, a bulk's payload, or a two-element array of bulks.
    const lines = () => text.split("\r\n").length;
    while (
      !/\r\n/.test(text) || (text.startsWith("$") && lines() < 3) ||
      (text.startsWith("*2") && lines() < 6)
    ) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    const all = text.split("\r\n");
    if (all[0]!.startsWith("*")) return all.slice(0, -1).join(" ");
    return all[0]!.startsWith("$") ? all[1]! : all[0]!;
  } finally {
    try {
      conn.close();
    } catch { /* closed by the server */ }
  }
}

for (const [impl, start] of Object.entries(SERVERS)) {
  Deno.test({
    name: `${impl}: unixsocket and unixsocketperm (octal), U clients, the file removed on shutdown`,
    ignore: impl === "redis-server" && !requireBinary("redis-server", "unixsocket"),
    ...opts,
    fn: async () => {
      const dir = await Deno.makeTempDir({ prefix: "redis-ha-unix-" });
      const path = `${dir}/node.sock`;
      let node: ManagedProcess | null = null;
      try {
        node = await start(["--unixsocket", path, "--unixsocketperm", "700"]);
        equal((Deno.statSync(path).mode ?? 0) & 0o777, 0o700);
        equal(await unixCall(path, "PING"), "+PONG");
        const info = await unixCall(path, "CLIENT", "INFO");
        ok(info.includes(` addr=${path}:0 laddr=${path}:0 `), info);
        ok(/ flags=U /.test(info), info);
        // Shown in octal, as Redis shows it.
        equal(
          await unixCall(path, "CONFIG", "GET", "unixsocketperm"),
          "*2 $14 unixsocketperm $3 700",
        );
        // TCP still answers beside the socket.
        ok(await answers(node.port));
        await unixCall(path, "SHUTDOWN", "NOSAVE").catch(() => "");
        await node.status;
        let gone = false;
        try {
          Deno.statSync(path);
        } catch {
          gone = true;
        }
        ok(gone, "the socket file is removed on shutdown");
      } finally {
        await node?.stop();
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    },
  });
}

/** Sends `cmds` pipelined over a Unix socket and returns the first line of each reply. */
async function unixLines(path: string, cmds: string[][]): Promise<string[]> {
  const conn = await Deno.connect({ transport: "unix", path });
  try {
    const req = cmds.map((args) =>
      `*${args.length}\r\n` + args.map((a) => `$${a.length}\r\n${a}\r\n`).join("")
    ).join("");
    await conn.write(new TextEncoder().encode(req));
    const buf = new Uint8Array(4096);
    let text = "";
    while (text.split("\r\n").length <= cmds.length) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    return text.split("\r\n").slice(0, cmds.length);
  } finally {
    try {
      conn.close();
    } catch { /* closed by the server */ }
  }
}

for (const [impl, start] of Object.entries(SERVERS)) {
  Deno.test({
    name: `${impl}: a unixsocket client authenticates with requirepass like a TCP client`,
    ignore: impl === "redis-server" && !requireBinary("redis-server", "unixsocket"),
    ...opts,
    fn: async () => {
      const dir = await Deno.makeTempDir({ prefix: "redis-ha-unix-" });
      const path = `${dir}/node.sock`;
      let node: ManagedProcess | null = null;
      try {
        node = await start(["--unixsocket", path, "--requirepass", "s3cret"]);
        deepStrictEqual(
          await unixLines(path, [["SET", "k", "v"], ["AUTH", "wrong"], ["AUTH", "s3cret"], [
            "SET",
            "k",
            "v",
          ], ["EXISTS", "k"]]),
          [
            "-NOAUTH Authentication required.",
            "-WRONGPASS invalid username-password pair or user is disabled.",
            "+OK",
            "+OK",
            ":1",
          ],
        );
        // A new socket connection authenticates as the default user by name and sees the key.
        deepStrictEqual(
          await unixLines(path, [["AUTH", "default", "s3cret"], ["STRLEN", "k"]]),
          ["+OK", ":1"],
        );
      } finally {
        await node?.stop();
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    },
  });
}

/** An IPv4 address of this machine other than loopback, if it has one. */
const OUTSIDE = Deno.networkInterfaces().find((i) =>
  i.family === "IPv4" && !i.address.startsWith("127.")
)?.address;

for (const [impl, start] of Object.entries(SERVERS)) {
  const name =
    `${impl}: protected mode refuses outside clients whatever bind says, until a password`;
  Deno.test({
    name,
    ...opts,
    fn: async () => {
      if (!OUTSIDE) return console.log(`SKIP: ${name}: no non-loopback IPv4 address here`);
      if (impl === "redis-server" && !requireBinary("redis-server", name)) return;
      await using p = await start(["--bind", "*"]);
      {
        using outside = await RawConn.connect(p.port, OUTSIDE);
        match(errorText(await outside.call("PING")), /^DENIED Redis is running in protected mode/);
      }
      using local = await RawConn.connect(p.port);
      equal(String(await local.call("CONFIG", "SET", "requirepass", "secret")), "OK");
      {
        using outside = await RawConn.connect(p.port, OUTSIDE);
        equal(String(await outside.call("AUTH", "secret")), "OK");
        equal(String(await outside.call("PING")), "PONG");
      }
      equal(String(await local.call("CONFIG", "SET", "requirepass", "")), "OK");
      using again = await RawConn.connect(p.port, OUTSIDE);
      match(errorText(await again.call("PING")), /^DENIED/);
    },
  });
}
