/**
 * The append-only file, in Redis 7's multi-part layout inside `appenddirname`:
 *
 *   appendonly.aof.manifest         which files make up the dataset, in order
 *   appendonly.aof.<n>.base.rdb     a snapshot (RDB format, the "RDB preamble")
 *   appendonly.aof.<n>.incr.aof     every write since, as RESP commands (SELECT when db changes)
 *
 * Writes are buffered while a batch of commands runs and written to the file before the
 * replies leave (so an acknowledged write survives a kill -9); `appendfsync` decides when the
 * file is also fsynced: after every batch (always), once a second (everysec), or never (no).
 * BGREWRITEAOF switches writes to a new incr file, writes a new base from a snapshot taken at
 * the same instant, then swaps the manifest (temp file + rename) and deletes the old files.
 */
import { splitArgs } from "../../shared/config/parse.ts";
import { quoteArg } from "../../shared/config/args.ts";
import { sleepSync } from "../../shared/clock.ts";
import { getLogger } from "../../shared/log.ts";
import { encodeCommand, ProtocolError, RequestParser, RespWriter } from "../../shared/resp/mod.ts";
import type { Server } from "../server/server.ts";
import type { Client } from "../server/client.ts";
import { processCommand } from "../server/dispatch.ts";
import { lookupCommand } from "../engine/call.ts";
import type { Persistence } from "./snapshot.ts";
import type { StreamConsumer } from "../engine/propagation.ts";
import { clip128 } from "../../shared/cstr.ts";
import { flushLibraries } from "../scripting/functions.ts";

const log = getLogger(["data-node", "aof"]);

interface ManifestFile {
  name: string;
  seq: number;
  type: "b" | "i" | "h";
}

export class AofError extends Error {}

/** A space, a quote, a backslash or a control character: Redis quotes such a name. */
function needsQuotes(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f || c === 0x22 || c === 0x27 || c === 0x5c) return true;
  }
  return false;
}

function fileExists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** The longest manifest line Redis reads. */
const MANIFEST_MAX_LINE = 1024;

/** Commands replayed between two turns of the event loop in an AOF load (as Redis's 1024). */
const REPLAY_STEP = 1024;

export class Aof implements StreamConsumer {
  private file: Deno.FsFile | null = null;
  /** What the current batch appended, copied into one growing buffer until flush(). */
  private pending = new RespWriter(64 * 1024);
  private selectedDb = -1;
  private seq = 0;
  private files: ManifestFile[] = [];
  private fsyncTimer: ReturnType<typeof setInterval> | undefined;
  private unsynced = false;
  rewriting: Promise<boolean> | null = null;
  /** The rewrite that starts the AOF (appendonly turned on) is under way (Redis's WAIT_REWRITE). */
  initialRewrite = false;
  rewrites = 0;
  lastRewriteOk = true;
  lastWriteOk = true;
  loading = false;
  enabled = false;

  constructor(private readonly s: Server, private readonly p: Persistence) {}

  private get dir(): string {
    return this.s.config.getString("appenddirname");
  }

  private get base(): string {
    return this.s.config.getString("appendfilename");
  }

  private path(name: string): string {
    return `${this.dir}/${name}`;
  }

  private get manifestName(): string {
    return `${this.base}.manifest`;
  }

  /**
   * The single appendonly.aof of Redis before 7.0, found in `dir` with no manifest: moved into
   * `appenddirname` as the base of a new manifest, as Redis 7.0 upgrades it at startup.
   */
  upgradeFromSingleFile(): void {
    const old = this.base;
    if (this.exists()) {
      // An upgrade stopped before the move: the manifest names the old file as its base.
      const files = this.readManifest();
      const base = files.find((f) => f.type === "b");
      if (base?.name !== old || fileExists(this.path(old)) || !fileExists(old)) return;
      Deno.renameSync(old, this.path(old));
      log.info("Successfully migrated an old-style AOF into the AOF directory");
      return;
    }
    try {
      if (!Deno.statSync(old).isFile) return;
    } catch {
      return;
    }
    Deno.mkdirSync(this.dir, { recursive: true });
    Deno.renameSync(old, this.path(old));
    this.writeManifest([{ name: old, seq: 1, type: "b" }]);
    log.info("Successfully migrated an old-style AOF into the AOF directory");
  }

