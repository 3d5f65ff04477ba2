/**
 * The server's scripting state: the one Lua VM, the EVAL script cache (by SHA1), the function
 * libraries (FUNCTION LOAD), and the script running now (for the time limit, SCRIPT KILL and
 * FUNCTION STATS).
 */
import { LuaVm } from "./lua.ts";
import { sha1Hex } from "../../shared/sha1.ts";
import type { Client } from "../server/client.ts";

/** Script flags (the `#!lua flags=` shebang, register_function's flags). */
export const SCRIPT_FLAGS = [
  "no-writes",
  "allow-oom",
  "allow-stale",
  "no-cluster",
  "allow-cross-slot-keys",
] as const;
export type ScriptFlag = typeof SCRIPT_FLAGS[number];

export interface EvalScript {
  sha: string;
  body: string;
  ref: number;
  /** null: no shebang (Redis's compatibility mode for EVAL scripts). */
  flags: Set<ScriptFlag> | null;
}

export interface LibFunction {
  name: string;
  ref: number;
  flags: Set<ScriptFlag>;
  description: string | null;
  library: Library;
}

export interface Library {
  name: string;
  code: string;
  functions: Map<string, LibFunction>;
}

/** The script being run: what SCRIPT KILL, FUNCTION KILL and FUNCTION STATS look at. */
export interface RunningScript {
  name: string;
  argv: string[];
  /** The keys the caller declared (EVAL's and FCALL's numkeys keys). */
  keys: readonly string[];
  startMs: number;
  isFunction: boolean;
  /** The script has written: it can no longer be killed (only SHUTDOWN NOSAVE). */
  wrote: boolean;
  /** Set by SCRIPT KILL / FUNCTION KILL: the next time check aborts the script. */
  killed: boolean;
  /** Past busy-reply-threshold: other clients get BUSY until it ends. */
  timedOut?: boolean;
}

export class Scripting {
  private evalVm: LuaVm | null = null;
  private functionVm: LuaVm | null = null;

  /** EVAL scripts' VM, made on first use (a node that runs no script pays nothing). */
  get vm(): LuaVm {
    return this.evalVm ??= new LuaVm();
  }

  /** Function libraries' VM: a Lua state of its own, as in Redis (no KEYS/ARGV globals). */
  get fvm(): LuaVm {
    return this.functionVm ??= new LuaVm();
  }
  readonly scripts = new Map<string, EvalScript>();
  readonly libraries = new Map<string, Library>();
  /** Every library's functions by lower-cased name: FCALL finds them whatever the case. */
  readonly functions = new Map<string, LibFunction>();
  running: RunningScript | null = null;
  /** DEBUG SET-DISABLE-DENY-SCRIPTS: scripts may run commands flagged noscript (tests only). */
  allowNoscript = false;
  /** The client scripts run their commands as (Redis's lua client), set by the server. */
  client: Client | null = null;

  /** SCRIPT FLUSH: a fresh VM, as Redis does (functions are kept, compiled again). */
  flushScripts(): void {
    if (this.evalVm) { for (const s of this.scripts.values()) this.evalVm.release(s.ref); }
    this.scripts.clear();
  }

  sha(body: string): string {
    return sha1Hex(body);
  }

  /** Bytes used by the libraries' code (INFO used_memory_functions). */
  get functionsBytes(): number {
    let n = 0;
    for (const l of this.libraries.values()) n += l.code.length + 64 * (l.functions.size + 1);
    return n;
  }

  /** Bytes used by the cached scripts' bodies (INFO used_memory_scripts_eval). */
  get scriptsBytes(): number {
    let n = 0;
    for (const s of this.scripts.values()) n += s.body.length + 40;
    return n;
  }
}
