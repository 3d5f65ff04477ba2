/**
 * oom-score-adj: the kernel's OOM score of this process set from oom-score-adj-values (master or
 * replica class), relative to the score the process had before (relative, yes) or as given
 * (absolute); turning it off restores the score from before, as Redis does.
 */
import { getLogger } from "../../shared/log.ts";

const log = getLogger(["data-node", "oom"]);

export const OOM_FAILED = "Failed to set current oom_score_adj. Check server logs.";

export class OomScore {
  private adjusted = false;
  private base = 0;

  constructor(private readonly path = "/proc/self/oom_score_adj") {}

  /** Applies the setting; false (logged) when the score file could not be read or written. */
  apply(mode: string, values: readonly number[], replica: boolean): boolean {
    let val: number;
    if (mode !== "no") {
      if (!this.adjusted) {
        try {
          this.base = parseInt(Deno.readTextFileSync(this.path), 10) || 0;
        } catch (e) {
          log.warn("Unable to read oom_score_adj: {e}", { e: (e as Error).message });
          return false;
        }
        this.adjusted = true;
      }
      val = values[replica ? 1 : 0] ?? 0;
      if (mode !== "absolute") val += this.base;
      val = Math.max(-1000, Math.min(1000, val));
    } else if (this.adjusted) {
      this.adjusted = false;
      val = this.base;
    } else return true;
    try {
      Deno.writeTextFileSync(this.path, `${val}\n`);
    } catch (e) {
      log.warn("Unable to write oom_score_adj: {e}", { e: (e as Error).message });
      return false;
    }
    return true;
  }
}
