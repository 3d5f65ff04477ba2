/**
 * RDB persistence: SAVE, BGSAVE (incremental, copy-on-write per key, so the event loop keeps
 * serving while a large dataset is written), `save` rules, loading at startup, and the hooks
 * SHUTDOWN, FLUSHALL and DEBUG RELOAD use. Files are written under a temporary name, fsynced and
 * renamed, so a crash never leaves a half-written dump.rdb.
 */
import { getLogger } from "../../shared/log.ts";
import type { Server } from "../server/server.ts";
import { type Database, type KeyTable, type Stored, storedValue } from "../store/database.ts";
import { applyEncodingLimits, lfuClock, lruClock, newClock, ttlPassed } from "../store/types.ts";
import type { KeyDict } from "../store/key_dict.ts";
import type { SaveRule } from "../config.ts";
import { usedMemory } from "../server/memory.ts";
import {
  ByteWriter,
  type LoadedKey,
  type RdbContents,
  writeEntry,
  writeHeader,
  type WriteOptions,
  writeSelectDb,
  writeTrailer,
} from "./rdb.ts";
import { RdbReader, readRdbFrom, type SyncSource } from "./rdb_reader.ts";
import { writeCmd, writeKeyCommands } from "./aof_commands.ts";
import { writeLibraries } from "../scripting/functions.ts";
import { installRdbLibraries } from "../scripting/rdb_functions.ts";
import { REDIS_VERSION } from "../../shared/version.ts";

const log = getLogger(["data-node", "rdb"]);

/** A snapshot written as an RDB, or as commands (an AOF base with aof-use-rdb-preamble no). */
export type SnapshotFormat = "rdb" | "commands";

/** How a snapshot is written (writeSnapshotFile, streamSnapshot). */
export interface SnapshotOptions {
  /** Counts as an RDB being written (rdb_bgsave_in_progress); AOF rewrites do not. Default true. */
  rdb?: boolean;
  /** Set to stop the save (an RDB's is set by abortRdbWrites: FLUSHALL, SHUTDOWN). */
  abort?: { aborted: boolean };
  /** What a replica asked to leave out (REPLCONF rdb-filter-only). */
  filter?: RdbFilter | undefined;
  format?: SnapshotFormat;
}

/** Work done between yields to the event loop during a background save. */
const SLICE_MS = 10;
/** How often a save waiting out rdb-key-save-delay looks whether it was stopped. */
const ABORT_CHECK_MS = 50;
/** Bytes buffered before they are written out. */
const CHUNK_BYTES = 1024 * 1024;
/** After a failed background save, wait this long before a save rule triggers again. */
const RETRY_DELAY_MS = 5000;

/** What an RDB for a replica leaves out (REPLCONF rdb-filter-only). */
export interface RdbFilter {
  excludeData: boolean;
  excludeFunctions: boolean;
}

interface DbSnapshot {
  db: Database;
  entries: KeyTable<Stored>;
  expires: KeyDict<number>;
}

