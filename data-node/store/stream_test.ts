import { deepStrictEqual, equal } from "node:assert/strict";
import fc from "fast-check";
import { seededRandom } from "../../tests/helpers/random.ts";
import {
  ConsumerGroup,
  formatId,
  ID_MAX,
  IdMap,
  INVALID_ENTRIES_READ,
  makeId,
  parseStreamId,
  SEQ_MASK,
  StreamValue,
} from "./stream.ts";

const LIMITS = { maxBytes: 4096, maxEntries: 3 };
const BIG_NODES = { maxBytes: 4096, maxEntries: 100 };
const id = (ms: number, seq = 0) => makeId(BigInt(ms), BigInt(seq));

function streamOf(n: number, limits = LIMITS): StreamValue {
  const s = new StreamValue();
  for (let i = 1; i <= n; i++) s.append(id(i), ["f", String(i)], limits);
  return s;
}

const ids = (entries: [bigint, string[]][]) => entries.map(([i]) => formatId(i));

Deno.test("stream IDs parse as Redis's argument rules say", () => {
  equal(parseStreamId("5", 0n, false)!.id, id(5));
  equal(parseStreamId("5", SEQ_MASK, false)!.id, makeId(5n, SEQ_MASK));
  equal(parseStreamId("5-3", 0n, true)!.id, id(5, 3));
  equal(parseStreamId("-", 0n, false)!.id, 0n);
  equal(parseStreamId("+", 0n, false)!.id, ID_MAX);
  equal(parseStreamId("-", 0n, true), null);
  equal(parseStreamId("5-*", 0n, true), null);
  deepStrictEqual(parseStreamId("5-*", 0n, true, true), { id: id(5), seqGiven: false });
  equal(parseStreamId("18446744073709551615-18446744073709551615", 0n, true)!.id, ID_MAX);
  equal(parseStreamId("18446744073709551616", 0n, true), null);
  equal(parseStreamId("1-x", 0n, true), null);
  equal(parseStreamId("", 0n, true), null);
  equal(formatId(makeId(7n, 9n)), "7-9");
});

Deno.test("entries fill nodes up to the entry limit; ranges walk them both ways", () => {
  const s = streamOf(7);
  equal(s.nodes.length, 3);
  deepStrictEqual(s.nodes.map((n) => n.live), [3, 3, 1]);
  deepStrictEqual(ids(s.range(0n, ID_MAX, 0)), ["1-0", "2-0", "3-0", "4-0", "5-0", "6-0", "7-0"]);
  deepStrictEqual(ids(s.range(id(3), id(5), 0)), ["3-0", "4-0", "5-0"]);
  deepStrictEqual(ids(s.range(id(2), ID_MAX, 2)), ["2-0", "3-0"]);
  deepStrictEqual(ids(s.range(0n, id(5), 2, true)), ["5-0", "4-0"]);
  deepStrictEqual(ids(s.range(0n, ID_MAX, 0, true)).length, 7);
  deepStrictEqual(ids(s.range(id(8), ID_MAX, 0)), []);
  deepStrictEqual(s.get(id(4)), ["f", "4"]);
  equal(s.get(id(4, 1)), undefined);
});

Deno.test("the byte limit starts a new node too", () => {
  const s = new StreamValue();
  const big = "x".repeat(30);
  for (let i = 1; i <= 4; i++) s.append(id(i), ["f", big], { maxBytes: 100, maxEntries: 100 });
  equal(s.nodes.length, 2);
});

Deno.test("XDEL keeps deleted entries counted in their node and drops emptied nodes", () => {
  const s = streamOf(4);
  equal(s.delete(id(2)), true);
  equal(s.delete(id(2)), false);
  equal(s.nodes[0]!.deleted, 1);
  equal(s.maxDeletedId, id(2));
  // A node full of entries (deleted ones included) takes no more.
  equal(s.delete(id(4)), true);
  equal(s.nodes.length, 1);
  equal(s.delete(id(1)), true);
  equal(s.firstId, id(3));
  equal(s.length, 1);
  s.append(id(5), ["f", "5"], LIMITS);
  equal(s.nodes.length, 2);
});

Deno.test("trimming: exact trims inside a node, approximate only whole nodes, LIMIT caps it", () => {
  let s = streamOf(7);
  equal(s.trim({ strategy: "maxlen", maxlen: 5, minid: 0n, approx: true, limit: 0 }), 0);
  equal(s.trim({ strategy: "maxlen", maxlen: 4, minid: 0n, approx: true, limit: 0 }), 3);
  equal(s.firstId, id(4));
  s = streamOf(7);
  equal(s.trim({ strategy: "maxlen", maxlen: 2, minid: 0n, approx: false, limit: 0 }), 5);
  deepStrictEqual(ids(s.range(0n, ID_MAX, 0)), ["6-0", "7-0"]);
  s = streamOf(7);
  equal(s.trim({ strategy: "minid", maxlen: 0, minid: id(5), approx: false, limit: 0 }), 4);
  equal(s.firstId, id(5));
  s = streamOf(7);
  equal(s.trim({ strategy: "minid", maxlen: 0, minid: id(7), approx: true, limit: 3 }), 3);
  s = streamOf(3);
  equal(s.trim({ strategy: "maxlen", maxlen: 0, minid: 0n, approx: false, limit: 0 }), 3);
  equal(s.length, 0);
  equal(s.firstId, 0n);
});