  /** True when an AOF exists on disk (the manifest is there). */
  exists(): boolean {
    try {
      Deno.statSync(this.path(this.manifestName));
      return true;
    } catch {
      return false;
    }
  }

  // ---- Loading ----

  /**
   * The manifest, checked as Redis checks it: each line (1024 bytes at most, newline-ended;
   * `#` lines are comments) holds an even number of words, at least file, seq and type; one
   * base at most; incremental files in increasing sequence; an empty file is refused.
   */
  private readManifest(): ManifestFile[] {
    const text = Deno.readTextFileSync(this.path(this.manifestName));
    const files: ManifestFile[] = [];
    const invalid = "Invalid AOF manifest file format";
    if (text === "") throw new AofError("Found an empty AOF manifest");
    let maxIncrSeq = 0, haveBase = false;
    const lines = text.split("\n");
    // The text after the last newline: nothing, or a line cut short.
    const tail = lines.pop()!;
    if (tail !== "") lines.push(tail);
    for (const [i, raw] of lines.entries()) {
      if (raw.startsWith("#")) continue;
      if (raw.length > MANIFEST_MAX_LINE || (i === lines.length - 1 && tail !== "")) {
        throw new AofError("The AOF manifest file contains too long line");
      }
      const parts = splitArgs(raw.trim());
      if (parts === null || parts.length < 6 || parts.length % 2 !== 0) throw new AofError(invalid);
      const f: Partial<ManifestFile> = {};
      for (let j = 0; j < parts.length; j += 2) {
        const key = parts[j]!.toLowerCase(), v = parts[j + 1]!;
        if (key === "file") {
          if (v.includes("/")) throw new AofError("File can't be a path, just a filename");
          f.name = v;
        } else if (key === "seq") f.seq = parseInt(v, 10) || 0;
        else if (key === "type") f.type = v[0] as ManifestFile["type"];
      }
      if (!f.name || !f.seq || !f.type) throw new AofError(invalid);
      if (f.type === "b") {
        if (haveBase) throw new AofError("Found duplicate base file information");
        haveBase = true;
      } else if (f.type === "i") {
        if (f.seq <= maxIncrSeq) throw new AofError("Found a non-monotonic sequence number");
        maxIncrSeq = f.seq;
      } else if (f.type !== "h") throw new AofError("Unknown AOF file type");
      files.push(f as ManifestFile);
    }
    return files;
  }

  /**
   * Loads base + incremental files, as Redis loads its AOF: the event loop runs every REPLAY_STEP
   * commands (and while a slow script in the file runs in turns), so clients are served and told
   * -LOADING for what may not run during a load; `key-load-delay` (microseconds per command) slows
   * it down, and INFO shows the progress. Throws AofError on a corrupt file.
   */
  async load(): Promise<void> {
    this.files = this.readManifest();
    this.loadedBytes = 0;
    this.s.trackLoading(this.totalSize());
    this.loading = true;
    this.s.loading = true;
    try {
      await this.loadFiles();
    } finally {
      this.loading = false;
      this.s.loading = false;
      this.s.loadingProgress = null;
    }
    this.seq = Math.max(0, ...this.files.map((f) => f.seq));
    log.info("DB loaded from append only file");
  }

  /** Bytes of the files the manifest lists (what a load reads). */
  private totalSize(): number {
    let n = 0;
    for (const f of this.files) {
      try {
        n += Deno.statSync(this.path(f.name)).size;
      } catch {
        // a missing file is the load's error to report
      }
    }
    return n;
  }

  /** Bytes of the files loaded so far, the one in progress included (INFO's progress). */
  private loadedBytes = 0;

  /** One turn of the event loop during a load, after REPLAY_STEP commands (key-load-delay). */
  private async loadStep(): Promise<void> {
    if (this.s.loadingProgress !== null) this.s.loadingProgress.loadedBytes = this.loadedBytes;
    const delayUs = this.s.config.get<number>("key-load-delay");
    const ms = delayUs > 0 ? Math.min((REPLAY_STEP * delayUs) / 1000, 60_000) : 0;
    await new Promise((resolve) => setTimeout(resolve, ms));
  }

