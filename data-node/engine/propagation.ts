/**
 * Propagation per execution unit, as Redis 7.0 does it: every effect a write has (the command
 * itself, or what it was rewritten to: SET ... PXAT for SET EX, SREM for SPOP, DEL for a key
 * found expired) is recorded while the unit runs and emitted once, when the outermost unit ends.
 * A unit is a top-level command, a whole EXEC, one blocked client being served, or (with no unit
 * open) a single expiry or eviction from the timer. A unit with more than one effect is wrapped
 * in MULTI/EXEC so that replicas and the AOF apply it atomically, as Redis 7.0 does (a
 * transaction with a single write goes out bare).
 *
 * Each effect is encoded once; every consumer (the AOF writer, the replication stream) gets the
 * same bytes, copies them, and tracks on its own which database it last selected. An effect with
 * one consumer that encodes for itself (the replication stream, into its blocks) goes to it as
 * its arguments, which saves the copy.
 */
import { MAX_PENDING_EFFECTS } from "../../shared/limits.ts";
import { encodeCommand, RespWriter, writeCommand } from "../../shared/resp/mod.ts";

/** Targets of an effect (Redis's PROPAGATE_AOF / PROPAGATE_REPL). */
export const TO_AOF = 1;
export const TO_REPL = 2;
export const TO_ALL = TO_AOF | TO_REPL;

/** A consumer of the encoded stream. */
export interface StreamConsumer {
  /**
   * One command, already encoded. `dbId` is the database it applies to, or -1 when it needs
   * none (EXEC): the consumer emits SELECT first when it differs from the one it last selected.
   * The bytes are valid during the call only: a consumer copies what it keeps.
   */
  append(dbId: number, command: Uint8Array): void;
  /**
   * The same for a command given as its arguments, which the consumer encodes itself (into
   * its own buffer, saving a copy); used when it is the effect's only consumer.
   */
  appendArgv?(dbId: number, argv: readonly string[]): void;
  /** The same for a command's encoding in buf[start, end), copied without a view of it. */
  appendRange?(dbId: number, buf: Uint8Array, start: number, end: number): void;
}

interface Effect {
  dbId: number;
  argv: string[];
  targets: number;
  /** The bytes of `argv`'s encoding as its client sent them, in rawBuf[rawStart, rawEnd). */
  rawBuf: Uint8Array | null;
  rawStart: number;
  rawEnd: number;
}

/** Where the bytes of a client's command are (the request parser, see RequestParser.rawOf). */
export interface RawCommand {
  readonly buf: Uint8Array;
  readonly rawStart: number;
  readonly rawEnd: number;
}

const MULTI = encodeCommand(["MULTI"]);
const EXEC = encodeCommand(["EXEC"]);

const NO_ARGS: string[] = [];
/** Effect records kept for reuse between units (a unit with more gets new ones). */
const KEPT_EFFECTS = 64;

export class Propagation {
  /**
   * The current unit's effects: the first `count` records. The records are reused from unit to
   * unit, so a write allocates neither a record nor a list for its propagation.
   */
  private pending: Effect[] = [];
  private count = 0;
  private depth = 0;
  /** Effects of the current unit go out without a MULTI/EXEC wrapper. */
  private noWrap = false;
  /**
   * The current unit's MULTI is already out: a unit with more than MAX_PENDING_EFFECTS (SPOP
   * of a million members) sends its effects as they come and closes with EXEC at its end.
   */
  private streaming = false;
  aof: StreamConsumer | null = null;
  repl: StreamConsumer | null = null;
  /** While loading (AOF replay, RDB load) nothing is propagated. */
  suspended = false;
  /** Where effects recorded without explicit targets go (redis.set_repl in a script). */
  targets = TO_ALL;
  /** Effects emitted so far. */
  emitted = 0;

  /** True when some consumer listens: commands build their rewritten argv only then. */
  get wanted(): boolean {
    return !this.suspended && (this.aof !== null || this.repl !== null);
  }

  /** True while a unit is open (a command, EXEC, a blocked client being served). */
  get inUnit(): boolean {
    return this.depth > 0;
  }

