import { deepStrictEqual, equal as assertEquals, ok as assert, throws } from "node:assert/strict";
import fc from "fast-check";
import {
  encodeCommand,
  encodeValue,
  formatG17,
  NEED_MORE,
  ProtocolError,
  RequestParser,
  RespAttribute,
  RespBigNumber,
  RespDecoder,
  RespDouble,
  RespError,
  RespMap,
  RespPush,
  RespSet,
  type RespValue,
  RespVerbatim,
  RespWriter,
  SimpleString,
} from "./mod.ts";

const te = new TextEncoder();

const binary = fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 40 }).map((a) =>
  String.fromCharCode(...a)
);
const line = fc.string({ maxLength: 20 }).map((s) => s.replace(/[\r\n]/g, " "))
  .filter((s) => [...s].every((ch) => ch.charCodeAt(0) < 256));

const value: fc.Arbitrary<RespValue> = fc.letrec<{ v: RespValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    binary,
    fc.integer(),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).filter((b) =>
      b > BigInt(Number.MAX_SAFE_INTEGER) || b < BigInt(Number.MIN_SAFE_INTEGER)
    ),
    fc.boolean(),
    fc.constant(null),
    line.map((s) => new SimpleString(s)),
    line.map((s) => new RespError(`ERR ${s}`)),
    fc.double({ noNaN: true }).filter((d) => !Object.is(d, -0)).map((d) => new RespDouble(d)),
    fc.bigInt().map((b) => new RespBigNumber(b)),
    binary.map((t) => new RespVerbatim("txt", t)),
    fc.array(tie("v"), { maxLength: 4 }),
    fc.array(fc.tuple(tie("v"), tie("v")), { maxLength: 3 }).map((e) => new RespMap(e)),
    fc.array(tie("v"), { maxLength: 4 }).map((i) => new RespSet(i)),
    fc.array(tie("v"), { maxLength: 4 }).map((i) => new RespPush(i)),
  ),
})).v;