  /** The base, then the incremental files, in the manifest's order. */
  private async loadFiles(): Promise<void> {
    const incrs = this.files.filter((f) => f.type === "i");
    const base = this.files.find((f) => f.type === "b");
    // A base is an RDB unless written with aof-use-rdb-preamble no; incr files never are.
    // An RDB base may go on with commands (the preamble of an AOF of Redis before 7.0).
    if (base && !fileExists(this.path(base.name))) {
      throw new AofError(
        `The append log file ${base.name} doesn't exist: No such file or directory`,
      );
    }
    if (base) {
      await this.loadFile(base.name, false, this.p.loadIfRdb(this.path(base.name)) ?? 0);
    }
    for (let i = 0; i < incrs.length; i++) {
      await this.loadFile(incrs[i]!.name, i === incrs.length - 1);
    }
  }

  /**
   * DEBUG LOADAOF: what was appended reaches the file, then the dataset (functions too) is
   * emptied and loaded back from the files the manifest on disk lists. Throws as load() does
   * (with no AOF on disk, before anything is emptied).
   */
  reload(): Promise<void> {
    if (this.enabled) this.flush(true);
    if (!this.exists()) throw new AofError(`No AOF manifest in ${this.dir}`);
    for (const db of this.s.dbs) db.clear();
    this.s.tracking.flushed();
    flushLibraries(this.s.scripting);
    return this.load();
  }

  /** Replays a file of commands; `last` allows a truncated tail (aof-load-truncated). */
  private async loadFile(name: string, last: boolean, from = 0): Promise<void> {
    let buf: Uint8Array;
    const done = this.loadedBytes + from;
    try {
      // Nothing after an RDB base (the usual case): the file is not read a second time.
      if (from > 0 && Deno.statSync(this.path(name)).size <= from) {
        this.loadedBytes = done;
        return;
      }
      buf = Deno.readFileSync(this.path(name)).subarray(from);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      throw new AofError(`The append log file ${name} doesn't exist: No such file or directory`);
    }
    const valid = await this.replay(buf, name, done);
    this.loadedBytes = done + buf.length;
    if (valid === buf.length) return;
    // A truncated tail: the last write never completed (a crash mid-write).
    if (last && this.s.config.get<boolean>("aof-load-truncated")) {
      log.warn(
        "!!! Warning: short read while loading the AOF file {name}!!! Truncating to {n} bytes",
        {
          name,
          n: valid,
        },
      );
      Deno.truncateSync(this.path(name), valid);
      return;
    }
    throw new AofError(
      `Unexpected end of file reading the append only file ${name}. You can: 1) Make a backup ` +
        `of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively ` +
        `you can set the 'aof-load-truncated' configuration option to yes and restart the server.`,
    );
  }

  /**
   * Runs the commands in a RESP buffer as the trusted loader client (no authentication, OOM or
   * pause checks; keys are not expired while loading; nothing is propagated). Returns the offset
   * after the last complete command outside a transaction: a MULTI whose EXEC never made it to
   * the file counts as truncated there. A command that is unknown or fails stops the load with
   * its file and offset, never silently.
   */
  private async replay(buf: Uint8Array, name: string, before: number): Promise<number> {
    const first = new RequestParser({ maxBulkLen: Number.MAX_SAFE_INTEGER });
    first.feed(buf);
    const loader = this.s.newClient(null, "aof-loader", "");
    this.s.clients.delete(loader.id);
    loader.trusted = true;
    loader.authenticated = true;
    // Errors are collected per command (inside EXEC as well) instead of counted in INFO.
    const errors: string[] = [];
    loader.onError = (m) => errors.push(m);
    const { expiryMode } = this.s;
    this.s.expiryMode = "keep";
    this.s.propagation.suspended = true;
    let valid = 0;
    let parser = first;
    let replayed = 0;
    try {
      for (;;) {
        const at = buf.length - parser.pending;
        if (++replayed % REPLAY_STEP === 0) {
          this.loadedBytes = before + at;
          await this.loadStep();
        }
        // An annotation line ("#TS:<unix time>") between commands is skipped, as Redis does.
        if (buf[at] === 0x23) {
          const nl = buf.indexOf(0x0a, at);
          if (nl < 0) break;
          parser = new RequestParser({ maxBulkLen: Number.MAX_SAFE_INTEGER });
          parser.feed(buf.subarray(nl + 1));
          if (loader.multi === null) valid = nl + 1;
          continue;
        }
        // Every command is a RESP array: anything else is a format error, whatever
        // aof-load-truncated says.
        if (at < buf.length && buf[at] !== 0x2a) {
          throw new AofError(
            `Bad file format reading the append only file ${name} at offset ${at}`,
          );
        }
        let argv: string[] | null;
        try {
          argv = parser.next();
        } catch (e) {
          if (e instanceof ProtocolError) {
            throw new AofError(
              `Bad file format reading the append only file ${name} at offset ${at}: ${e.message}`,
            );
          }
          throw e;
        }
        if (argv === null) break;
        if (argv.length === 0) continue;
        // A script past busy-reply-threshold goes on in turns: the load waits for it.
        const paused = this.replayOne(loader, argv, errors, name, at);
        if (paused) {
          await paused;
          this.checkReplayed(argv, errors, name, at);
        }
        if (loader.multi === null) valid = buf.length - parser.pending;
      }
      if (loader.multi !== null) {
        log.warn("Revert incomplete MULTI/EXEC transaction in AOF file {name}", { name });
      }
    } finally {
      this.s.expiryMode = expiryMode;
      this.s.propagation.suspended = false;
      this.s.freeClient(loader);
    }
    return valid;
  }

