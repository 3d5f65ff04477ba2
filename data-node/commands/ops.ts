/**
 * Operations commands: SLOWLOG, LATENCY, LOLWUT and MODULE (answered as a server built without
 * module support answers). The slow log, latency monitor and histograms live in Stats.
 */
import type { ClientState, Engine } from "../engine/types.ts";
import type { CommandDef } from "./types.ts";
import { cmd, container, parseI64, replyHelp } from "./define.ts";
import { ERR } from "../../shared/errors.ts";
import { clip128 } from "../../shared/cstr.ts";
import { REDIS_VERSION } from "../../shared/version.ts";
import { utf8ToBinary } from "../../shared/resp/bytes.ts";
import { latencyGraph } from "../server/latency.ts";

// ---- SLOWLOG ----

function slowlogGet(s: Engine, c: ClientState, argv: string[]): void {
  const log = s.stats.slowlog.entries;
  if (argv.length > 3) {
    return c.error(
      `ERR unknown subcommand or wrong number of arguments for '${
        clip128(argv[1]!)
      }'. Try SLOWLOG HELP.`,
    );
  }
  let count = 10;
  if (argv.length === 3) {
    const n = parseI64(argv[2]!);
    if (n === null || n < -1n) return c.error("ERR count should be greater than or equal to -1");
    count = n === -1n ? log.length : Number(n > BigInt(log.length) ? BigInt(log.length) : n);
  }
  const sent = log.slice(0, count);
  c.out.array(sent.length);
  for (const e of sent) {
    c.out.array(6);
    c.out.int(e.id);
    c.out.int(e.time);
    c.out.int(e.duration);
    c.out.array(e.argv.length);
    for (const a of e.argv) c.out.bulk(a);
    c.out.bulk(e.peer);
    c.out.bulk(e.name);
  }
}

const SLOWLOG_HELP = [
  "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "GET [<count>]",
  "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
  "    Entries are made of:",
  "    id, timestamp, time in microseconds, arguments array, client IP and port,",
  "    client name",
  "LEN",
  "    Return the length of the slowlog.",
  "RESET",
  "    Reset the slowlog.",
  "HELP",
  "    Prints this help.",
];

// ---- LATENCY ----

function latencyLatest(s: Engine, c: ClientState): void {
  const latest = s.stats.latency.latest();
  c.out.array(latest.length);
  for (const l of latest) {
    c.out.array(4);
    c.out.bulk(l.event);
    c.out.int(l.time);
    c.out.int(l.latency);
    c.out.int(l.max);
  }
}

function latencyHistory(s: Engine, c: ClientState, argv: string[]): void {
  const samples = s.stats.latency.samples(argv[2]!);
  c.out.array(samples.length);
  for (const x of samples) {
    c.out.array(2);
    c.out.int(x.time);
    c.out.int(x.latency);
  }
}

function latencyReset(s: Engine, c: ClientState, argv: string[]): void {
  if (argv.length === 2) return c.out.int(s.stats.latency.reset());
  let n = 0;
  for (const e of argv.slice(2)) n += s.stats.latency.reset(e);
  c.out.int(n);
}

function latencyGraphCmd(s: Engine, c: ClientState, argv: string[]): void {
  const event = argv[2]!;
  const ts = s.stats.latency.events.get(event);
  if (!ts) return c.error(`ERR No samples available for event '${event}'`);
  const nowSec = Math.floor(Date.now() / 1000);
  c.out.verbatim(latencyGraph(event, s.stats.latency.samples(event), ts.max, nowSec));
}

