import { deepStrictEqual, equal, throws } from "node:assert/strict";
import { encodeCommand } from "../../shared/resp/mod.ts";
import { Backlog, ReplicationStream } from "./backlog.ts";
import { MIN_BACKLOG_BYTES } from "../../shared/limits.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("the backlog keeps the newest bytes across wrap-around", () => {
  const b = new Backlog(MIN_BACKLOG_BYTES);
  const chunk = "0123456789".repeat(1000); // 10,000 bytes
  b.write(bytes(chunk));
  b.write(bytes(chunk));
  equal(b.histlen, MIN_BACKLOG_BYTES);
  const all = chunk + chunk;
  equal(text(b.tail(b.histlen)), all.slice(all.length - MIN_BACKLOG_BYTES));
  equal(text(b.tail(7)), "3456789");
  throws(() => b.tail(MIN_BACKLOG_BYTES + 1), RangeError);
  // A write larger than the whole ring keeps its last capacity bytes.
  const big = "x".repeat(MIN_BACKLOG_BYTES) + "tail";
  b.write(bytes(big));
  equal(text(b.tail(4)), "tail");
  b.resize(MIN_BACKLOG_BYTES * 2);
  equal(text(b.tail(4)), "tail");
  equal(b.histlen, MIN_BACKLOG_BYTES);
});

Deno.test("the stream counts every byte, selects databases and serves partial resyncs", () => {
  const s = new ReplicationStream(100, 1 << 20);
  const seen: string[] = [];
  const stop = s.subscribe((b) => seen.push(text(b)));
  const set = encodeCommand(["SET", "a", "1"]);
  s.append(0, set);
  const select0 = encodeCommand(["SELECT", "0"]);
  equal(s.offset, 100 + select0.length + set.length);
  equal(s.firstByteOffset, 101);
  s.append(0, set); // same database: no SELECT
  s.append(3, set);
  const select3 = encodeCommand(["SELECT", "3"]);
  equal(s.offset, 100 + select0.length + 3 * set.length + select3.length);
  deepStrictEqual(seen, [text(select0), text(set), text(set), text(select3), text(set)]);
  // A replica that has everything up to offset 100 + select0 + set gets the rest.
  const from = 101 + select0.length + set.length;
  equal(text(s.since(from)!), text(set) + text(select3) + text(set));
  equal(s.since(s.offset + 1)!.length, 0);
  equal(s.since(100), null); // before the backlog's first byte
  equal(s.since(s.offset + 2), null); // in the future
  stop();
  s.forgetSelectedDb();
  s.append(3, set);
  equal(seen.length, 5);
  equal(text(s.since(s.offset + 1 - set.length - select3.length)!), text(select3) + text(set));
});