  private replayOne(
    loader: Client,
    argv: string[],
    errors: string[],
    name: string,
    at: number,
  ): Promise<void> | undefined {
    if (typeof lookupCommand(this.s.commands, argv) === "string") {
      throw new AofError(
        `Unknown command '${
          clip128(argv[0]!)
        }' reading the append only file ${name} at offset ${at}`,
      );
    }
    loader.out.reset();
    const waiting = processCommand(this.s, loader, argv);
    if (waiting) {
      if (this.s.scripting.running !== null) return waiting;
      throw new AofError(
        `Command '${
          clip128(argv[0]!)
        }' would block, reading the append only file ${name} at offset ${at}`,
      );
    }
    this.checkReplayed(argv, errors, name, at);
    return undefined;
  }

  /** A replayed command that failed stops the load. */
  private checkReplayed(argv: string[], errors: string[], name: string, at: number): void {
    if (errors.length > 0) {
      throw new AofError(
        `Error replaying '${
          clip128(argv[0]!)
        }' from the append only file ${name} at offset ${at}: ${errors[0]}`,
      );
    }
  }

  // ---- Writing ----

  /**
   * Starts appending. At startup, after load(), it appends to the AOF it loaded; otherwise
   * (CONFIG SET appendonly yes, or no AOF on disk) the files on disk may miss writes made while
   * it was off, so a rewrite writes a new base first, as Redis does.
   */
  async start(atStartup = false): Promise<void> {
    Deno.mkdirSync(this.dir, { recursive: true });
    this.enabled = true;
    this.s.propagation.aof = this;
    const incr = [...this.files].reverse().find((f) => f.type === "i");
    if (atStartup && incr && this.exists()) this.openIncr(incr.name);
    else if (atStartup && this.exists() && this.files.some((f) => f.type === "b")) {
      // A base without an incremental file (an upgraded single-file AOF, or a rewrite made
      // with appendonly off): appends go to a new incremental file, as Redis opens one.
      const seq = 1 + Math.max(0, ...this.files.filter((f) => f.type === "i").map((f) => f.seq));
      const name = `${this.base}.${seq}.incr.aof`;
      this.openIncr(name);
      this.files = [...this.files, { name, seq, type: "i" }];
      this.writeManifest(this.files);
    } else {
      // Until this first rewrite is done the AOF holds nothing: a shutdown would lose data.
      this.initialRewrite = true;
      try {
        if (this.p.busy) {
          log.warn(
            "AOF was enabled but there is already another background operation. An AOF background was scheduled to start when possible.",
          );
        } else if (this.s.inExec) {
          log.warn(
            "AOF was enabled during a transaction. An AOF background was scheduled to start when possible.",
          );
          // The rewrite starts once the EXEC is over, as Redis's scheduled one.
          this.rewriteDeferred = true;
          await new Promise((r) => setTimeout(r, 0));
          this.rewriteDeferred = false;
        }
        await this.rewrite();
      } finally {
        this.initialRewrite = false;
      }
    }
    this.fsyncTimer = setInterval(() => this.everySecond(), 1000);
  }