function latencyDoctor(s: Engine, c: ClientState): void {
  const mon = s.stats.latency;
  const nowSec = Math.floor(Date.now() / 1000);
  const threshold = s.stats.latencyThreshold;
  const lines: string[] = [];
  if (mon.events.size === 0) {
    lines.push(
      threshold === 0
        ? "The latency monitor is disabled (latency-monitor-threshold is 0): no latency " +
          "events are recorded. Enable it with CONFIG SET latency-monitor-threshold <ms>."
        : `No latency event over ${threshold} ms was recorded since the monitor started or ` +
          "was last reset.",
    );
  } else {
    lines.push(
      `Latency events over ${threshold} ms were recorded for ${mon.events.size} event class(es):`,
      "",
    );
    let i = 1;
    for (const event of mon.events.keys()) {
      const a = mon.analyze(event, nowSec);
      lines.push(
        `${i++}. ${event}: ${a.samples} latency spikes (average ${a.avg}ms, mean deviation ` +
          `${a.mad}ms, period ${(a.period / Math.max(1, a.samples)).toFixed(2)} sec). ` +
          `Worst all time event ${a.allTimeHigh}ms.`,
      );
    }
    lines.push("", "What may help:");
    const events = [...mon.events.keys()];
    if (events.includes("command")) {
      lines.push(
        "- Slow commands were run: check SLOWLOG GET for them, and avoid O(N) commands on " +
          "large values (KEYS, SORT, big set operations, DEL of large aggregates: use UNLINK).",
      );
    }
    if (events.includes("fast-command")) {
      lines.push(
        "- Commands flagged fast took long: the process was probably descheduled or the " +
          "machine is overloaded; check the CPU load and swapping.",
      );
    }
    if (events.includes("expire-cycle")) {
      lines.push(
        "- The active expiry cycle took long: many keys expire at the same time; spread the " +
          "expiry times.",
      );
    }
  }
  c.out.verbatim(lines.join("\n") + "\n");
}

function latencyHistogram(s: Engine, c: ClientState, argv: string[]): void {
  const picked: [string, CommandDef][] = [];
  const addWithSubs = (d: CommandDef) => {
    picked.push([d.name, d]);
    for (const sub of d.subcommands ?? []) picked.push([sub.name, sub]);
  };
  if (argv.length === 2) {
    for (const d of s.commands.values()) addWithSubs(d);
  } else {
    for (const name of argv.slice(2)) {
      const lower = name.toLowerCase();
      const bar = lower.indexOf("|");
      const parent = s.commands.get(bar < 0 ? lower : lower.slice(0, bar));
      if (!parent) continue;
      if (bar < 0) addWithSubs(parent);
      else {
        const sub = parent.subcommands?.find((x) => x.name === lower);
        if (sub) picked.push([sub.name, sub]);
      }
    }
  }
  const withData = picked.filter(([, d]) => {
    const st = s.stats.commands.get(d.name);
    return st?.hist != null && st.hist.total > 0;
  });
  c.out.map(withData.length);
  for (const [name, d] of withData) {
    const h = s.stats.commands.get(d.name)!.hist!;
    c.out.bulk(name);
    c.out.map(2);
    c.out.bulk("calls");
    c.out.int(h.total);
    c.out.bulk("histogram_usec");
    const cdf = h.cdf();
    c.out.map(cdf.length);
    for (const [us, n] of cdf) {
      c.out.int(us);
      c.out.int(n);
    }
  }
}

const LATENCY_HELP = [
  "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "DOCTOR",
  "    Return a human readable latency analysis report.",
  "GRAPH <event>",
  "    Return an ASCII latency graph for the <event> class.",
  "HISTORY <event>",
  "    Return time-latency samples for the <event> class.",
  "LATEST",
  "    Return the latest latency samples for all events.",
  "RESET [<event> ...]",
  "    Reset latency data of one or more <event> classes.",
  "    (default: reset all data for all event classes)",
  "HISTOGRAM [COMMAND ...]",
  "    Return a cumulative distribution of latencies in the format of a histogram for the " +
  "specified command names.",
  "    If no commands are specified then all histograms are replied.",
  "HELP",
  "    Prints this help.",
];

// ---- LOLWUT ----