export class Persistence {
  bgsave: Promise<boolean> | null = null;
  bgsaveScheduled = false;
  saves = 0;
  lastBgsaveOk = true;
  lastBgsaveSec = -1;
  private bgsaveStartMs = 0;
  /** Set by abortRdbWrites: the BGSAVE stops at its next slice (or before it starts). */
  private bgsaveAbort: { aborted: boolean } | null = null;
  /** The stop flags of the RDBs being written now (see rdbWrites). */
  private readonly rdbAborts = new Set<{ aborted: boolean }>();
  private lastFailMs = 0;
  lastLoadLoaded = 0;
  lastLoadExpired = 0;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly s: Server) {}

  get file(): string {
    return this.s.config.getString("dbfilename");
  }

  private options(): WriteOptions {
    return {
      compress: this.s.config.get<boolean>("rdbcompression"),
      listFill: this.s.config.get<number>("list-max-listpack-size"),
    };
  }

  private aux(): [string, string][] {
    return [
      ["redis-ver", REDIS_VERSION],
      ["redis-bits", "64"],
      ["ctime", String(Math.floor(Date.now() / 1000))],
      ["used-mem", String(usedMemory())],
      ["repl-stream-db", String(this.s.replStreamDb())],
      ["repl-id", this.s.replId],
      ["repl-offset", String(this.s.replOffset)],
      ["aof-base", "0"],
    ];
  }

  get inProgressSec(): number {
    return this.bgsave ? Math.floor((Date.now() - this.bgsaveStartMs) / 1000) : -1;
  }

  /** The rules in force (`save` directive). */
  private rules(): SaveRule[] {
    return this.s.config.get<SaveRule[]>("save");
  }

  hasSaveRules(): boolean {
    return this.rules().length > 0;
  }

  /**
   * Serializes one db's entries into `w`, yielding after each slice of work: the milliseconds
   * the writer should wait before going on (`keyDelayUs` per key, Redis's hidden
   * rdb-key-save-delay for tests, in µs; negative: 1 µs with a chance of one in -n), else 0.
   */
  private *serialize(
    w: ByteWriter,
    snaps: DbSnapshot[],
    o: WriteOptions,
    keyDelayUs = 0,
  ): Generator<number> {
    let owedUs = 0;
    for (const { db, entries, expires } of snaps) {
      if (entries.size === 0) continue;
      writeSelectDb(w, db.id, entries.size, expires.size);
      let deadline = performance.now() + SLICE_MS;
      let sinceCheck = 0;
      // The snapshot table is the one a change preserves its old entry into (db.snapshot), so
      // iterating it yields each key as it was when the snapshot was taken.
      for (const [key, entry] of entries) {
        // Keys past their TTL are written too, as Redis does: whoever loads the file expires
        // them (a master restarting tells its replicas with a DEL each, see keyLoader).
        const exp = expires.get(key);
        writeEntry(w, key, storedValue(entry), exp, o);
        if (keyDelayUs !== 0) {
          owedUs += keyDelayUs > 0 ? keyDelayUs : Math.random() * -keyDelayUs < 1 ? 1 : 0;
          if (owedUs >= 1000) {
            const ms = Math.floor(owedUs / 1000);
            owedUs -= ms * 1000;
            yield ms;
            deadline = performance.now() + SLICE_MS;
            sinceCheck = 0;
            continue;
          }
        }
        // The clock is read every 256 keys, not per key.
        if (w.len >= CHUNK_BYTES || (++sinceCheck >= 256 && performance.now() > deadline)) {
          yield 0;
          deadline = performance.now() + SLICE_MS;
          sinceCheck = 0;
        }
        if (sinceCheck >= 256) sinceCheck = 0;
      }
    }
  }

  private snapshots(live: boolean): DbSnapshot[] {
    return this.s.dbs.map((db) => {
      const entries = db.copyEntries();
      if (live) db.snapshot = entries;
      return { db, entries, expires: db.expires.clone() };
    });
  }

  private releaseSnapshots(): void {
    for (const db of this.s.dbs) db.snapshot = null;
  }

  /** SAVE: writes the dataset synchronously. */
  saveSync(): boolean {
    const tmp = `temp-${Deno.pid}.rdb`;
    try {
      const f = Deno.openSync(tmp, { create: true, write: true, truncate: true });
      try {
        const w = new ByteWriter();
        writeHeader(w, this.aux(), this.options());
        writeLibraries(w, this.s.scripting, this.options().compress);
        for (const _ of this.serialize(w, this.snapshots(false), this.options())) {
          writeAllSync(f, w.take());
        }
        writeAllSync(f, writeTrailer(w, this.s.config.get<boolean>("rdbchecksum")));
        f.syncSync();
      } finally {
        f.close();
      }
      Deno.renameSync(tmp, this.file);
      this.saved();
      log.info("DB saved on disk");
      return true;
    } catch (e) {
      log.warn("Failed saving the DB: {err}", { err: String(e) });
      try {
        Deno.removeSync(tmp);
      } catch { /* never created */ }
      return false;
    }
  }

  private saved(): void {
    this.s.dirty = 0;
    this.s.lastSaveSec = Math.floor(Date.now() / 1000);
    this.s.lastSaveOk = true;
  }

  /**
   * BGSAVE SCHEDULE (or BGSAVE in EXEC): the save starts once the EXEC is over, after the
   * background write in progress (startBgsave waits for it).
   */
  scheduleBgsave(): void {
    if (this.bgsaveScheduled) return;
    this.bgsaveScheduled = true;
    setTimeout(() => {
      if (!this.bgsaveScheduled || this.bgsave) return;
      this.bgsaveScheduled = false;
      void this.startBgsave();
    }, 0);
  }

  /** BGSAVE: resolves true once the file is in place. */
  startBgsave(): Promise<boolean> {
    if (this.bgsave) return this.bgsave;
    this.bgsaveStartMs = Date.now();
    const dirtyAtStart = this.s.dirty;
    const abort = { aborted: false };
    this.bgsaveAbort = abort;
    // rdb_saves counts the saves started, as Redis counts its forks: stopped or failed ones too.
    this.saves++;
    log.info("Background saving started");
    this.bgsave = this.runBgsave(dirtyAtStart, abort).finally(() => {
      this.releaseSnapshots();
      this.bgsave = null;
      if (this.bgsaveAbort === abort) this.bgsaveAbort = null;
      this.lastBgsaveSec = Math.round((Date.now() - this.bgsaveStartMs) / 1000);
      if (this.bgsaveScheduled) {
        this.bgsaveScheduled = false;
        void this.startBgsave();
      }
    });
    return this.bgsave;
  }

  /**
   * Stops every RDB being written in the background, as Redis kills its RDB child on FLUSHALL
   * and SHUTDOWN, whoever it writes for. A BGSAVE's temp file is removed, dump.rdb stays as it
   * was, and the change counter and rdb_last_bgsave_status are left alone (a save stopped on
   * purpose is no failed save). A full sync still producing its RDB fails, and its replicas are
   * dropped: they reconnect and sync again. An AOF rewrite goes on.
   */
  abortRdbWrites(): void {
    if (this.bgsaveAbort) this.bgsaveAbort.aborted = true;
    for (const a of this.rdbAborts) a.aborted = true;
  }

  /**
   * Takes a copy-on-write snapshot now and writes it to `path` in the background (temp file,
   * fsync, rename). Used by BGSAVE and by AOF rewrites, which need the snapshot to be taken at
   * an exact instant. Only one runs at a time; callers wait for `busy` first.
   */
  writeSnapshotFile(path: string, opts: SnapshotOptions = {}): Promise<boolean> {
    const tmp = `${path}.temp-${Deno.pid}`;
    const failed = async (e: unknown) => {
      log.warn("Writing {path} failed: {err}", { path, err: String(e) });
      await Deno.remove(tmp).catch(() => {});
      return false;
    };
    let f: Deno.FsFile;
    try {
      f = Deno.openSync(tmp, { create: true, write: true, truncate: true });
    } catch (e) {
      return failed(e);
    }
    // The snapshot is taken here, synchronously; the file is written meanwhile.
    const write = (chunk: Uint8Array) => writeAll(f, chunk);
    const done: Promise<boolean> = this.streamSnapshot(write, opts)
      .then(() => f.sync())
      .finally(() => f.close())
      .then(() => Deno.rename(tmp, path))
      .then(() => true, failed)
      .finally(() => {
        if (this.busy === done) this.busy = null;
      });
    // Busy until the file is in place, so that no other write starts on the same temp name.
    this.busy = done;
    return done;
  }

  /**
   * Takes a copy-on-write snapshot now and writes it as an RDB to `sink` in the background, a
   * chunk at a time (a file, or the sockets of replicas in a diskless sync). Only one runs at
   * a time: callers wait for `busy` first. Rejects when the sink fails.
   */
  streamSnapshot(
    sink: (chunk: Uint8Array) => Promise<void>,
    opts: SnapshotOptions = {},
  ): Promise<void> {
    const { rdb = true, filter, format = "rdb" } = opts;
    const abort = opts.abort ?? { aborted: false };
    const t0 = performance.now();
    const snaps = filter?.excludeData ? [] : this.snapshots(true);
    this.snapshotsTaken++;
    this.latestSnapshotUs = Math.round((performance.now() - t0) * 1000);
    if (rdb) {
      this.rdbWrites++;
      this.rdbAborts.add(abort);
    }
    const written = format === "commands"
      ? this.commandsTo(sink, snaps, abort)
      : this.serializeTo(sink, snaps, abort, filter);
    const done = written.finally(() => {
      if (rdb) {
        this.rdbWrites--;
        this.rdbAborts.delete(abort);
      }
      this.releaseSnapshots();
      if (this.busy === busy) this.busy = null;
    });
    const busy = done.then(() => true, () => false);
    this.busy = busy;
    return done;
  }

  /**
   * RDBs being written in the background (BGSAVE, a full sync to disk or to replicas' sockets,
   * not an AOF rewrite): Redis's RDB child, INFO's rdb_bgsave_in_progress.
   */
  rdbWrites = 0;
  /** Background writes started (INFO total_forks: each is where Redis forks a child). */
  snapshotsTaken = 0;
  /** µs the last one took to take its snapshot (INFO latest_fork_usec). */
  latestSnapshotUs = 0;

  /** The background snapshot being written, if any (BGSAVE, an AOF rewrite, a full sync). */
  busy: Promise<boolean> | null = null;

  private async serializeTo(
    sink: (chunk: Uint8Array) => Promise<void>,
    snaps: DbSnapshot[],
    abort?: { aborted: boolean },
    filter?: RdbFilter,
  ): Promise<void> {
    const o = this.options();
    const w = new ByteWriter();
    writeHeader(w, this.aux(), o);
    if (!filter?.excludeFunctions) writeLibraries(w, this.s.scripting, o.compress);
    // Read once, as Redis's forked child sees the value of when it started.
    const delayUs = this.s.config.get<number>("rdb-key-save-delay");
    for (const waitMs of this.serialize(w, snaps, o, delayUs)) {
      await sink(w.take());
      // A long rdb-key-save-delay is waited in steps, so that a stop is seen soon.
      for (let left = waitMs;; left -= ABORT_CHECK_MS) {
        await new Promise((r) => setTimeout(r, Math.min(Math.max(left, 0), ABORT_CHECK_MS)));
        if (abort?.aborted) throw new Error("background save aborted");
        if (left <= ABORT_CHECK_MS) break;
      }
    }
    if (abort?.aborted) throw new Error("background save aborted");
    await sink(writeTrailer(w, this.s.config.get<boolean>("rdbchecksum")));
  }

  /**
   * The snapshot as commands (an AOF base with aof-use-rdb-preamble no, see aof_commands.ts),
   * written a chunk at a time like an RDB.
   */
  private async commandsTo(
    sink: (chunk: Uint8Array) => Promise<void>,
    snaps: DbSnapshot[],
    abort: { aborted: boolean },
  ): Promise<void> {
    const w = new ByteWriter();
    // aof-timestamp-enabled: the base starts with the time of its snapshot, as Redis's does.
    if (this.s.config.get<boolean>("aof-timestamp-enabled")) {
      w.bytes(new TextEncoder().encode(`#TS:${Math.floor(Date.now() / 1000)}\r\n`));
    }
    for (const lib of this.s.scripting.libraries.values()) {
      writeCmd(w, ["FUNCTION", "LOAD", lib.code]);
    }
    for (const { db, entries, expires } of snaps) {
      if (entries.size === 0) continue;
      writeCmd(w, ["SELECT", String(db.id)]);
      let deadline = performance.now() + SLICE_MS;
      let n = 0;
      for (const [key, entry] of entries) {
        writeKeyCommands(w, key, storedValue(entry), expires.get(key));
        if (w.len >= CHUNK_BYTES || (++n % 256 === 0 && performance.now() > deadline)) {
          await sink(w.take());
          await new Promise((r) => setTimeout(r, 0));
          if (abort.aborted) throw new Error("background save aborted");
          deadline = performance.now() + SLICE_MS;
        }
      }
    }
    if (abort.aborted) throw new Error("background save aborted");
    await sink(w.take());
  }

  /** A disk-based full sync wrote dump.rdb: it counts as a save, as in Redis. */
  savedForReplication(): void {
    this.s.lastSaveSec = Math.floor(Date.now() / 1000);
    this.s.lastSaveOk = true;
  }

  private async runBgsave(dirtyAtStart: number, abort: { aborted: boolean }): Promise<boolean> {
    if (this.busy) await this.busy;
    const ok = !abort.aborted && await this.writeSnapshotFile(this.file, { abort });
    if (!ok && abort.aborted) {
      log.warn("Background saving aborted");
      return false;
    }
    if (ok) {
      this.s.dirty = Math.max(0, this.s.dirty - dirtyAtStart);
      this.s.lastSaveSec = Math.floor(Date.now() / 1000);
      this.s.lastSaveOk = this.lastBgsaveOk = true;
      log.info("Background saving terminated with success");
      return true;
    }
    this.s.lastSaveOk = this.lastBgsaveOk = false;
    this.lastFailMs = Date.now();
    log.warn("Background saving error");
    return false;
  }

  /** dump.rdb opened for reading, or null when there is none. */
  private openDump(): Deno.FsFile | null {
    try {
      return Deno.openSync(this.file);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return null;
      throw e;
    }
  }

  /**
   * An AOF base file: loads it if it is an RDB and returns the bytes the RDB took (what follows
   * is not RDB), else null.
   */
  loadIfRdb(path: string): number | null {
    const f = Deno.openSync(path);
    try {
      const head = new Uint8Array(5);
      let n = 0;
      while (n < head.length) {
        const got = f.readSync(head.subarray(n));
        if (got === null) break;
        n += got;
      }
      if (n < head.length || new TextDecoder().decode(head) !== "REDIS") return null;
      f.seekSync(0, Deno.SeekMode.Start);
      return this.loadFrom(f);
    } finally {
      f.close();
    }
  }

  /**
   * Streams an RDB from `src` (read a chunk at a time) into the dataset, emptied by the caller
   * when it should be. A key that already exists is an error, unless `merge` lets the file's
   * version replace it. `onExpired` hears of each key a master skips for its past TTL.
   */
  loadFrom(
    src: SyncSource,
    merge = false,
    onExpired?: (db: number, key: string) => void,
  ): number {
    const t0 = performance.now();
    const load = keyLoader(this.s, this.s.dbs, merge, onExpired);
    let contents: RdbContents & { bytes: number };
    try {
      contents = readRdbFrom(src, load, load.resize);
    } finally {
      // Memory accounting follows whatever was loaded, a failed load included.
      for (const db of this.s.dbs) db.recount();
    }
    this.finishLoad(load, contents, t0, merge);
    return contents.bytes;
  }

  /**
   * The startup load while the server already listens, as Redis loads: the file is read
   * `loading-process-events-interval-bytes` at a time and other events run between reads (clients
   * meanwhile get -LOADING for what may not run during a load). `key-load-delay` (microseconds
   * per key, Redis's testing setting) slows it down. Returns false when there is no file;
   * `onExpired` as for loadFrom.
   */
  async loadAtStartupAsync(onExpired?: (db: number, key: string) => void): Promise<boolean> {
    const f = this.openDump();
    if (!f) return false;
    const t0 = performance.now();
    const base = keyLoader(this.s, this.s.dbs, false, onExpired);
    let keys = 0;
    const reader = new RdbReader((k) => {
      keys++;
      base(k);
    });
    reader.onResize = base.resize;
    reader.deep = base.deepSanitize;
    let contents: RdbContents;
    const progress = this.s.trackLoading(f.statSync().size);
    try {
      const chunk = new Uint8Array(
        Math.max(1024, this.s.config.get<number>("loading-process-events-interval-bytes")),
      );
      for (;;) {
        // Read synchronously: a file within one interval is in before any client is served.
        const n = f.readSync(chunk);
        if (n === null) break;
        if (n === 0) continue;
        progress.loadedBytes += n;
        if (reader.feed(chunk.subarray(0, n)).done) break;
        // The file's used-mem aux field, as Redis shows it while loading.
        progress.usedMem ||= Number(reader.contents.aux.get("used-mem") ?? 0) || 0;
        const delayUs = this.s.config.get<number>("key-load-delay");
        const ms = delayUs > 0 ? Math.min((keys * delayUs) / 1000, 60_000) : 0;
        keys = 0;
        await new Promise((resolve) => setTimeout(resolve, ms));
      }
      contents = reader.end();
    } catch (e) {
      // A corrupt file stops the startup: what was wrong, where, then that the server stops.
      log.warn("The RDB file cannot be loaded: {err}", { err: (e as Error).message });
      log.warn("Terminating server after rdb file reading failure.");
      throw e;
    } finally {
      f.close();
      this.s.loadingProgress = null;
      for (const db of this.s.dbs) db.recount();
    }
    this.finishLoad(base, contents, t0, false);
    return true;
  }

  private finishLoad(
    load: ReturnType<typeof keyLoader>,
    contents: RdbContents,
    t0: number,
    merge: boolean,
  ): void {
    for (const w of contents.skipped) log.warn("RDB: {what}", { what: w });
    // The file's function libraries, compiled again; MERGE lets one replace a library we have.
    const failed = installRdbLibraries(this.s.scripting, contents.functions, merge);
    if (failed) throw new Error(failed);
    this.lastLoadLoaded = load.loaded;
    this.lastLoadExpired = load.expired;
    this.lastLoadAux = contents.aux;
    log.info("DB loaded from disk: {secs} seconds, {keys} keys, {expired} expired", {
      secs: ((performance.now() - t0) / 1000).toFixed(3),
      keys: load.loaded,
      expired: load.expired,
    });
    if (contents.emptyKeys) {
      log.warn("Done loading RDB, keys loaded: {keys}, empty keys skipped: {empty}.", {
        keys: load.loaded,
        empty: contents.emptyKeys,
      });
    }
  }

  /** The aux fields of the last file loaded (a replica resumes from repl-id/repl-offset). */
  lastLoadAux: Map<string, string> = new Map();

  /** Checks the save rules once a second, as serverCron does. */
  start(): void {
    this.timer = setInterval(() => this.cron(), 1000);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private cron(): void {
    if (this.bgsave) return;
    const now = Date.now();
    if (!this.lastBgsaveOk && now - this.lastFailMs < RETRY_DELAY_MS) return;
    for (const r of this.rules()) {
      if (this.s.dirty >= r.changes && now / 1000 - this.s.lastSaveSec > r.seconds) {
        log.info("{changes} changes in {secs} seconds. Saving...", {
          changes: r.changes,
          secs: r.seconds,
        });
        void this.startBgsave();
        return;
      }
    }
  }

  /** stop-writes-on-bgsave-error: writes are refused while the last background save failed. */
  writesRefused(): boolean {
    return !this.lastBgsaveOk && this.hasSaveRules() &&
      this.s.config.get<boolean>("stop-writes-on-bgsave-error");
  }
}