  /** The stop flag of the rewrite's snapshot being written (null when none is). */
  private rewriteAbort: { aborted: boolean } | null = null;

  /**
   * Stops appending (CONFIG SET appendonly no, shutdown). A rewrite under way is stopped too, as
   * Redis kills its AOF rewrite child: its files are dropped, the manifest stays as it was.
   */
  stop(): void {
    if (this.rewriteAbort !== null && !this.rewriteAbort.aborted) {
      log.info("Killing running AOF rewrite child: {pid}", { pid: Deno.pid });
      this.rewriteAbort.aborted = true;
    }
    this.flush(true);
    clearInterval(this.fsyncTimer);
    this.file?.close();
    this.file = null;
    this.enabled = false;
    if (this.s.propagation.aof === this) this.s.propagation.aof = null;
  }

  private openIncr(name: string): void {
    this.file?.close();
    this.file = Deno.openSync(this.path(name), { create: true, append: true });
    this.selectedDb = -1;
  }

  /** The propagation stream's AOF side: every effect, already encoded. */
  append(dbId: number, command: Uint8Array): void {
    if (!this.enabled || this.loading) return;
    // aof-timestamp-enabled: a "#TS:<unix time>" line before the first command of each second.
    if (this.s.config.get<boolean>("aof-timestamp-enabled")) {
      const sec = Math.floor(this.s.clock.nowMs() / 1000);
      if (sec > this.lastTimestamp) {
        this.lastTimestamp = sec;
        this.push(new TextEncoder().encode(`#TS:${sec}\r\n`));
      }
    }
    if (dbId >= 0 && dbId !== this.selectedDb) {
      this.push(encodeCommand(["SELECT", String(dbId)]));
      this.selectedDb = dbId;
    }
    this.push(command);
  }

  /** The second of the last timestamp annotation written. */
  private lastTimestamp = 0;

  /** Copies `b` (the caller may reuse its buffer). */
  private push(b: Uint8Array): void {
    this.pending.raw(b);
  }

  /** DEBUG AOF-FLUSH-SLEEP: microseconds the loop stops before each write (tests only). */
  flushSleepUs = 0;

  /** Before replies are sent: write what the batch produced; fsync under `always`. */
  flush(forceSync = false): void {
    if (!this.file || this.pending.len === 0) {
      if (forceSync && this.unsynced) this.fsync();
      return;
    }
    if (this.flushSleepUs > 0) sleepSync(this.flushSleepUs / 1000);
    const data = this.pending.view();
    try {
      try {
        for (let w = 0; w < data.length;) w += this.file.writeSync(data.subarray(w));
      } finally {
        this.pending.reset();
      }
      this.lastWriteOk = true;
      this.unsynced = true;
    } catch (e) {
      this.lastWriteOk = false;
      log.warn("Error writing to the AOF file: {err}", { err: String(e) });
      return;
    }
    if (forceSync || this.s.config.getString("appendfsync") === "always") this.fsync();
  }

  private fsync(): void {
    try {
      this.file?.syncDataSync();
      this.unsynced = false;
    } catch (e) {
      log.warn("fsync of the AOF failed: {err}", { err: String(e) });
    }
  }

  private everySecond(): void {
    this.flush();
    if (this.unsynced && this.s.config.getString("appendfsync") === "everysec") this.fsync();
    this.autoRewrite();
  }

  /** auto-aof-rewrite-percentage / -min-size: rewrite once the AOF outgrew its base enough. */
  private autoRewrite(): void {
    const pct = this.s.config.get<number>("auto-aof-rewrite-percentage");
    if (pct === 0 || this.rewriting || this.p.busy) return;
    const { current, base } = this.sizes();
    if (current < this.s.config.get<number>("auto-aof-rewrite-min-size") || base === 0) return;
    if (((current - base) * 100) / base >= pct) {
      log.info("Starting automatic rewriting of AOF on {pct}% growth", { pct });
      void this.rewrite();
    }
  }