/** A canvas of small integer "colors", 0 outside. */
class Canvas {
  readonly px: Uint8Array;
  constructor(readonly width: number, readonly height: number, fill = 0) {
    this.px = new Uint8Array(width * height).fill(fill);
  }
  set(x: number, y: number, color: number): void {
    if (x >= 0 && y >= 0 && x < this.width && y < this.height) this.px[y * this.width + x] = color;
  }
  get(x: number, y: number): number {
    return x >= 0 && y >= 0 && x < this.width && y < this.height ? this.px[y * this.width + x]! : 0;
  }
  /** Bresenham's line between two points. */
  line(x0: number, y0: number, x1: number, y1: number, color: number): void {
    const dx = Math.abs(x1 - x0), dy = -Math.abs(y1 - y0);
    const sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    let err = dx + dy;
    for (;;) {
      this.set(x0, y0, color);
      if (x0 === x1 && y0 === y1) return;
      const e2 = 2 * err;
      if (e2 >= dy) (err += dy, x0 += sx);
      if (e2 <= dx) (err += dx, y0 += sy);
    }
  }
}

/** LOLWUT 5: Georg Nees's "Schotter" (squares that tumble more the lower they are) in Braille. */
function schotter(cols: number, perRow: number, perCol: number): string {
  const width = cols * 2;
  const pad = width > 4 ? 2 : 0;
  const side = (width - pad * 2) / perRow;
  const height = Math.trunc(side * perCol + pad * 2);
  const canvas = new Canvas(width, height);
  for (let row = 0; row < perCol; row++) {
    for (let col = 0; col < perRow; col++) {
      let cx = Math.trunc(col * side + side / 2 + pad);
      let cy = Math.trunc(row * side + side / 2 + pad);
      let angle = 0;
      if (row > 1) {
        // Disorder grows with the row: rotation and displacement up to row/perCol.
        const jitter = () => (Math.random() / perCol) * row * (Math.random() < 0.5 ? -1 : 1);
        angle = jitter();
        cx += Math.trunc((jitter() * side) / 3);
        cy += Math.trunc((jitter() * side) / 3);
      }
      const r = Math.round(side / Math.SQRT2);
      const corners: [number, number][] = [];
      for (let k = 0; k < 4; k++) {
        const a = Math.PI / 4 + angle + (k * Math.PI) / 2;
        corners.push([Math.round(Math.sin(a) * r + cx), Math.round(Math.cos(a) * r + cy)]);
      }
      for (let k = 0; k < 4; k++) {
        const [x0, y0] = corners[k]!, [x1, y1] = corners[(k + 1) % 4]!;
        canvas.line(x0, y0, x1, y1, 1);
      }
    }
  }
  // Each Braille character shows a 2x4 block of pixels.
  const rows: string[] = [];
  for (let y = 0; y < height; y += 4) {
    let line = "";
    for (let x = 0; x < width; x += 2) {
      const dots = [
        [0, 0, 0x01],
        [0, 1, 0x02],
        [0, 2, 0x04],
        [1, 0, 0x08],
        [1, 1, 0x10],
        [1, 2, 0x20],
        [0, 3, 0x40],
        [1, 3, 0x80],
      ];
      let bits = 0;
      for (const [dx, dy, bit] of dots) if (canvas.get(x + dx!, y + dy!)) bits |= bit!;
      line += String.fromCharCode(0x2800 + bits);
    }
    // Rows end with a newline, except one that ends exactly on the canvas's last pixel row.
    rows.push(y === height - 1 ? line : line + "\n");
  }
  return rows.join("") + "\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. " +
    REDIS_VERSION + "\n";
}

