/**
 * Arguments as Redis's C code reads them: string functions and "%s" formatting stop at the
 * first NUL byte, and "%.128s" also at 128 bytes.
 */

/** The argument up to its first NUL byte. */
export function cstr(s: string): string {
  const nul = s.indexOf("\0");
  return nul < 0 ? s : s.slice(0, nul);
}

/** The argument as "%.128s" prints it. */
export function clip128(s: string): string {
  return cstr(s).slice(0, 128);
}