  private writeManifest(files: ManifestFile[]): void {
    // A name with spaces, quotes or control characters is written quoted, as Redis writes it.
    const shown = (n: string) => needsQuotes(n) ? quoteArg(n) : n;
    const text = files.map((f) => `file ${shown(f.name)} seq ${f.seq} type ${f.type}\n`).join("");
    const tmp = this.path(`temp-${this.manifestName}`);
    Deno.writeTextFileSync(tmp, text);
    Deno.renameSync(tmp, this.path(this.manifestName));
  }

  /**
   * The rewrite waits for another background write (a BGSAVE, a full sync's RDB) to end: it
   * counts as scheduled, not in progress, as Redis's aof_rewrite_scheduled.
   */
  rewriteWaiting = false;
  /** BGREWRITEAOF in EXEC (or appendonly turned on there): the rewrite starts once it is over. */
  private rewriteDeferred = false;

  /** INFO's aof_rewrite_scheduled. */
  get rewriteScheduled(): boolean {
    return this.rewriteWaiting || this.rewriteDeferred;
  }

  /** A rewrite that starts after the running EXEC, and after any background write. */
  scheduleRewrite(): void {
    if (this.rewriteDeferred || this.rewriting) return;
    this.rewriteDeferred = true;
    setTimeout(() => {
      this.rewriteDeferred = false;
      void this.rewrite();
    }, 0);
  }

  /** BGREWRITEAOF. Resolves false if the new base could not be written. */
  rewrite(): Promise<boolean> {
    if (this.rewriting) return this.rewriting;
    this.rewriting = this.runRewrite().finally(() => {
      this.rewriting = null;
    });
    return this.rewriting;
  }

  private async runRewrite(): Promise<boolean> {
    // One background snapshot at a time; then the switch and the snapshot happen together.
    if (this.p.busy) {
      this.rewriteWaiting = true;
      try {
        while (this.p.busy) await this.p.busy;
      } finally {
        this.rewriteWaiting = false;
      }
    }
    this.flush(true);
    const seq = ++this.seq;
    const incr = `${this.base}.${seq}.incr.aof`;
    // With aof-use-rdb-preamble no the base is commands, as Redis names and writes it.
    const commands = !this.s.config.get<boolean>("aof-use-rdb-preamble");
    const base = `${this.base}.${seq}.base.${commands ? "aof" : "rdb"}`;
    // BGREWRITEAOF also runs with appendonly off: it writes a base alone (no incr file, as
    // nothing is appended), in a directory that may not exist yet.
    const appending = this.enabled;
    try {
      Deno.mkdirSync(this.dir, { recursive: true });
      // Writes from now on go to the new incr file; the base captures everything before.
      if (appending) this.openIncr(incr);
    } catch (e) {
      log.warn("Can't open the append-only file for the rewrite: {err}", { err: String(e) });
      this.lastRewriteOk = false;
      return false;
    }
    const old = this.files;
    const format = commands ? "commands" : "rdb";
    const abort = { aborted: false };
    this.rewriteAbort = abort;
    let ok: boolean;
    try {
      ok = await this.p.writeSnapshotFile(this.path(base), { rdb: false, format, abort });
    } finally {
      this.rewriteAbort = null;
    }
    const incrs: ManifestFile[] = appending ? [{ name: incr, seq, type: "i" }] : [];
    if (!ok || abort.aborted) {
      // Stopped by `appendonly no`: not a failed rewrite (its status stays), nothing installed.
      if (!abort.aborted) this.lastRewriteOk = false;
      if (appending) {
        this.files = [...old, ...incrs];
        this.writeManifest(this.files);
      }
      return false;
    }
    this.files = [{ name: base, seq, type: "b" }, ...incrs];
    this.writeManifest(this.files);
    for (const f of old) await Deno.remove(this.path(f.name)).catch(() => {});
    this.rewrites++;
    this.lastRewriteOk = true;
    log.info("Background AOF rewrite finished successfully");
    return true;
  }

  sizes(): { current: number; base: number } {
    let current = 0, base = 0;
    for (const f of this.files) {
      try {
        const size = Deno.statSync(this.path(f.name)).size;
        current += size;
        if (f.type === "b") base += size;
      } catch { /* removed meanwhile */ }
    }
    return { current, base };
  }
}
