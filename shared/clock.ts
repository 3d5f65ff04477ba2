/**
 * Time as an injected dependency: the data node, and later the sentinel and cluster cores, read
 * the clock through this interface so tests can drive time by hand instead of sleeping.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  nowMs(): number;
}

export const systemClock: Clock = { nowMs: () => Date.now() };

/** A clock that moves only when told to. */
export class FakeClock implements Clock {
  constructor(private ms = 1_700_000_000_000) {}

  nowMs(): number {
    return this.ms;
  }

  advance(ms: number): void {
    if (ms < 0) throw new RangeError("a clock does not go back");
    this.ms += ms;
  }
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** C's ctime() layout without its newline, in local time: `Sun Dec  6 23:39:42 2026`. */
export function ctime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, " ")} ` +
    `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${d.getFullYear()}`;
}

/** The time in Redis's log lines, local time to the millisecond: `06 Dec 2026 23:39:42.123`. */
export function logTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(d.getDate())} ${MONTHS[d.getMonth()]} ${d.getFullYear()} ` +
    `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.` +
    String(d.getMilliseconds()).padStart(3, "0");
}

/** Blocks the whole event loop for `ms` (DEBUG SLEEP, DEBUG AOF-FLUSH-SLEEP). */
export function sleepSync(ms: number): void {
  const end = performance.now() + ms;
  const cell = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    const left = end - performance.now();
    if (left <= 0) return;
    Atomics.wait(cell, 0, 0, left);
  }
}
