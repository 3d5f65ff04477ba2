import { deepStrictEqual, equal, throws } from "node:assert/strict";
import { encodeCommand } from "../../shared/resp/mod.ts";
import { BLOCK_BYTES, ReplicationStream } from "./backlog.ts";
import { MIN_BACKLOG_BYTES } from "../../shared/limits.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** Everything a cursor reads until it is up to date, advancing it. */
function drain(s: ReplicationStream, c: { pos: number }, max?: number): string {
  let out = "";
  for (let chunk = s.peek(c, max); chunk.length > 0; chunk = s.peek(c, max)) {
    out += text(chunk);
    s.advance(c, chunk.length);
  }
  return out;
}

Deno.test("the backlog keeps the newest bytes of the stream and no more than it must", () => {
  const s = new ReplicationStream(0, MIN_BACKLOG_BYTES);
  const chunk = "0123456789".repeat(1000); // 10,000 bytes
  for (let i = 0; i < 10; i++) s.write(bytes(chunk));
  equal(s.offset, 100_000);
  // Whole blocks are released: what is held covers the backlog size, by less than a block more.
  equal(s.histlen >= MIN_BACKLOG_BYTES, true);
  equal(s.histlen < MIN_BACKLOG_BYTES + BLOCK_BYTES, true);
  const all = chunk.repeat(10);
  equal(text(s.since(s.firstByteOffset)!), all.slice(all.length - s.histlen));
  equal(s.since(s.firstByteOffset - 1), null);
  // A write larger than a block gets a block of its own.
  const big = "x".repeat(3 * BLOCK_BYTES) + "tail";
  s.write(bytes(big));
  equal(text(s.since(s.offset - 3)!), "tail");
  s.resize(MIN_BACKLOG_BYTES * 4);
  equal(s.capacity, MIN_BACKLOG_BYTES * 4);
  s.resize(1);
  equal(s.capacity, MIN_BACKLOG_BYTES);
});

Deno.test("a reader's cursor keeps the bytes it has not sent, beyond the backlog's size", () => {
  const s = new ReplicationStream(0, MIN_BACKLOG_BYTES);
  const slow = s.openCursor();
  let expect = "";
  for (let i = 0; i < 50; i++) {
    const line = `${i}:` + "y".repeat(997) + "\n";
    s.write(bytes(line));
    expect += line;
  }
  equal(s.pending(slow), expect.length);
  // The backlog alone would hold 16 KB; the slow reader holds all 50 KB.
  equal(s.histlen, expect.length);
  equal(drain(s, slow, 4096), expect);
  equal(s.pending(slow), 0);
  // Once it has sent them, the old blocks go on the next write.
  s.write(bytes("z"));
  equal(s.histlen < expect.length, true);
  s.closeCursor(slow);
  throws(() => s.openCursor(1), RangeError);
});

Deno.test("the stream counts every byte, selects databases and serves partial resyncs", () => {
  const s = new ReplicationStream(100, 1 << 20);
  const reader = s.openCursor();
  let writes = 0;
  s.onWrite = () => writes++;
  const set = encodeCommand(["SET", "a", "1"]);
  s.append(0, set);
  const select0 = encodeCommand(["SELECT", "0"]);
  equal(s.offset, 100 + select0.length + set.length);
  equal(s.firstByteOffset, 101);
  s.append(0, set); // same database: no SELECT
  s.append(3, set);
  equal(s.streamDb, 3);
  const select3 = encodeCommand(["SELECT", "3"]);
  equal(s.offset, 100 + select0.length + 3 * set.length + select3.length);
  equal(writes, 3);
  deepStrictEqual(
    drain(s, reader),
    text(select0) + text(set) + text(set) + text(select3) + text(set),
  );
  // A replica that has everything up to offset 100 + select0 + set gets the rest.
  const from = 101 + select0.length + set.length;
  equal(text(s.since(from)!), text(set) + text(select3) + text(set));
  equal(s.since(s.offset + 1)!.length, 0);
  equal(s.covers(100), false); // before the backlog's first byte
  equal(s.covers(s.offset + 2), false); // in the future
  const late = s.openCursor(from);
  equal(s.pending(late), s.offset + 1 - from);
  s.forgetSelectedDb();
  s.append(3, set);
  equal(text(s.since(s.offset + 1 - set.length - select3.length)!), text(select3) + text(set));
  // Adopting another offset (a replica taking its master's) starts an empty history there.
  s.offset = 5000;
  equal(s.histlen, 0);
  equal(s.pending(late), 0);
  equal(s.firstByteOffset, 5001);
});