function writeAllSync(f: Deno.FsFile, b: Uint8Array): void {
  let off = 0;
  while (off < b.length) off += f.writeSync(b.subarray(off));
}

async function writeAll(f: Deno.FsFile, b: Uint8Array): Promise<void> {
  let off = 0;
  while (off < b.length) off += await f.write(b.subarray(off));
}

/** A loaded key's access field: its saved idle time or LFU counter, as the policy wants. */
function loadedClock(k: LoadedKey, nowSec: number, lfu: boolean): number {
  if (lfu && k.freq !== undefined) return lfuClock(nowSec, k.freq);
  if (!lfu && k.idle !== undefined) return lruClock(nowSec - k.idle);
  return newClock(nowSec, lfu);
}

/** keyLoader's callback, its counts, and what it does with a RESIZEDB hint. */
export type KeyLoader = ((k: LoadedKey) => void) & {
  /** sanitize-dump-payload yes: compact encodings get Redis's deep integrity checks. */
  deepSanitize: boolean;
  loaded: number;
  expired: number;
  resize: (db: number, keys: number, ttls: number) => void;
};

/**
 * The per-key callback of an RDB load into `dbs` (the served databases, or a replica's
 * staging ones): encodings as configured, access clocks as saved, keys already expired skipped
 * on a master (a replica keeps them: its master expires them). A key that already exists is an
 * error, unless `merge` lets the file's version replace it. Counts what it loaded.
 */
