/**
 * The latency instruments behind SLOWLOG, LATENCY and INFO latencystats: a per-command
 * histogram of durations, the slow log, and the latency monitor's per-event time series. Pure
 * data structures; the server feeds them durations and times.
 */
/** Durations below this many nanoseconds are recorded as it (Redis's histogram minimum). */
const HIST_MIN_NS = 1;
/** Durations above one second are recorded as one second, as Redis does. */
const HIST_MAX_NS = 1_000_000_000;
/** Values below 256 ns keep their own slot; above, 128 slots per power of two. */
const LINEAR = 256;
const SUB = 128;
const SLOTS = LINEAR + 23 * SUB;

/**
 * Counts of durations with two significant digits (about 0.8% resolution), as an HDR histogram
 * with that precision keeps them: percentiles and the power-of-two CDF come out in the same
 * units Redis reports.
 */
export class Histogram {
  readonly counts = new Uint32Array(SLOTS);
  total = 0;
  max = 0;

  /** Records one duration in nanoseconds. */
  record(ns: number): void {
    this.recordMany(ns, 1);
  }

  /** Records `count` calls of the same duration in nanoseconds. */
  recordMany(ns: number, count: number): void {
    let v = ns < HIST_MIN_NS ? HIST_MIN_NS : ns > HIST_MAX_NS ? HIST_MAX_NS : Math.floor(ns);
    if (v < 0) v = HIST_MIN_NS;
    this.counts[slotOf(v)]! += count;
    this.total += count;
    if (v > this.max) this.max = v;
  }

  /** The highest value equivalent to the one at `percentile` (0-100), in nanoseconds. */
  valueAt(percentile: number): number {
    if (this.total === 0) return 0;
    const p = Math.min(Math.max(percentile, 0), 100);
    const wanted = Math.max(1, Math.ceil((p / 100) * this.total));
    let seen = 0;
    for (let i = 0; i < SLOTS; i++) {
      seen += this.counts[i]!;
      if (seen >= wanted) return highestEquivalent(i);
    }
    return highestEquivalent(SLOTS - 1);
  }

  /**
   * The cumulative distribution over power-of-two levels from 1024 ns, as LATENCY HISTOGRAM
   * reports it: [upper bound in µs, calls at or below it], levels without new calls left out.
   */
  cdf(): [number, number][] {
    const out: [number, number][] = [];
    let cumulative = 0, previous = 0, slot = 0;
    for (let level = 1024; slot < SLOTS; level *= 2) {
      const top = highestEquivalent(slotOf(level));
      while (slot < SLOTS && highestEquivalent(slot) <= top) cumulative += this.counts[slot++]!;
      if (cumulative > previous) out.push([Math.floor(top / 1000), cumulative]);
      previous = cumulative;
      if (cumulative === this.total) break;
    }
    return out;
  }
}

function slotOf(v: number): number {
  if (v < LINEAR) return v;
  const e = 31 - Math.clz32(v) - 7; // v >> e is in [128, 256)
  return LINEAR + (e - 1) * SUB + ((v >>> e) - SUB);
}

function highestEquivalent(slot: number): number {
  if (slot < LINEAR) return slot;
  const e = Math.floor((slot - LINEAR) / SUB) + 1;
  const sub = ((slot - LINEAR) % SUB) + SUB;
  return ((sub + 1) * 2 ** e) - 1;
}

/** Formats a percentile as Redis prints it in INFO: `%f` with the trailing zeros trimmed. */
export function percentileLabel(p: number): string {
  const s = p.toFixed(6).replace(/0+$/, "");
  return s.endsWith(".") ? s.slice(0, -1) : s;
}

/** At most this many arguments of a command are kept in a slow log entry. */
const SLOWLOG_MAX_ARGC = 32;
/** Each argument is kept up to this many bytes. */
const SLOWLOG_MAX_STRING = 128;

export interface SlowlogEntry {
  id: number;
  /** Unix time in seconds. */
  time: number;
  /** Microseconds. */
  duration: number;
  argv: string[];
  peer: string;
  name: string;
}

/** The slow log: newest first, trimmed to the configured length. */
export class SlowLog {
  entries: SlowlogEntry[] = [];
  private nextId = 0;

  push(
    argv: readonly string[],
    durationUs: number,
    timeSec: number,
    peer: string,
    name: string,
    maxLen: number,
  ): void {
    const argc = argv.length;
    const kept = Math.min(argc, SLOWLOG_MAX_ARGC);
    const args: string[] = new Array(kept);
    for (let j = 0; j < kept; j++) {
      if (kept !== argc && j === kept - 1) {
        args[j] = `... (${argc - kept + 1} more arguments)`;
      } else {
        const a = argv[j]!;
        args[j] = a.length > SLOWLOG_MAX_STRING
          ? a.slice(0, SLOWLOG_MAX_STRING) + `... (${a.length - SLOWLOG_MAX_STRING} more bytes)`
          : a;
      }
    }
    this.entries.unshift({
      id: this.nextId++,
      time: timeSec,
      duration: Math.floor(durationUs),
      argv: args,
      peer,
      name,
    });
    this.trim(maxLen);
  }

  trim(maxLen: number): void {
    if (this.entries.length > maxLen) this.entries.length = Math.max(0, maxLen);
  }

  reset(): void {
    this.entries = [];
  }
}

/** Samples kept per latency event (Redis's LATENCY_TS_LEN). */
export const LATENCY_TS_LEN = 160;

