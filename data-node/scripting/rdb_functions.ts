/**
 * Function libraries in RDB files, as Redis 7.0 keeps them: each library is an
 * RDB_OPCODE_FUNCTION2 (245) record holding its code, written after the aux fields and before
 * the first database (the older 246 record of 7.0's release candidates is refused by the reader).
 * Loading compiles each code again, as FUNCTION LOAD does: a library already present fails the
 * load, unless the load may replace it (DEBUG RELOAD MERGE).
 */
import { flushLibraries, loadLibrary } from "./functions.ts";
import type { Scripting } from "./scripting.ts";

/**
 * Installs the libraries an RDB held, in file order: null, or the first failure as Redis logs
 * it ("Failed loading library, ..."); libraries installed before the failure stay.
 */
export function installRdbLibraries(
  sc: Scripting,
  codes: readonly string[],
  replace: boolean,
): string | null {
  for (const code of codes) {
    const r = loadLibrary(sc, code, replace);
    if (typeof r !== "string") return `Failed loading library, ${r.error.replace(/^ERR /, "")}`;
  }
  return null;
}

/**
 * A full sync's libraries replace the replica's own (Redis empties its functions with its data
 * before loading the master's): null, or the failure.
 */
export function replaceWithRdbLibraries(sc: Scripting, codes: readonly string[]): string | null {
  flushLibraries(sc);
  return installRdbLibraries(sc, codes, false);
}