export function keyLoader(
  s: Server,
  dbs: Database[],
  merge: boolean,
  onExpired?: (db: number, key: string) => void,
): KeyLoader {
  const now = Date.now(), nowSec = Math.floor(now / 1000);
  const lfu = s.lfuMode;
  const fn = ((k: LoadedKey) => {
    if (k.expireMs !== undefined && ttlPassed(k.expireMs, now) && s.role === "master") {
      fn.expired++;
      onExpired?.(k.db, k.key);
      return;
    }
    const db = dbs[k.db];
    if (!db) throw new Error(`the file uses database ${k.db}, beyond 'databases'`);
    applyEncodingLimits(k.value, s.config);
    if (!db.loadValue(k.key, k.value, loadedClock(k, nowSec, lfu))) {
      // A duplicate stops the load (which fails as a whole); MERGE lets the file's win.
      if (!merge) throw new Error(`duplicated key '${k.key}' in db ${k.db}`);
      db.expires.delete(k.key);
    }
    if (k.expireMs !== undefined) db.expires.set(k.key, k.expireMs);
    fn.loaded++;
  }) as KeyLoader;
  fn.deepSanitize = s.config.getString("sanitize-dump-payload") === "yes";
  fn.loaded = 0;
  fn.expired = 0;
  fn.resize = (db, keys, ttls) => dbs[db]?.reserve(keys, ttls);
  return fn;
}