/** LOLWUT 6: a city skyline in three grays, windows lit at random, as in 8-bit game parallax. */
function skyline(cols: number, rows: number): string {
  const canvas = new Canvas(cols, rows, 3);
  const rand = (n: number) => Math.floor(Math.random() * n);
  const building = (x0: number, w: number, h: number, color: number, windows: boolean) => {
    const bottom = rows - 1, top = bottom - h + 1;
    for (let y = bottom; y >= top; y--) {
      for (let x = x0; x < x0 + w; x++) {
        if (y === top && (x <= x0 + 1 || x >= x0 + w - 2)) continue; // a narrower roof
        let color2 = color;
        const inner = x > x0 + 1 && x < x0 + w - 2 && y > top + 1 && y < bottom - 1;
        if (windows && inner && Math.floor((x - x0 - 1) / 2) % 2 === 1 && (y - top - 1) % 2 === 1) {
          color2 = (x - x0 - 1) % 2 === 1 ? canvas.get(x - 1, y) : 1 + rand(2);
        }
        canvas.set(x, y, color2);
      }
    }
  };
  for (const color of [2, 1]) {
    for (let x = -10; x < cols;) {
      x += rand(8);
      const w = 10 + rand(9);
      const h = Math.floor(rows / 2) + rand(Math.max(1, Math.floor(rows / (color === 2 ? 2 : 3))));
      building(x, w, h, color, false);
      x += color === 2 ? Math.floor(w / 2) : w + 1;
    }
  }
  for (let x = -10; x < cols;) {
    x += rand(8);
    let w = 5 + rand(14);
    if (w % 4) w += w % 3;
    building(x, w, Math.floor(rows / 3) + rand(Math.max(1, Math.floor(rows / 2))), 0, true);
    x += w + 5;
  }
  const escape = ["0;30;40m", "0;90;100m", "0;37;47m", "0;97;107m"];
  const lines: string[] = [];
  for (let y = 0; y < rows; y++) {
    let line = "";
    for (let x = 0; x < cols; x++) line += `\x1b[${escape[canvas.get(x, y)]} \x1b[0m`;
    lines.push(line);
  }
  return lines.join("\n") +
    "\nDedicated to the 8 bit game developers of past and present.\n" +
    "Original 8 bit image from Plaguemon by hikikomori. Redis ver. " + REDIS_VERSION + "\n";
}

/** Reads the optional numeric arguments, clamped to [1, max]; null after an error reply. */
function lolwutArgs(c: ClientState, args: string[], defaults: number[], max: number[]) {
  const out = defaults.slice();
  for (let i = 0; i < defaults.length && i < args.length; i++) {
    const n = parseI64(args[i]!);
    if (n === null) {
      c.error(ERR.notInt);
      return null;
    }
    out[i] = Number(n < 1n ? 1n : n > BigInt(max[i]!) ? BigInt(max[i]!) : n);
  }
  return out;
}

function lolwut(_s: Engine, c: ClientState, argv: string[]): void {
  let args = argv.slice(1);
  let version = 7;
  if (args.length >= 2 && args[0]!.toLowerCase() === "version") {
    const v = parseI64(args[1]!);
    if (v === null) return c.error(ERR.notInt);
    // Redis prints the version as an unsigned 32-bit number: only 5 and 6 have art.
    version = Number(BigInt.asUintN(32, v));
    args = args.slice(2);
  }
  if (version === 5) {
    const a = lolwutArgs(c, args, [66, 8, 12], [1000, 200, 200]);
    if (a) c.out.verbatim(utf8ToBinary(schotter(a[0]!, a[1]!, a[2]!)));
  } else if (version === 6) {
    const a = lolwutArgs(c, args, [80, 20], [1000, 1000]);
    if (a) c.out.verbatim(skyline(a[0]!, a[1]!));
  } else {
    c.out.verbatim(`Redis ver. ${REDIS_VERSION}\n`);
  }
}

// ---- MODULE ----

/** Loading a module always fails: this server runs no native extensions. */
function moduleLoad(_s: Engine, c: ClientState): void {
  c.error("ERR Error loading the extension. Please check the server logs.");
}

function moduleUnload(_s: Engine, c: ClientState): void {
  c.error("ERR Error unloading module: no such module with that name");
}

const MODULE_HELP = [
  "MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "LIST",
  "    Return a list of loaded modules.",
  "LOAD <path> [<arg> ...]",
  "    Load a module library from <path>, passing to it any optional arguments.",
  "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
  "    Load a module library from <path>, while passing it module configurations and optional " +
  "arguments.",
  "UNLOAD <name>",
  "    Unload a module.",
  "HELP",
  "    Prints this help.",
];

const LATENCY_FLAGS = "admin noscript loading stale";

