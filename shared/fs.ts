/** Files rewritten without ever leaving a half-written one behind. */

/**
 * Replaces `path` with `text` atomically: a temporary file beside it, fsynced, then renamed
 * over it, so that a crash leaves either the old file or the new one (sentinel.conf,
 * nodes.conf). Throws on failure; the old file is then untouched.
 */
export function writeFileAtomicSync(path: string, text: string): void {
  const slash = path.lastIndexOf("/");
  const dir = slash >= 0 ? path.slice(0, slash) : ".";
  const tmp = `${dir}/.${path.slice(slash + 1)}.tmp-${Deno.pid}`;
  const f = Deno.openSync(tmp, { create: true, write: true, truncate: true });
  try {
    const bytes = new TextEncoder().encode(text);
    let off = 0;
    while (off < bytes.length) off += f.writeSync(bytes.subarray(off));
    f.syncSync();
  } finally {
    f.close();
  }
  Deno.renameSync(tmp, path);
}

/** Whether `path` exists with some execute bit set (as access(X_OK) sees it for root). */
export function isExecutable(path: string): boolean {
  try {
    const st = Deno.statSync(path);
    return st.mode !== null && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}