  /**
   * Opens a unit, or a nested one (EXEC's commands run inside EXEC's unit). `noWrap` on the
   * outermost unit asks for no MULTI/EXEC around its effects (commands that may expire
   * arbitrary keys, like KEYS or SCAN, as Redis does).
   */
  enter(noWrap = false): void {
    if (this.depth++ === 0) this.noWrap = noWrap;
  }

  /** Closes a unit; the outermost one emits what was collected. */
  exit(): void {
    if (--this.depth > 0) return;
    if (this.streaming) {
      this.emitPending();
      this.send(-1, EXEC, TO_ALL);
      this.streaming = false;
    } else if (this.count > 0) {
      const multi = !this.noWrap && this.count > 1;
      // MULTI goes to every consumer with the first effect's database, so SELECT precedes it.
      if (multi) this.send(this.pending[0]!.dbId, MULTI, TO_ALL);
      this.emitPending();
      if (multi) this.send(-1, EXEC, TO_ALL);
    }
  }

  /**
   * Records an effect of the running unit (alsoPropagate); outside a unit it goes out now.
   * `raw`: where the encoding of `argv` is as its client sent it (a command propagated
   * unchanged), copied to the consumers instead of encoding `argv` again; the bytes must stay
   * there until the unit ends.
   */
  also(dbId: number, argv: string[], targets = this.targets, raw: RawCommand | null = null): void {
    // Only effects some present consumer takes are collected (a PUBLISH with no replication
    // stream is none, and does not make a unit's single write look like two).
    if (this.suspended) return;
    if (!((targets & TO_AOF && this.aof) || (targets & TO_REPL && this.repl))) return;
    let e = this.depth === 0 ? undefined : this.pending[this.count];
    if (e === undefined) {
      e = { dbId, argv, targets, rawBuf: null, rawStart: 0, rawEnd: 0 };
      if (this.depth !== 0) this.pending.push(e);
    } else {
      e.dbId = dbId;
      e.argv = argv;
      e.targets = targets;
    }
    if (raw !== null) {
      e.rawBuf = raw.buf;
      e.rawStart = raw.rawStart;
      e.rawEnd = raw.rawEnd;
    }
    if (this.depth === 0) return this.emitOne(e);
    if (++this.count < MAX_PENDING_EFFECTS) return;
    if (!this.streaming && !this.noWrap) {
      this.send(this.pending[0]!.dbId, MULTI, TO_ALL);
      this.streaming = true;
    }
    this.emitPending();
  }

  /** Emits the unit's recorded effects and forgets them (their arguments are not kept alive). */
  private emitPending(): void {
    const n = this.count;
    const effects = this.pending;
    for (let i = 0; i < n; i++) this.emitOne(effects[i]!);
    for (let i = 0; i < n; i++) {
      const e = effects[i]!;
      e.argv = NO_ARGS;
      e.rawBuf = null;
    }
    this.count = 0;
    if (effects.length > KEPT_EFFECTS) effects.length = KEPT_EFFECTS;
  }

  /**
   * Each effect is encoded into this one buffer and handed to the consumers as a view; they
   * copy what they keep (the AOF into its batch buffer, the stream into its blocks), so a write
   * allocates nothing here however many consumers there are.
   */
  private readonly scratch = new RespWriter(4096);

  private emitOne(e: Effect): void {
    this.emitted++;
    const repl = this.repl;
    if (e.rawBuf !== null) {
      if (e.targets & TO_AOF) this.aof?.append(e.dbId, e.rawBuf.subarray(e.rawStart, e.rawEnd));
      if (e.targets & TO_REPL && repl !== null) {
        if (repl.appendRange) repl.appendRange(e.dbId, e.rawBuf, e.rawStart, e.rawEnd);
        else repl.append(e.dbId, e.rawBuf.subarray(e.rawStart, e.rawEnd));
      }
      return;
    }
    if (repl?.appendArgv && (this.aof === null || !(e.targets & TO_AOF))) {
      if (e.targets & TO_REPL) repl.appendArgv(e.dbId, e.argv);
      return;
    }
    const w = this.scratch;
    w.reset();
    writeCommand(w, e.argv);
    this.send(e.dbId, w.view(), e.targets);
  }

  private send(dbId: number, bytes: Uint8Array, targets: number): void {
    if (targets & TO_AOF) this.aof?.append(dbId, bytes);
    if (targets & TO_REPL) this.repl?.append(dbId, bytes);
  }
}
