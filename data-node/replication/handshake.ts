/**
 * The replica's side of the replication handshake as a pure state machine: what to send, and
 * what each reply of the master means. The I/O shell (replica.ts) sends the commands, reads one
 * reply line per expected answer and feeds it here, as Redis's syncWithMaster does:
 *
 *   PING -> [AUTH [user] pass] -> REPLCONF listening-port -> [REPLCONF ip-address]
 *        -> REPLCONF capa eof capa psync2 -> PSYNC <replid> <offset> | PSYNC ? -1
 *
 * AUTH and the REPLCONFs are sent in one write (Redis 7 pipelines them too) and their replies
 * come back in order; PSYNC follows once they are all in, since a master refuses PSYNC while
 * it still has replies to send. A failed AUTH or PING ends the attempt; a refused REPLCONF is only noted
 * (older masters do not know every option). The PSYNC reply decides between a full sync
 * (+FULLRESYNC replid offset), a partial one (+CONTINUE [new replid]), or a later retry.
 */

export interface HandshakeOptions {
  /** masterauth, and masteruser when the master uses ACL users. */
  auth: { user: string; pass: string } | null;
  /** The port this replica announces (replica-announce-port, else its own). */
  listeningPort: number;
  /** replica-announce-ip, when set. */
  announceIp: string;
  /** What this replica already has (a cached master): PSYNC asks to continue from it. */
  cached: { replId: string; offset: number } | null;
  /** FAILOVER: PSYNC asks the target to become our master (`PSYNC ... FAILOVER`). */
  failover?: boolean;
  /** Announce `capa rdb-channel-repl`: a full sync may come on a second connection. */
  rdbChannel?: boolean;
}

export type Step = "ping" | "auth" | "port" | "ip" | "capa" | "psync";

export interface HandshakeState {
  /** The replies still expected, in order. */
  readonly expect: readonly Step[];
  /** Replies to REPLCONF that were refused (logged by the shell). */
  readonly warnings: readonly string[];
}

/** The capability a replica announces for a full sync on a second connection. */
export const RDB_CHANNEL_CAPA = "rdb-channel-repl";

export type PsyncOutcome =
  | { kind: "full"; replId: string; offset: number }
  /** The RDB comes on a second connection that names this one's client id. */
  | { kind: "rdbchannel"; clientId: number }
  | { kind: "continue"; replId: string | null }
  /** The master cannot serve now (it is loading, or itself has no master link). */
  | { kind: "retry"; reason: string }
  /** The master does not know PSYNC (pre-2.8): the shell may fall back to SYNC. */
  | { kind: "nopsync"; reason: string };

export type Advance =
  | { state: HandshakeState; send: string[][] }
  | { error: string }
  | { done: PsyncOutcome; warnings: readonly string[] };

/** The first command: PING alone, to see that the link works before anything else. */
export function start(): { state: HandshakeState; send: string[][] } {
  return { state: { expect: ["ping"], warnings: [] }, send: [["PING"]] };
}

/** The commands after PING's reply, all sent at once, and the replies they will get. */
function afterPing(o: HandshakeOptions, warnings: readonly string[]): Advance {
  const send: string[][] = [];
  const expect: Step[] = [];
  if (o.auth) {
    send.push(o.auth.user ? ["AUTH", o.auth.user, o.auth.pass] : ["AUTH", o.auth.pass]);
    expect.push("auth");
  }
  send.push(["REPLCONF", "listening-port", String(o.listeningPort)]);
  expect.push("port");
  if (o.announceIp) {
    send.push(["REPLCONF", "ip-address", o.announceIp]);
    expect.push("ip");
  }
  send.push([
    "REPLCONF",
    "capa",
    "eof",
    "capa",
    "psync2",
    ...(o.rdbChannel ? ["capa", RDB_CHANNEL_CAPA] : []),
  ]);
  expect.push("capa");
  return { state: { expect, warnings }, send };
}

/** PSYNC goes out alone, once every other reply is in (a master refuses it behind output). */
function psync(o: HandshakeOptions, warnings: readonly string[]): Advance {
  return {
    state: { expect: ["psync"], warnings },
    send: [
      o.cached
        ? [
          "PSYNC",
          o.cached.replId,
          String(o.cached.offset + 1),
          ...(o.failover ? ["FAILOVER"] : []),
        ]
        : ["PSYNC", "?", "-1"],
    ],
  };
}

