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