Deno.test("ID generation: the next sequence, a new millisecond, exhaustion", () => {
  const s = streamOf(2);
  equal(s.nextId(null, 2), id(2, 1));
  equal(s.nextId(null, 10), id(10));
  equal(s.nextId({ id: id(2), seqGiven: false }, 0), id(2, 1));
  equal(s.nextId({ id: id(9), seqGiven: false }, 0), id(9));
  s.lastId = makeId(3n, SEQ_MASK);
  equal(s.nextId({ id: id(3), seqGiven: false }, 0), null);
  s.lastId = ID_MAX;
  equal(s.nextId(null, 0), null);
});

Deno.test("entries-read and lag follow Redis 7.0's rules", () => {
  const s = streamOf(5);
  const g = new ConsumerGroup("g", 0n, INVALID_ENTRIES_READ);
  // Nothing deleted: the distance from the first entry ever is known.
  equal(s.lag(g), 5);
  s.advanceGroup(g, id(1));
  equal(g.entriesRead, 1);
  s.advanceGroup(g, id(2));
  equal(g.entriesRead, 2);
  equal(s.lag(g), 3);
  // A deletion after the group's position makes the counter unreliable: estimated or unknown.
  s.delete(id(4));
  equal(s.lag(g), null);
  s.advanceGroup(g, id(3));
  equal(g.entriesRead, INVALID_ENTRIES_READ);
  s.advanceGroup(g, id(5));
  equal(g.entriesRead, 5);
  equal(s.lag(g), 0);
  // A deletion before the first entry does not count: the three left are unread.
  const t = streamOf(4);
  t.delete(id(1));
  const h = new ConsumerGroup("h", 0n, INVALID_ENTRIES_READ);
  equal(t.lag(h), 3);
});

Deno.test("a clone shares nothing with the original", () => {
  const s = streamOf(4);
  const g = new ConsumerGroup("g", 0n, 0);
  s.groups.set("g", g);
  const c = g.consumer("alice", 1).consumer;
  const nack = { id: id(1), time: 1, count: 1, consumer: c };
  g.pel.set(id(1), nack);
  c.pel.set(id(1), nack);
  const copy = s.clone();
  s.delete(id(1));
  g.ack(id(1));
  equal(copy.length, 4);
  equal(copy.groups.get("g")!.pel.size, 1);
  equal(copy.groups.get("g")!.consumers.get("alice")!.pel.get(id(1))!.consumer.name, "alice");
});

Deno.test("an IdMap keeps every ID apart and gives its keys back as they were", () => {
  const m = new IdMap<number>();
  const all = [
    0n,
    id(1),
    id(1, 1),
    id(2),
    makeId(SEQ_MASK, 0n),
    makeId(0n, SEQ_MASK),
    ID_MAX,
    makeId(1700000000000n, 0n),
    makeId(1700000000001n, 0n),
  ];
  all.forEach((k, i) => m.set(k, i));
  equal(m.size, all.length);
  deepStrictEqual([...m.keys()], all);
  all.forEach((k, i) => equal(m.get(k), i));
  equal(m.has(id(3)), false);
  equal(m.delete(id(1, 1)), true);
  equal(m.delete(id(1, 1)), false);
  equal(m.get(id(1, 1)), undefined);
  deepStrictEqual([...m.values()], [0, 1, 3, 4, 5, 6, 7, 8]);
});