/** Feeds the next reply line (without CRLF) of the master. */
export function advance(state: HandshakeState, o: HandshakeOptions, line: string): Advance {
  const [step, ...rest] = state.expect;
  const next = (warnings = state.warnings): Advance =>
    rest.length === 0 ? psync(o, warnings) : { state: { expect: rest, warnings }, send: [] };
  switch (step) {
    case "ping":
      // A master that wants a password answers NOAUTH before AUTH: the link still works.
      if (
        line.startsWith("-") && !line.startsWith("-NOAUTH") && !line.startsWith("-NOPERM") &&
        !line.startsWith("-ERR operation not permitted")
      ) {
        return { error: `Error reply to PING from master: '${line.slice(1)}'` };
      }
      return afterPing(o, state.warnings);
    case "auth":
      if (line.startsWith("-")) return { error: `Unable to AUTH to MASTER: ${line.slice(1)}` };
      return next();
    case "port":
    case "ip":
    case "capa":
      if (line.startsWith("-")) {
        const what = step === "port" ? "listening-port" : step === "ip" ? "ip-address" : "capa";
        return next([
          ...state.warnings,
          `(Non critical) Master does not understand REPLCONF ${what}: ${line.slice(1)}`,
        ]);
      }
      return next();
    case "psync":
      return { done: psyncOutcome(line), warnings: state.warnings };
    default:
      return { error: `unexpected reply from master: '${line}'` };
  }
}

/** The meaning of the master's reply to PSYNC. */
export function psyncOutcome(line: string): PsyncOutcome {
  if (line.startsWith("+FULLRESYNC")) {
    const [, replId, offset] = line.split(" ");
    const n = Number(offset);
    if (!replId || replId.length !== 40 || !Number.isSafeInteger(n)) {
      return { kind: "retry", reason: `Master replied with wrong +FULLRESYNC syntax: ${line}` };
    }
    return { kind: "full", replId, offset: n };
  }
  if (line.startsWith("+RDBCHANNELSYNC")) {
    const id = Number(line.slice("+RDBCHANNELSYNC".length).trim());
    if (!Number.isSafeInteger(id) || id <= 0) {
      return { kind: "retry", reason: `Master replied with wrong +RDBCHANNELSYNC syntax: ${line}` };
    }
    return { kind: "rdbchannel", clientId: id };
  }
  if (line.startsWith("+CONTINUE")) {
    const id = line.slice("+CONTINUE".length).trim();
    return { kind: "continue", replId: id.length === 40 ? id : null };
  }
  if (
    line.startsWith("-NOMASTERLINK") || line.startsWith("-LOADING") ||
    line.startsWith("-MASTERDOWN")
  ) {
    return { kind: "retry", reason: `Master is currently unable to PSYNC: ${line.slice(1)}` };
  }
  if (line.startsWith("-ERR")) {
    return { kind: "nopsync", reason: `Unexpected reply to PSYNC from master: ${line.slice(1)}` };
  }
  return { kind: "retry", reason: `Unexpected reply to PSYNC from master: ${line}` };
}

/**
 * The payload preamble after +FULLRESYNC: `$<length>` for an RDB of known size, `$EOF:<40
 * bytes>` for a diskless transfer that ends with the same 40 bytes. Newlines the master sends
 * while it prepares the RDB (keepalives) come first and are skipped by the shell.
 */
export type Preamble = { kind: "length"; length: number } | { kind: "eof"; mark: string } | {
  kind: "error";
  reason: string;
};

export const EOF_MARK_LEN = 40;

export function parsePreamble(line: string): Preamble {
  if (line.startsWith("-")) {
    return { kind: "error", reason: `MASTER aborted replication with an error: ${line.slice(1)}` };
  }
  if (!line.startsWith("$")) {
    return {
      kind: "error",
      reason: `Bad protocol from MASTER, the first byte is not '$': ${line}`,
    };
  }
  if (line.startsWith("$EOF:")) {
    const mark = line.slice(5);
    if (mark.length !== EOF_MARK_LEN) {
      return { kind: "error", reason: `Bad EOF mark from MASTER: ${line}` };
    }
    return { kind: "eof", mark };
  }
  const length = Number(line.slice(1));
  if (!Number.isSafeInteger(length) || length < 0) {
    return { kind: "error", reason: `Bad payload length from MASTER: ${line}` };
  }
  return { kind: "length", length };
}
