/** Address helpers shared by the executables. */

/** Redis counts exactly 127.0.0.1 and ::1 as local (protected mode, "local" debug access). */
export function isLocalAddress(host: string): boolean {
  return host === "127.0.0.1" || host === "::1" || host === "::ffff:127.0.0.1";
}

/** Whether a peer shown as `ip:port` (IPv6 in brackets) is local. */
export function isLocalPeer(addr: string): boolean {
  return isLocalAddress(addr.slice(0, addr.lastIndexOf(":")).replace(/^\[|\]$/g, ""));
}