Deno.test("ranges and the last entry agree with a plain list, for IDs of any size", () => {
  // Parts near 2^53 and 2^64 take the bigint paths of the node scans (and deltas that wrap).
  // Mostly small parts, so that IDs share milliseconds and ranges cut between sequences.
  const part = fc.oneof(
    { arbitrary: fc.bigInt(0n, 4n), weight: 6 },
    { arbitrary: fc.bigInt(2n ** 53n - 3n, 2n ** 53n + 3n), weight: 1 },
    { arbitrary: fc.bigInt(2n ** 63n - 2n, 2n ** 63n + 2n), weight: 1 },
    { arbitrary: fc.bigInt(SEQ_MASK - 3n, SEQ_MASK), weight: 1 },
  );
  const anyId = fc.tuple(part, part).map(([ms, seq]) => makeId(ms, seq));
  fc.assert(
    fc.property(
      fc.uniqueArray(anyId, { minLength: 1, maxLength: 40 }),
      fc.array(fc.nat(), { maxLength: 10 }),
      fc.tuple(anyId, anyId),
      fc.nat(5),
      fc.constantFrom(LIMITS, BIG_NODES),
      (idList, deletes, [a, b], count, limits) => {
        const sorted = [...idList].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
        const s = new StreamValue();
        // A read halfway builds the tail node's listpack; the appends after it go on from there.
        const half = sorted.length >> 1;
        sorted.forEach((x, i) => {
          if (i === half) equal(s.range(0n, ID_MAX, 0).length, half);
          s.append(x, i % 2 ? ["f", String(i)] : ["g", "h", "i", "j"], limits);
        });
        const live = new Set(sorted);
        for (const d of deletes) {
          const x = sorted[d % sorted.length]!;
          s.delete(x);
          live.delete(x);
        }
        const model = sorted.filter((x) => live.has(x));
        const [start, end] = a <= b ? [a, b] : [b, a];
        const want = model.filter((x) => x >= start && x <= end);
        deepStrictEqual(
          s.range(start, end, count).map(([x]) => x),
          count ? want.slice(0, count) : want,
        );
        deepStrictEqual(s.range(0n, ID_MAX, 0).map(([x]) => x), model);
        equal(s.edgeId(false), model.length ? model[model.length - 1] : 0n);
        equal(s.edgeId(true), model.length ? model[0] : 0n);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("reads resuming where the last one stopped agree with a plain list, across appends, deletes and XSETID", () => {
  // A node remembers where its last read stopped; appends (also after XSETID has moved the
  // last ID back below deleted entries), deletes and reads from anywhere must not mislead it.
  const op = fc.oneof(
    fc.record({ kind: fc.constant("add" as const), step: fc.nat(3), seqStep: fc.nat(2) }),
    fc.record({ kind: fc.constant("del" as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant("setid" as const) }),
    fc.record({ kind: fc.constant("next" as const), count: fc.integer({ min: 1, max: 3 }) }),
    fc.record({ kind: fc.constant("from" as const), ms: fc.nat(60), count: fc.nat(3) }),
  );
  fc.assert(
    fc.property(
      fc.array(op, { minLength: 1, maxLength: 120 }),
      fc.constantFrom(LIMITS, BIG_NODES),
      (ops, limits) => {
        const s = new StreamValue();
        let model: bigint[] = [];
        let ms = 1n, seq = 0n, cursor = 0n;
        const check = (from: bigint, count: number) => {
          const want = model.filter((x) => x >= from);
          const got = s.range(from, ID_MAX, count).map(([x]) => x);
          deepStrictEqual(got, count ? want.slice(0, count) : want);
          return got;
        };
        for (const o of ops) {
          if (o.kind === "add") {
            ms += BigInt(o.step);
            seq = o.step === 0 ? seq + 1n + BigInt(o.seqStep) : BigInt(o.seqStep);
            const x = makeId(ms, seq);
            s.append(x, ["f", "v"], limits);
            model.push(x);
          } else if (o.kind === "del" && model.length) {
            const x = model[o.pick % model.length]!;
            equal(s.delete(x), true);
            model = model.filter((y) => y !== x);
          } else if (o.kind === "setid") {
            // XSETID down to the last live entry: new IDs may fall below deleted ones.
            const top = model.length ? model[model.length - 1]! : 0n;
            s.lastId = top;
            ms = top >> 64n;
            seq = top & SEQ_MASK;
          } else if (o.kind === "next") {
            const got = check(cursor + 1n, o.count);
            if (got.length) cursor = got[got.length - 1]!;
          } else if (o.kind === "from") {
            check(makeId(BigInt(o.ms), 0n), o.count);
          }
        }
        check(0n, 0);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("IdMap's ordered IDs follow every insert and delete (XPENDING, XAUTOCLAIM, XINFO)", () => {
  const rnd = seededRandom(7);
  for (let round = 0; round < 40; round++) {
    const m = new IdMap<number>();
    const ref = new Set<bigint>();
    // Mostly increasing IDs (deliveries) with some older ones, acknowledged mostly from the head.
    let next = 1n;
    const pick = (): bigint => {
      if (rnd() < 0.7) return makeId(next++, BigInt(Math.floor(rnd() * 3)));
      return makeId(BigInt(Math.floor(rnd() * Number(next + 1n))), BigInt(Math.floor(rnd() * 3)));
    };
    const sorted = () => [...ref].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (let op = 0; op < 3000; op++) {
      const r = rnd();
      if (r < 0.45) {
        const id = pick();
        m.set(id, op);
        ref.add(id);
      } else if (r < 0.8) {
        const all = sorted();
        const id = all.length > 0 && rnd() < 0.7 ? all[0]! : pick();
        equal(m.delete(id), ref.delete(id));
      } else if (r < 0.97) {
        const a = pick(), b = pick();
        const [lo, hi] = a < b ? [a, b] : [b, a];
        const limit = rnd() < 0.5 ? Infinity : Math.floor(rnd() * 20);
        deepStrictEqual(
          m.range(lo, hi, limit),
          sorted().filter((x) => x >= lo && x <= hi).slice(0, limit),
        );
      } else {
        const all = sorted();
        equal(m.first(), all[0]);
        equal(m.last(), all[all.length - 1]);
      }
      equal(m.size, ref.size);
    }
    deepStrictEqual(m.range(0n, (1n << 128n) - 1n), sorted());
  }
});