export const OPS_COMMANDS: CommandDef[] = [
  container("slowlog", "server", [
    cmd("slowlog|get", -2, "admin loading stale", null, "server", slowlogGet, {
      summary: "Get the slow log's entries",
      since: "2.2.12",
      complexity: "O(N) where N is the number of entries returned",
    }),
    cmd("slowlog|len", 2, "admin loading stale", null, "server", (s, c) => {
      c.out.int(s.stats.slowlog.entries.length);
    }, { summary: "Get the slow log's length", since: "2.2.12" }),
    cmd("slowlog|reset", 2, "admin loading stale", null, "server", (s, c) => {
      s.stats.slowlog.reset();
      c.out.ok();
    }, {
      summary: "Clear all entries from the slow log",
      since: "2.2.12",
      complexity: "O(N) where N is the number of entries in the slowlog",
    }),
    cmd("slowlog|help", 2, "loading stale", null, "server", (_s, c) => {
      replyHelp(c, SLOWLOG_HELP);
    }, { summary: "Show helpful text about the different subcommands", since: "6.2.0" }),
  ], {
    summary: "A container for slow log commands",
    since: "2.2.12",
    complexity: "Depends on subcommand.",
  }),
  container("latency", "server", [
    cmd("latency|doctor", 2, LATENCY_FLAGS, null, "server", latencyDoctor, {
      summary: "Return a human readable latency analysis report.",
      since: "2.8.13",
    }),
    cmd("latency|graph", 3, LATENCY_FLAGS, null, "server", latencyGraphCmd, {
      summary: "Return a latency graph for the event.",
      since: "2.8.13",
    }),
    cmd("latency|history", 3, LATENCY_FLAGS, null, "server", latencyHistory, {
      summary: "Return timestamp-latency samples for the event.",
      since: "2.8.13",
    }),
    cmd("latency|latest", 2, LATENCY_FLAGS, null, "server", latencyLatest, {
      summary: "Return the latest latency samples for all events.",
      since: "2.8.13",
    }),
    cmd("latency|reset", -2, LATENCY_FLAGS, null, "server", latencyReset, {
      summary: "Reset latency data for one or more events.",
      since: "2.8.13",
    }),
    cmd("latency|histogram", -2, LATENCY_FLAGS, null, "server", latencyHistogram, {
      summary: "Return the cumulative distribution of latencies of a subset of commands or all.",
      since: "7.0.0",
      complexity:
        "O(N) where N is the number of commands with latency information being retrieved.",
    }),
    cmd("latency|help", 2, "loading stale", null, "server", (_s, c) => {
      replyHelp(c, LATENCY_HELP);
    }, {
      summary: "Show helpful text about the different subcommands.",
      since: "2.8.13",
    }),
  ], {
    summary: "A container for latency diagnostics commands",
    since: "2.8.13",
    complexity: "Depends on subcommand.",
  }),
  cmd("lolwut", -1, "readonly fast", null, "server", lolwut, {
    summary: "Display some computer art and the Redis version",
    since: "5.0.0",
  }),
  container("module", "server", [
    cmd("module|list", 2, "admin noscript", null, "server", (_s, c) => c.out.array(0), {
      summary: "List all modules loaded by the server",
      since: "4.0.0",
      complexity: "O(N) where N is the number of loaded modules.",
    }),
    cmd("module|load", -3, "admin noscript no_async_loading", null, "server", moduleLoad, {
      summary: "Load a module",
      since: "4.0.0",
      protectedBy: "enable-module-command",
    }),
    cmd("module|loadex", -3, "admin noscript no_async_loading", null, "server", moduleLoad, {
      summary: "Load a module with extended parameters",
      since: "7.0.0",
      protectedBy: "enable-module-command",
    }),
    cmd("module|unload", 3, "admin noscript no_async_loading", null, "server", moduleUnload, {
      summary: "Unload a module",
      since: "4.0.0",
      protectedBy: "enable-module-command",
    }),
    cmd("module|help", 2, "loading stale", null, "server", (_s, c) => {
      replyHelp(c, MODULE_HELP);
    }, { summary: "Show helpful text about the different subcommands", since: "5.0.0" }),
  ], {
    summary: "A container for module commands",
    since: "4.0.0",
    complexity: "Depends on subcommand.",
  }),
];