export interface LatencySample {
  time: number;
  latency: number;
}

export interface LatencySeries {
  /** Ring of samples, oldest first once read through `samples()`. */
  ring: (LatencySample | null)[];
  idx: number;
  max: number;
}

/** The latency monitor: per event, a ring of (second, worst latency in ms) samples. */
export class LatencyMonitor {
  readonly events = new Map<string, LatencySeries>();

  add(event: string, latencyMs: number, nowSec: number): void {
    let ts = this.events.get(event);
    if (!ts) {
      ts = { ring: new Array(LATENCY_TS_LEN).fill(null), idx: 0, max: 0 };
      this.events.set(event, ts);
    }
    if (latencyMs > ts.max) ts.max = latencyMs;
    const prev = ts.ring[(ts.idx + LATENCY_TS_LEN - 1) % LATENCY_TS_LEN];
    // One sample per second: the worst latency of that second.
    if (prev && prev.time === nowSec) {
      if (latencyMs > prev.latency) prev.latency = latencyMs;
      return;
    }
    ts.ring[ts.idx] = { time: nowSec, latency: latencyMs };
    ts.idx = (ts.idx + 1) % LATENCY_TS_LEN;
  }

  /** The samples of an event, oldest first. */
  samples(event: string): LatencySample[] {
    const ts = this.events.get(event);
    if (!ts) return [];
    const out: LatencySample[] = [];
    for (let j = 0; j < LATENCY_TS_LEN; j++) {
      const s = ts.ring[(ts.idx + j) % LATENCY_TS_LEN];
      if (s) out.push(s);
    }
    return out;
  }

  latest(): { event: string; time: number; latency: number; max: number }[] {
    const out = [];
    for (const [event, ts] of this.events) {
      const last = ts.ring[(ts.idx + LATENCY_TS_LEN - 1) % LATENCY_TS_LEN]!;
      out.push({ event, time: last.time, latency: last.latency, max: ts.max });
    }
    return out;
  }

  /** Forgets one event (case-insensitive) or all of them; the number forgotten. */
  reset(event?: string): number {
    let n = 0;
    for (const name of [...this.events.keys()]) {
      if (event === undefined || name.toLowerCase() === event.toLowerCase()) {
        this.events.delete(name);
        n++;
      }
    }
    return n;
  }

  /** Statistics of an event's samples, for LATENCY DOCTOR. */
  analyze(event: string, nowSec: number): {
    samples: number;
    avg: number;
    min: number;
    max: number;
    mad: number;
    period: number;
    allTimeHigh: number;
  } {
    const list = this.samples(event);
    const allTimeHigh = this.events.get(event)?.max ?? 0;
    if (list.length === 0) {
      return { samples: 0, avg: 0, min: 0, max: 0, mad: 0, period: 0, allTimeHigh };
    }
    let sum = 0, min = Infinity, max = 0, oldest = Infinity;
    for (const s of list) {
      sum += s.latency;
      min = Math.min(min, s.latency);
      max = Math.max(max, s.latency);
      oldest = Math.min(oldest, s.time);
    }
    const avg = Math.floor(sum / list.length);
    let dev = 0;
    for (const s of list) dev += Math.abs(avg - s.latency);
    const period = Math.max(1, nowSec - oldest);
    return {
      samples: list.length,
      avg,
      min,
      max,
      mad: Math.floor(dev / list.length),
      period,
      allTimeHigh,
    };
  }
}

/** Renders an event's samples as an ASCII chart (LATENCY GRAPH). */
export function latencyGraph(
  event: string,
  samples: LatencySample[],
  allTimeHigh: number,
  nowSec: number,
): string {
  let min = 0, max = 0;
  samples.forEach((s, i) => {
    if (i === 0) min = max = s.latency;
    else {
      if (s.latency > max) max = s.latency;
      if (s.latency < min) min = s.latency;
    }
  });
  let out = `${event} - high ${max} ms, low ${min} ms (all time high ${allTimeHigh} ms)\n`;
  out += "-".repeat(80) + "\n";
  return out + sparkline(samples, nowSec, min, max, 4);
}

/** Columns of `#`/`_`/`|` bars, `rows` high, each labelled vertically with its age. */
function sparkline(
  samples: LatencySample[],
  nowSec: number,
  min: number,
  max: number,
  rows: number,
): string {
  if (samples.length === 0) return "";
  const steps = rows * 2;
  const span = max - min || 1;
  const labels = samples.map((s) => ageLabel(nowSec - s.time));
  const heights = samples.map((s) => Math.round(((s.latency - min) / span) * steps));
  let out = "";
  for (let row = 0; row < rows; row++) {
    let line = "";
    for (const h of heights) {
      const level = steps - row * 2;
      line += h >= level ? "#" : h === level - 1 ? "_" : row === rows - 1 ? "_" : " ";
    }
    out += line.trimEnd() + "\n";
  }
  const tall = Math.max(...labels.map((l) => l.length));
  for (let r = 0; r < tall; r++) {
    let line = "";
    for (const l of labels) line += l[r] ?? " ";
    out += line.trimEnd() + "\n";
  }
  return out;
}

function ageLabel(sec: number): string {
  if (sec < 60) return `${sec}s`;
  if (sec < 3600) return `${Math.floor(sec / 60)}m`;
  if (sec < 86400) return `${Math.floor(sec / 3600)}h`;
  return `${Math.floor(sec / 86400)}d`;
}