Deno.test("commands encoded by the stream itself are the bytes encodeCommand gives", () => {
  const s = new ReplicationStream(0, MIN_BACKLOG_BYTES);
  const c = s.openCursor();
  const all: number[] = [];
  const every = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join("");
  const commands: [number, string[]][] = [
    [0, ["SET", "k", "v"]],
    [0, ["SET", "", ""]],
    [3, ["SET", "key:" + "9".repeat(12), "x".repeat(63)]],
    [3, ["SET", "long", "y".repeat(64)]],
    [0, ["HSET", "h", every, every.repeat(3)]],
    [-1, ["EXEC"]],
    [0, ["RPUSH", "l", ...Array.from({ length: 12 }, (_, i) => String(i))]],
  ];
  // Filling blocks: a command never straddles two, and the stream's bytes stay contiguous.
  for (let i = 0; i < 2000; i++) commands.push([i % 2, ["SET", `k${i}`, "z".repeat(i % 300)]]);
  let db = -1;
  for (const [dbId, argv] of commands) {
    if (dbId >= 0 && dbId !== db) {
      all.push(...encodeCommand(["SELECT", String(dbId)]));
      db = dbId;
    }
    all.push(...encodeCommand(argv));
    s.appendArgv(dbId, argv);
    // Plain writes interleave with encoded commands.
    if (argv[0] === "EXEC") {
      s.write(bytes("*1\r\n$4\r\nPING\r\n"));
      all.push(...bytes("*1\r\n$4\r\nPING\r\n"));
    }
  }
  equal(s.offset, all.length);
  const got: number[] = [];
  for (let chunk = s.peek(c, 1000); chunk.length > 0; chunk = s.peek(c, 1000)) {
    got.push(...chunk);
    s.advance(c, chunk.length);
  }
  deepStrictEqual(got, all);
  // The backlog holds the newest bytes, whole blocks beyond its size released.
  equal(s.histlen >= MIN_BACKLOG_BYTES, true);
  equal(s.histlen < MIN_BACKLOG_BYTES + 2 * BLOCK_BYTES, true);
  deepStrictEqual([...s.since(s.firstByteOffset)!], all.slice(all.length - s.histlen));
});

Deno.test("blocks released by the backlog are reused without disturbing what is still held", () => {
  const s = new ReplicationStream(0, MIN_BACKLOG_BYTES);
  const all: number[] = [];
  const put = (i: number) => {
    const argv = ["SET", `key:${i}`, String.fromCharCode(97 + i % 26).repeat(i % 700)];
    if (i === 0) all.push(...encodeCommand(["SELECT", "0"]));
    all.push(...encodeCommand(argv));
    s.appendArgv(0, argv);
  };
  // Far more than the backlog holds: old blocks are released and taken again for new bytes.
  let i = 0;
  for (; i < 3000; i++) put(i);
  // A reader that joins late and keeps up while blocks keep being recycled.
  const c = s.openCursor();
  let from = all.length;
  for (; i < 9000; i++) {
    put(i);
    if (i % 7 === 0) {
      const chunk = s.peek(c, 5000);
      deepStrictEqual([...chunk], all.slice(from, from + chunk.length));
      s.advance(c, chunk.length);
      from += chunk.length;
    }
  }
  equal(s.offset, all.length);
  deepStrictEqual([...s.since(s.firstByteOffset)!], all.slice(all.length - s.histlen));
  deepStrictEqual([...s.since(from + 1)!], all.slice(from));
});