/** Cuts bytes into chunks at the given (sorted, deduplicated) offsets. */
function cut(bytes: Uint8Array, offsets: number[]): Uint8Array[] {
  const pts = [...new Set(offsets.map((o) => o % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...pts, bytes.length]) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function normalize(v: RespValue): unknown {
  // RespDouble(NaN) etc. compare structurally; doubles round-trip through %.17g exactly.
  return v;
}

Deno.test("a pipeline of RESP3 values cut into random chunks decodes to the same values", () => {
  fc.assert(
    fc.property(
      fc.array(value, { minLength: 1, maxLength: 8 }),
      fc.array(fc.nat()),
      (vals, offs) => {
        const bytes = concat(vals.map((v) => encodeValue(v, 3)));
        const dec = new RespDecoder();
        const got: RespValue[] = [];
        for (const chunk of cut(bytes, offs)) {
          dec.push(chunk);
          for (let v = dec.next(); v !== NEED_MORE; v = dec.next()) got.push(v);
        }
        deepStrictEqual(got.map(normalize), vals.map(normalize));
        // Re-encoding gives the same bytes: nothing was lost.
        deepStrictEqual(concat(got.map((v) => encodeValue(v, 3))), bytes);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("a pipeline of commands cut into random chunks parses to the same arguments", () => {
  fc.assert(
    fc.property(
      fc.array(fc.array(binary, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 10 }),
      fc.array(fc.nat()),
      (cmds, offs) => {
        const bytes = concat(cmds.map((c) => encodeCommand(c)));
        const p = new RequestParser();
        const got: string[][] = [];
        for (const chunk of cut(bytes, offs)) {
          p.feed(chunk);
          for (let a = p.next(); a !== null; a = p.next()) got.push(a);
        }
        deepStrictEqual(got, cmds);
        assertEquals(p.pending, 0);
      },
    ),
    { numRuns: 300 },
  );
});

function parseAll(input: string, authenticated = true): string[][] {
  const p = new RequestParser();
  p.feed(te.encode(input));
  const out: string[][] = [];
  for (let a = p.next(authenticated); a !== null; a = p.next(authenticated)) out.push(a);
  return out;
}

Deno.test("inline commands split on spaces and honour quotes and escapes", () => {
  deepStrictEqual(parseAll("PING\r\nset a 'b c'\nget \"x\\x41\\n\"\r\n\r\n"), [
    ["PING"],
    ["set", "a", "b c"],
    ["get", "xA\n"],
    [],
  ]);
});

Deno.test("request errors carry Redis's protocol error texts", () => {
  const err = (input: string, authenticated = true) => {
    try {
      parseAll(input, authenticated);
    } catch (e) {
      if (e instanceof ProtocolError) return e.message;
      throw e;
    }
    return "no error";
  };
  assertEquals(err("*1\r\n$x\r\n"), "Protocol error: invalid bulk length");
  assertEquals(err("*x\r\n"), "Protocol error: invalid multibulk length");
  assertEquals(err("*2147483648\r\n"), "Protocol error: invalid multibulk length");
  assertEquals(err("*1\r\n$4294967296\r\n"), "Protocol error: invalid bulk length");
  assertEquals(err("*1\r\n*1\r\n"), "Protocol error: expected '$', got '*'");
  assertEquals(err('set a "b\r\n'), "Protocol error: unbalanced quotes in request");
  assertEquals(err("x".repeat(70 * 1024)), "Protocol error: too big inline request");
  assertEquals(err("*" + "1".repeat(70 * 1024)), "Protocol error: too big mbulk count string");
  assertEquals(err("*11\r\n", false), "Protocol error: unauthenticated multibulk length");
  assertEquals(err("*1\r\n$16385\r\n", false), "Protocol error: unauthenticated bulk length");
});

Deno.test("a huge bulk cut into many reads is assembled and the parser asks for its size", () => {
  const big = "v".repeat(300_000);
  const bytes = encodeCommand(["SET", "k", big]);
  const p = new RequestParser();
  let got: string[] | null = null;
  for (let off = 0; off < bytes.length; off += 1000) {
    p.feed(bytes.subarray(off, off + 1000));
    got ??= p.next();
  }
  deepStrictEqual(got, ["SET", "k", big]);
});

Deno.test("decoder rejects malformed input and excessive nesting", () => {
  const dec = new RespDecoder({ maxDepth: 8 });
  dec.push(te.encode("*1\r\n".repeat(9) + ":1\r\n"));
  throws(() => dec.next(), ProtocolError);
  const d2 = new RespDecoder();
  d2.push(te.encode("?oops\r\n"));
  throws(() => d2.next(), ProtocolError);
});

Deno.test("RESP2 downgrades RESP3 types the way Redis does", () => {
  const td = new TextDecoder();
  assertEquals(td.decode(encodeValue(null, 2)), "$-1\r\n");
  assertEquals(td.decode(encodeValue(true, 2)), ":1\r\n");
  assertEquals(td.decode(encodeValue(new RespDouble(1.5), 2)), "$3\r\n1.5\r\n");
  assertEquals(td.decode(encodeValue(new RespMap([["a", 1]]), 2)), "*2\r\n$1\r\na\r\n:1\r\n");
  const attr = new RespAttribute([["ttl", 3]], "v");
  assertEquals(td.decode(encodeValue(attr, 2)), "$1\r\nv\r\n");
});

Deno.test("doubles are printed like C's %.17g", () => {
  assertEquals(formatG17(1.1), "1.1000000000000001");
  assertEquals(formatG17(3), "3");
  assertEquals(formatG17(1e20), "1e+20");
  assertEquals(formatG17(1.5e-7), "1.4999999999999999e-07");
  assertEquals(formatG17(-Infinity), "-inf");
  assertEquals(formatG17(0.0001), "0.0001");
});

Deno.test("the arguments of a partial multibulk count toward the query buffer", () => {
  const p = new RequestParser();
  p.feed(new TextEncoder().encode("*1000000\r\n" + "$1\r\nx\r\n".repeat(1000)));
  assertEquals(p.next(), null);
  assertEquals(p.pending >= 1000 * 17, true);
});

Deno.test("the query buffer length counts parsed bytes until the batch is trimmed", () => {
  const p = new RequestParser({}, 64);
  const text = (s: string) => new TextEncoder().encode(s);
  p.feed(text("*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPI"));
  deepStrictEqual(p.next(), ["PING"]);
  assertEquals(p.queryBufferLength, 24);
  assertEquals(p.next(), null);
  p.trim();
  // The partial bulk's header counts as read, as in Redis: only "PI" is left.
  assertEquals(p.queryBufferLength, 2);
  // A read that makes the buffer compact or grow keeps the count.
  p.feed(text("NG\r\n" + "*1\r\n$4\r\nPING\r\n".repeat(8)));
  assertEquals(p.queryBufferLength, 2 + 4 + 14 * 8);
  for (let i = 0; i < 9; i++) deepStrictEqual(p.next(), ["PING"]);
  assertEquals(p.queryBufferLength, 2 + 4 + 14 * 8);
  p.trim();
  assertEquals(p.queryBufferLength, 0);
});

Deno.test("repeated and same-length command names parse to their own bytes", () => {
  const names = [
    "SET",
    "GET",
    "SET",
    "set",
    "SE\xff",
    "SE\xfe",
    "LPUSH",
    "LPUSH",
    "",
    "x".repeat(40),
  ];
  const cmds = names.map((n, i) => [n, `key:${i}`, "v".repeat(i * 3)]);
  const p = new RequestParser();
  p.feed(concat(cmds.map((c) => encodeCommand(c))));
  const got: string[][] = [];
  for (let a = p.next(); a !== null; a = p.next()) got.push(a);
  deepStrictEqual(got, cmds);
});

Deno.test("integer replies and lengths are written as their decimal digits", () => {
  const w = new RespWriter(64);
  const ints: (number | bigint)[] = [0, -0, 7, 10, 99, 100, -1, -10, 2 ** 31 - 1, -(2 ** 31)];
  ints.push(2 ** 31, -(2 ** 31) - 1, Number.MAX_SAFE_INTEGER, 2n ** 63n - 1n, -(2n ** 63n));
  fc.assert(fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (n) => {
    w.reset();
    w.int(n);
    assertEquals(new TextDecoder().decode(w.view()), `:${n}\r\n`);
  }));
  for (const n of ints) {
    w.reset();
    w.int(n);
    assertEquals(new TextDecoder().decode(w.view()), `:${String(n)}\r\n`);
  }
  // A double's fraction is cut off, as C's (long long) cast does (GEORADIUS WITHHASH).
  for (const [d, text] of [[1.5, "1"], [-0.5, "0"], [12.75, "12"], [-3.9, "-3"]] as const) {
    w.reset();
    w.int(d);
    assertEquals(new TextDecoder().decode(w.view()), `:${text}\r\n`);
  }
});

Deno.test("RequestParser.rawOf: the buffer holds a command's exact encoding while it is the last one", () => {
  const bin = (s: string) => Uint8Array.from(s, (ch) => ch.charCodeAt(0));
  const rawBytes = (p: RequestParser) => [...p.buf.subarray(p.rawStart, p.rawEnd)];
  fc.assert(
    fc.property(
      fc.array(
        fc.array(fc.string({ unit: "binary-ascii", maxLength: 40 }), {
          minLength: 1,
          maxLength: 6,
        }),
        { minLength: 1, maxLength: 8 },
      ),
      (commands) => {
        const p = new RequestParser();
        p.feed(Uint8Array.from(commands.flatMap((c) => [...encodeCommand(c)])));
        let last: string[] | null = null;
        for (const c of commands) {
          const argv = p.next()!;
          deepStrictEqual(argv, c);
          assertEquals(p.rawOf(argv), true);
          deepStrictEqual(rawBytes(p), [...encodeCommand(c)]);
          if (last !== null) assertEquals(p.rawOf(last), false);
          last = argv;
        }
      },
    ),
  );
  // Inline commands, lines not ended by CRLF, a command cut between two reads and a parser that
  // read more since: no raw bytes.
  const p = new RequestParser();
  p.feed(bin("SET a b\r\n*1\r\n$4\r\nPINGxx*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"));
  const inline = p.next()!;
  deepStrictEqual(inline, ["SET", "a", "b"]);
  assertEquals(p.rawOf(inline), false);
  const ping = p.next()!;
  deepStrictEqual(ping, ["PING"]);
  assertEquals(p.rawOf(ping), false);
  const get = p.next()!;
  assertEquals(p.rawOf(get), true);
  p.feed(bin("*1\r\n"));
  assertEquals(p.rawOf(get), false);
  const q = new RequestParser();
  q.feed(bin("*2\r\n$3\r\nGET\r\n$1\r"));
  assertEquals(q.next(), null);
  q.feed(bin("\nk\r\n"));
  const cut = q.next()!;
  deepStrictEqual(cut, ["GET", "k"]);
  assertEquals(q.rawOf(cut), false);
  const r = new RequestParser();
  r.feed(bin("*1\rX$4\r\nPING\r\n"));
  deepStrictEqual(r.next(), ["PING"]);
  r.feed(bin("*1\rX$4\r\nPING\r\n"));
  assertEquals(r.rawOf(r.next()!), false);
});

Deno.test("binary strings of every length up to 64 bytes decode byte for byte", async () => {
  const { bytesToBinary, MEDIUM_MAX } = await import("./bytes.ts");
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat(8), (bytes, pad) => {
      const expected = Array.from(bytes, (x) => String.fromCharCode(x)).join("");
      // At an offset inside a larger buffer, as arguments are.
      const buf = new Uint8Array(pad + bytes.length + 3).fill(0x41);
      buf.set(bytes, pad);
      assertEquals(bytesToBinary(buf, pad, pad + bytes.length), expected);
      const p = new RequestParser();
      p.feed(encodeCommand(["SET", expected, expected]));
      deepStrictEqual(p.next(), ["SET", expected, expected]);
    }),
    { numRuns: 2000 },
  );
  assertEquals(MEDIUM_MAX >= 12, true);
});

Deno.test("arguments read again come back with their own bytes, whatever was read in between", async () => {
  const { MEDIUM_MAX, RECENT_MAX, recentBinary } = await import("./bytes.ts");
  const parser = new RequestParser();
  const read = (s: string) => {
    const buf = new Uint8Array(s.length + 4).fill(0x7a);
    for (let i = 0; i < s.length; i++) buf[i + 2] = s.charCodeAt(i);
    if (s.length > MEDIUM_MAX) {
      parser.feed(encodeCommand(["GET", s]));
      return parser.next()![1]!;
    }
    return recentBinary(buf, 2, 2 + s.length);
  };
  // Far more strings than the table has slots: every slot is taken over by other bytes, of the
  // same length and of other lengths, and the first strings are then read again.
  const many = Array.from(
    { length: 20_000 },
    (_, i) => `k${i}`.padEnd(2 + (i % (RECENT_MAX - 1)), "\xff"),
  );
  for (const s of many) assertEquals(read(s), s);
  for (const s of many.slice(0, 5000)) assertEquals(read(s), s);
  fc.assert(
    fc.property(
      fc.array(
        fc.string({
          unit: fc.constantFrom("a", "b", "\x00", "\xfe"),
          minLength: 2,
          maxLength: MEDIUM_MAX,
        }),
        {
          maxLength: 200,
        },
      ),
      (strs) => {
        for (const s of strs.concat(strs.slice().reverse())) assertEquals(read(s), s);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("bytes whose table hash collides with a remembered string's still get their own string", async () => {
  const { recentHashOf, recentLookup, recentStore } = await import("./bytes.ts");
  // Birthday searches for two different strings with one hash: 7 bytes (compared as words, the
  // last one partial) and 40 bytes (compared character by character; one varying byte in each
  // of its first seven words, so that each goes through the hash's mixing).
  const spread = (id: string) => [...id].map((ch) => ch + "yyy").join("").padEnd(40, "z");
  for (const shape of [(id: string) => id, spread]) {
    const len = shape("0000000").length;
    const seen = new Map<number, string>();
    const buf = new Uint8Array(len);
    let pair: [string, string] | null = null;
    for (let i = 0; pair === null && i < 2_000_000; i++) {
      const s = shape(`x${i.toString(36).padStart(6, "0")}`);
      for (let j = 0; j < len; j++) buf[j] = s.charCodeAt(j);
      const h = recentHashOf(buf, 0, len);
      const other = seen.get(h);
      if (other !== undefined) pair = [other, s];
      else seen.set(h, s);
    }
    assert(pair !== null, "no hash collision found");
    const read = (s: string) => {
      for (let j = 0; j < len; j++) buf[j] = s.charCodeAt(j);
      return recentLookup(buf, 0, len) ?? recentStore(String.fromCharCode(...buf));
    };
    for (let round = 0; round < 2; round++) {
      assertEquals(read(pair[0]), pair[0]);
      assertEquals(read(pair[0]), pair[0]);
      assertEquals(read(pair[1]), pair[1]);
      assertEquals(read(pair[1]), pair[1]);
    }
  }
});

Deno.test("request parser: commands parsed while a read is in flight leave its bytes in place", () => {
  // A replica's master link: the read for what follows is pending while a command held by
  // CLIENT PAUSE, and what arrived after it, are run. Parsing all of it must not move the
  // buffer's end, where the pending read's bytes land.
  const p = new RequestParser();
  const enc = new TextEncoder();
  const first = enc.encode("*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n*1\r\n$4\r\nPING\r\n");
  p.feed(first);
  const target = p.readTarget();
  deepStrictEqual(p.next(), ["SET", "a", "1"]);
  deepStrictEqual(p.next(), ["PING"]);
  assertEquals(p.next(), null);
  const second = enc.encode("*2\r\n$3\r\nGET\r\n$1\r\nb\r\n");
  target.set(second);
  p.commit(second.length);
  deepStrictEqual(p.next(), ["GET", "b"]);
  assertEquals(p.next(), null);
  // Then reads start at the buffer's start again.
  const t2 = p.readTarget();
  t2.set(enc.encode("*1\r\n$4\r\nPING\r\n"));
  p.commit(14);
  deepStrictEqual(p.next(), ["PING"]);
});
