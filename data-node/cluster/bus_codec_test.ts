import { deepStrictEqual, equal, ok, throws } from "node:assert/strict";
import fc from "fast-check";
import {
  bodyKindOf,
  BusDecodeError,
  BusFrameReader,
  type BusHeader,
  type BusMessage,
  decodeMessage,
  emptySlotBitmap,
  encodeMessage,
  FAIL_BYTES,
  frameLength,
  GOSSIP_ENTRY_BYTES,
  hasSlot,
  HEADER_BYTES,
  MFLAG0,
  MODULE_MIN_BYTES,
  MSG,
  NODE_FLAG,
  PUBLISH_MIN_BYTES,
  setSlot,
  SLOT_BITMAP_BYTES,
  slotsOf,
  UPDATE_BYTES,
} from "./bus_codec.ts";
import { freePort, requireBinary, startRedisServer } from "../../tests/helpers/process.ts";
import { eventually, RawConn } from "../../tests/helpers/raw.ts";

const enc = new TextEncoder();
const A = "a".repeat(40);
const B = "b0".repeat(20);
const C = "0123456789abcdef0123456789abcdef01234567";

function header(type: number, over: Partial<BusHeader> = {}): BusHeader {
  const myslots = emptySlotBitmap();
  for (const s of [0, 1, 7, 8, 16383]) setSlot(myslots, s);
  return {
    type,
    port: 7000,
    pport: 0,
    cport: 17000,
    currentEpoch: 12n,
    configEpoch: 7n,
    offset: 123456789012n,
    sender: A,
    myslots,
    slaveof: null,
    myip: "10.1.2.3",
    flags: NODE_FLAG.MASTER | NODE_FLAG.MYSELF,
    state: "ok",
    mflags: new Uint8Array(3),
    ...over,
  };
}

const gossipEntries = [
  {
    nodename: B,
    pingSent: 1700000000,
    pongReceived: 1700000001,
    ip: "192.168.0.10",
    port: 7001,
    cport: 17001,
    pport: 0,
    flags: NODE_FLAG.SLAVE,
  },
  {
    nodename: C,
    pingSent: 0,
    pongReceived: 0xffffffff,
    ip: "fe80::1234:5678:9abc:def0",
    port: 65535,
    cport: 1,
    pport: 6380,
    flags: NODE_FLAG.MASTER | NODE_FLAG.PFAIL,
  },
];

/** One message of each type, and the frame length each must have. */
function samples(): [string, BusMessage, number][] {
  const slots = emptySlotBitmap();
  setSlot(slots, 5000);
  return [
    [
      "PING with gossip and a hostname",
      {
        header: header(MSG.PING, { mflags: new Uint8Array([MFLAG0.EXT_DATA, 0, 0]) }),
        body: {
          kind: "gossip",
          entries: gossipEntries,
          hostname: "node-1.example",
          extensions: [],
        },
      },
      HEADER_BYTES + 2 * GOSSIP_ENTRY_BYTES + 8 + 16,
    ],
    [
      "PONG of a replica, no gossip",
      {
        header: header(MSG.PONG, { slaveof: B, flags: NODE_FLAG.SLAVE, state: "fail" }),
        body: { kind: "gossip", entries: [], hostname: null, extensions: [] },
      },
      HEADER_BYTES,
    ],
    [
      "MEET with a hostname and an extension of another type",
      {
        header: header(MSG.MEET, { myip: "", mflags: new Uint8Array([MFLAG0.EXT_DATA, 0, 0]) }),
        body: {
          kind: "gossip",
          entries: [gossipEntries[0]!],
          hostname: "1234567", // 7 chars and its NUL: exactly 8 bytes, no padding
          extensions: [{ type: 1, data: enc.encode("0123456789abcdef") }],
        },
      },
      HEADER_BYTES + GOSSIP_ENTRY_BYTES + 16 + 24,
    ],
    ["FAIL", { header: header(MSG.FAIL), body: { kind: "fail", nodename: C } }, FAIL_BYTES],
    [
      "PUBLISH",
      {
        header: header(MSG.PUBLISH),
        body: { kind: "publish", channel: enc.encode("news"), message: enc.encode("hello\0bin") },
      },
      PUBLISH_MIN_BYTES + 4 + 9,
    ],
    [
      "PUBLISHSHARD, empty channel and message",
      {
        header: header(MSG.PUBLISHSHARD),
        body: { kind: "publish", channel: new Uint8Array(0), message: new Uint8Array(0) },
      },
      PUBLISH_MIN_BYTES,
    ],
    [
      "FAILOVER_AUTH_REQUEST with FORCEACK",
      {
        header: header(MSG.FAILOVER_AUTH_REQUEST, {
          mflags: new Uint8Array([MFLAG0.FORCEACK, 0, 0]),
        }),
        body: { kind: "empty" },
      },
      HEADER_BYTES,
    ],
    [
      "FAILOVER_AUTH_ACK",
      { header: header(MSG.FAILOVER_AUTH_ACK), body: { kind: "empty" } },
      HEADER_BYTES,
    ],
    [
      "UPDATE",
      {
        header: header(MSG.UPDATE),
        body: { kind: "update", configEpoch: 0xfedcba9876543210n, nodename: B, slots },
      },
      UPDATE_BYTES,
    ],
    [
      "MFSTART, paused",
      {
        header: header(MSG.MFSTART, { mflags: new Uint8Array([MFLAG0.PAUSED, 0, 0]) }),
        body: { kind: "empty" },
      },
      HEADER_BYTES,
    ],
    [
      "MODULE",
      {
        header: header(MSG.MODULE),
        body: {
          kind: "module",
          moduleId: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]),
          moduleType: 255,
          payload: enc.encode("payload"),
        },
      },
      MODULE_MIN_BYTES + 7,
    ],
    [
      "a type this codec does not know",
      { header: header(200), body: { kind: "unknown", data: enc.encode("future") } },
      HEADER_BYTES + 6,
    ],
  ];
}

Deno.test("every message type round-trips, at the frame length Redis expects", () => {
  for (const [what, m, len] of samples()) {
    const bytes = encodeMessage(m);
    equal(bytes.length, len, what);
    equal(frameLength(bytes), len, what);
    deepStrictEqual(decodeMessage(bytes), m, what);
  }
});

Deno.test("fields sit at the offsets of Redis's clusterMsg, big-endian", () => {
  const [, ping] = samples()[0]!;
  const b = encodeMessage(ping);
  const v = new DataView(b.buffer);
  equal(new TextDecoder().decode(b.subarray(0, 4)), "RCmb");
  equal(v.getUint32(4), b.length);
  equal(v.getUint16(8), 1); // version
  equal(v.getUint16(10), 7000);
  equal(v.getUint16(12), MSG.PING);
  equal(v.getUint16(14), 2); // gossip count
  equal(v.getBigUint64(16), 12n);
  equal(v.getBigUint64(24), 7n);
  equal(v.getBigUint64(32), 123456789012n);
  equal(String.fromCharCode(...b.subarray(40, 80)), A);
  // Slot 0 is bit 0 of byte 0; slot 7 is bit 7; slot 8 is bit 0 of byte 1; 16383 the top bit.
  equal(b[80], 0b1000_0011);
  equal(b[81], 0b0000_0001);
  equal(b[80 + 2047], 0b1000_0000);
  deepStrictEqual([...b.subarray(2128, 2168)], new Array(40).fill(0)); // slaveof: none
  equal(String.fromCharCode(...b.subarray(2168, 2176)), "10.1.2.3");
  equal(b[2176], 0);
  equal(v.getUint16(2214), 1); // extensions
  equal(v.getUint16(2246), 0); // pport
  equal(v.getUint16(2248), 17000);
  equal(v.getUint16(2250), NODE_FLAG.MASTER | NODE_FLAG.MYSELF);
  equal(b[2252], 0); // state ok
  equal(b[2253], MFLAG0.EXT_DATA);
  // The first gossip entry.
  const g = 2256;
  equal(String.fromCharCode(...b.subarray(g, g + 40)), B);
  equal(v.getUint32(g + 40), 1700000000);
  equal(v.getUint32(g + 44), 1700000001);
  equal(String.fromCharCode(...b.subarray(g + 48, g + 60)), "192.168.0.10");
  equal(v.getUint16(g + 94), 7001);
  equal(v.getUint16(g + 96), 17001);
  equal(v.getUint16(g + 98), NODE_FLAG.SLAVE);
  equal(v.getUint16(g + 100), 0);
  // The hostname extension: length (header included) u32, type u16, unused u16, data.
  const e = 2256 + 2 * 104;
  equal(v.getUint32(e), 24);
  equal(v.getUint16(e + 4), 0);
  equal(v.getUint16(e + 6), 0);
  equal(String.fromCharCode(...b.subarray(e + 8, e + 22)), "node-1.example");
  deepStrictEqual([...b.subarray(e + 22)], [0, 0]);
});

Deno.test("the encoder sets EXT_DATA exactly when a gossip message has extensions", () => {
  const m: BusMessage = {
    header: header(MSG.PING, { mflags: new Uint8Array([MFLAG0.EXT_DATA | MFLAG0.PAUSED, 9, 9]) }),
    body: { kind: "gossip", entries: [], hostname: null, extensions: [] },
  };
  deepStrictEqual([...decodeMessage(encodeMessage(m)).header.mflags], [MFLAG0.PAUSED, 9, 9]);
  const withHost: BusMessage = { ...m, body: { ...m.body, hostname: "h" } as BusMessage["body"] };
  deepStrictEqual([...decodeMessage(encodeMessage(withHost)).header.mflags], [5, 9, 9]);
});

Deno.test("slot bitmap helpers", () => {
  const bm = emptySlotBitmap();
  equal(bm.length, SLOT_BITMAP_BYTES);
  for (const s of [0, 1, 2, 5000, 16383]) setSlot(bm, s);
  ok(hasSlot(bm, 5000) && !hasSlot(bm, 5001));
  deepStrictEqual(slotsOf(bm), [0, 1, 2, 5000, 16383]);
  equal(bm[5000 >> 3], 1 << (5000 & 7));
  throws(() => setSlot(bm, 16384), RangeError);
  throws(() => hasSlot(bm, -1), RangeError);
});

/** A frame with some bytes patched, totlen left as it is unless given. */
function patched(m: BusMessage, patch: (v: DataView, b: Uint8Array) => void): Uint8Array {
  const b = encodeMessage(m);
  patch(new DataView(b.buffer), b);
  return b;
}

function rejects(b: Uint8Array, pattern: RegExp): void {
  throws(() => decodeMessage(b), (e) => e instanceof BusDecodeError && pattern.test(e.message));
}

Deno.test("malformed messages are rejected with a reason, as clusterProcessPacket does", () => {
  const all = samples();
  const msg = (i: number) => all[i]![1];
  // Version other than 1.
  rejects(patched(msg(3), (v) => v.setUint16(8, 2)), /version 2/);
  // totlen disagreeing with the frame, or under the header.
  rejects(patched(msg(3), (v) => v.setUint32(4, FAIL_BYTES + 1)), /says its length/);
  rejects(encodeMessage(msg(3)).subarray(0, 100), /says its length/);
  rejects(encodeMessage(msg(3)).subarray(0, 5), /truncated/);
  rejects(patched(msg(3), (_v, b) => b[0] = 0x72), /signature/);
  // A FAIL one byte too long (totlen fixed up so that only the type's length check fails).
  const longFail = new Uint8Array(FAIL_BYTES + 1);
  longFail.set(encodeMessage(msg(3)));
  new DataView(longFail.buffer).setUint32(4, longFail.length);
  rejects(longFail, /fail message of 2297 bytes, expected 2296/);
  // Gossip count larger than the frame holds.
  rejects(patched(msg(1), (v) => v.setUint16(14, 1)), /cannot hold 1 gossip entries/);
  // Extension data without the EXT_DATA flag: the frame is longer than the gossip.
  rejects(patched(msg(0), (_v, b) => b[2253] = 0), /ping message of 2488 bytes, expected 2464/);
  // An extension whose length is not a multiple of 8, or runs past the end, or a missing one.
  rejects(patched(msg(0), (v) => v.setUint32(2256 + 208, 20)), /not a multiple of 8/);
  rejects(patched(msg(0), (v) => v.setUint32(2256 + 208, 0)), /not a multiple of 8/);
  rejects(patched(msg(0), (v) => v.setUint32(2256 + 208, 32)), /past the end/);
  rejects(patched(msg(0), (v) => v.setUint16(2214, 2)), /extension 1 of 2 past the end/);
  // PUBLISH lengths that do not add up (including ones that would overflow 32 bits in C).
  rejects(patched(msg(4), (v) => v.setUint32(2256, 5)), /publish message of 2277 bytes/);
  rejects(
    patched(msg(4), (v) => {
      v.setUint32(2256, 0xffffffff);
      v.setUint32(2260, 14);
    }),
    /expected 4294969573/,
  );
  // A PUBLISH too short to hold its two lengths.
  const shortPub = patched(msg(6), (v) => v.setUint16(12, MSG.PUBLISH));
  rejects(shortPub, /publish message of 2256 bytes, expected 2264/);
  rejects(patched(msg(10), (v) => v.setUint32(2264, 8)), /module message of 2276 bytes/);
  rejects(patched(msg(8), (v) => v.setUint16(12, MSG.MFSTART)), /mfstart message of 4352/);
  // An unknown type is accepted whatever its length, as in Redis.
  equal(decodeMessage(patched(msg(7), (v) => v.setUint16(12, 11))).body.kind, "unknown");
});

Deno.test("frameLength needs 8 bytes, checks the signature early and bounds the length", () => {
  const b = encodeMessage(samples()[3]![1]);
  equal(frameLength(b.subarray(0, 0)), null);
  equal(frameLength(b.subarray(0, 7)), null);
  equal(frameLength(b.subarray(0, 8)), FAIL_BYTES);
  throws(() => frameLength(new Uint8Array([0x52, 0x43, 0x58])), BusDecodeError);
  const len = (n: number) => {
    const h = b.slice(0, 8);
    new DataView(h.buffer).setUint32(4, n);
    return h;
  };
  throws(() => frameLength(len(HEADER_BYTES - 1)), /below the header size/);
  throws(() => frameLength(len(0xffffffff)), /over the limit/);
  equal(frameLength(len(100_000), 100_000), 100_000);
  throws(() => frameLength(len(100_001), 100_000), BusDecodeError);
});

Deno.test("BusFrameReader cuts a stream into frames however it is chunked", () => {
  const frames = samples().map(([, m]) => encodeMessage(m));
  const stream = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const f of frames) {
    stream.set(f, at);
    at += f.length;
  }
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 5000 }), { maxLength: 40 }), (cuts) => {
      const r = new BusFrameReader();
      const out: Uint8Array[] = [];
      let pos = 0;
      for (const c of [...cuts, stream.length]) {
        r.push(stream.subarray(pos, Math.min(stream.length, pos + c)));
        pos = Math.min(stream.length, pos + c);
        for (let f = r.next(); f !== null; f = r.next()) out.push(f);
      }
      deepStrictEqual(out, frames);
      equal(r.buffered, 0);
      // Views, decoded before the next push, give the same messages.
      const v = new BusFrameReader();
      const decoded: unknown[] = [];
      pos = 0;
      for (const c of [...cuts, stream.length]) {
        v.push(stream.subarray(pos, Math.min(stream.length, pos + c)));
        pos = Math.min(stream.length, pos + c);
        for (let f = v.nextView(); f !== null; f = v.nextView()) decoded.push(decodeMessage(f));
      }
      deepStrictEqual(decoded, frames.map((f) => decodeMessage(f)));
    }),
    { numRuns: 200 },
  );
  const r = new BusFrameReader();
  r.push(enc.encode("GET / HTTP/1.1\r\n"));
  throws(() => r.next(), BusDecodeError);
});

// --- property tests ---------------------------------------------------------------------------

/** fc.record, with plain objects (fast-check's have no prototype, which deepStrictEqual sees). */
function record<T extends Record<string, unknown>>(
  shape: { [K in keyof T]: fc.Arbitrary<T[K]> },
): fc.Arbitrary<T> {
  return fc.record(shape).map((r) => ({ ...r }) as T);
}

const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const hex = "0123456789abcdef";
const nodeName = fc.array(fc.integer({ min: 0, max: 15 }), { minLength: 40, maxLength: 40 })
  .map((a) => a.map((d) => hex[d]).join(""));
/** A binary string without NUL (IPs and hostnames are C strings on the wire). */
const cstr = (maxLength: number) =>
  fc.array(fc.integer({ min: 1, max: 255 }), { maxLength }).map((a) => String.fromCharCode(...a));
const bytes = (maxLength: number) => fc.uint8Array({ maxLength });
const slots = fc.oneof(
  fc.uint8Array({ minLength: SLOT_BITMAP_BYTES, maxLength: SLOT_BITMAP_BYTES }),
  fc.array(fc.integer({ min: 0, max: 16383 }), { maxLength: 20 }).map((ss) => {
    const bm = emptySlotBitmap();
    for (const s of ss) setSlot(bm, s);
    return bm;
  }),
);

const headerArb = (type: number) =>
  record({
    type: fc.constant(type),
    port: u16,
    pport: u16,
    cport: u16,
    currentEpoch: u64,
    configEpoch: u64,
    offset: u64,
    sender: nodeName,
    myslots: slots,
    slaveof: fc.option(nodeName, { nil: null }),
    myip: cstr(45),
    flags: u16,
    state: fc.constantFrom("ok" as const, "fail" as const),
    mflags: fc.uint8Array({ minLength: 3, maxLength: 3 }),
  });

const gossipEntry = record({
  nodename: nodeName,
  pingSent: u32,
  pongReceived: u32,
  ip: cstr(45),
  port: u16,
  cport: u16,
  pport: u16,
  flags: u16,
});

function bodyArb(type: number): fc.Arbitrary<BusMessage["body"]> {
  switch (bodyKindOf(type)) {
    case "gossip":
      return record({
        kind: fc.constant("gossip" as const),
        entries: fc.array(gossipEntry, { maxLength: 6 }),
        hostname: fc.option(cstr(80), { nil: null }),
        extensions: fc.array(
          record({
            type: fc.integer({ min: 1, max: 0xffff }),
            data: fc.integer({ min: 0, max: 4 }).chain((n) =>
              fc.uint8Array({ minLength: 8 * n, maxLength: 8 * n })
            ),
          }),
          { maxLength: 3 },
        ),
      });
    case "fail":
      return record({ kind: fc.constant("fail" as const), nodename: nodeName });
    case "publish":
      return record({
        kind: fc.constant("publish" as const),
        channel: bytes(40),
        message: bytes(300),
      });
    case "update":
      return record({
        kind: fc.constant("update" as const),
        configEpoch: u64,
        nodename: nodeName,
        slots,
      });
    case "module":
      return record({
        kind: fc.constant("module" as const),
        moduleId: fc.uint8Array({ minLength: 8, maxLength: 8 }),
        moduleType: fc.integer({ min: 0, max: 255 }),
        payload: bytes(300),
      });
    case "empty":
      return fc.constant({ kind: "empty" as const });
    case "unknown":
      return record({ kind: fc.constant("unknown" as const), data: bytes(300) });
  }
}

/** For PING, PONG and MEET the EXT_DATA flag follows the extensions; the encoder sees to it. */
function withExtFlag(m: BusMessage): BusMessage {
  if (m.body.kind !== "gossip") return m;
  const has = m.body.hostname !== null || m.body.extensions.length > 0;
  const mflags = m.header.mflags.slice();
  mflags[0] = has ? mflags[0]! | MFLAG0.EXT_DATA : mflags[0]! & ~MFLAG0.EXT_DATA;
  return { header: { ...m.header, mflags }, body: m.body };
}

const messageArb: fc.Arbitrary<BusMessage> = fc
  .oneof(
    { arbitrary: fc.integer({ min: 0, max: 10 }), weight: 6 },
    { arbitrary: fc.integer({ min: 11, max: 0xffff }), weight: 1 },
  )
  .chain((type) => record({ header: headerArb(type), body: bodyArb(type) }))
  .map(withExtFlag);

Deno.test("property: random valid messages round-trip", () => {
  fc.assert(
    fc.property(messageArb, (m) => {
      const b = encodeMessage(m);
      equal(frameLength(b), b.length);
      deepStrictEqual(decodeMessage(b), m);
    }),
    { numRuns: 400 },
  );
});

/** Offsets worth hitting: lengths, counts, flags, the start of the data. */
const HOT = [
  4,
  5,
  6,
  7,
  8,
  9,
  12,
  13,
  14,
  15,
  2214,
  2215,
  2253,
  2256,
  2257,
  2258,
  2259,
  2260,
  2264,
];

type Mutation =
  | { kind: "set"; at: number; value: number }
  | { kind: "truncate"; at: number }
  | { kind: "append"; extra: Uint8Array };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  record({
    kind: fc.constant("set" as const),
    at: fc.oneof(fc.constantFrom(...HOT), fc.nat()),
    value: fc.integer({ min: 0, max: 255 }),
  }),
  record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  record({ kind: fc.constant("append" as const), extra: bytes(64) }),
);

function mutate(b: Uint8Array, ms: Mutation[], fixLen: boolean) {
  let out = b.slice();
  for (const m of ms) {
    if (m.kind === "set" && out.length > 0) out[m.at % out.length] = m.value;
    if (m.kind === "truncate") out = out.slice(0, m.at % (out.length + 1));
    if (m.kind === "append") {
      const grown = new Uint8Array(out.length + m.extra.length);
      grown.set(out);
      grown.set(m.extra, out.length);
      out = grown;
    }
  }
  if (fixLen && out.length >= 8) new DataView(out.buffer).setUint32(4, out.length);
  return out;
}

/** Clears EXT_DATA where no extension follows, so that a re-encoded message compares equal. */
function normalized(m: BusMessage): BusMessage {
  return withExtFlag(m);
}

Deno.test("property: mutated or truncated frames decode or throw BusDecodeError, nothing else", () => {
  fc.assert(
    fc.property(
      messageArb,
      fc.array(mutation, { minLength: 1, maxLength: 4 }),
      fc.boolean(),
      (m, ms, fixLen) => {
        const b = mutate(encodeMessage(m), ms, fixLen);
        const only = (f: () => unknown) => {
          try {
            return f();
          } catch (e) {
            if (!(e instanceof BusDecodeError)) throw e;
            return e;
          }
        };
        only(() => frameLength(b));
        only(() => {
          const r = new BusFrameReader();
          r.push(b);
          while (r.next() !== null) { /* take every frame */ }
        });
        const got = only(() => decodeMessage(b));
        if (got instanceof BusDecodeError) return;
        // Whatever decodes can be encoded again, to the same message.
        const again = decodeMessage(encodeMessage(got as BusMessage));
        deepStrictEqual(normalized(again), normalized(got as BusMessage));
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("the encoder refuses values that do not fit the format", () => {
  const m = samples()[3]![1];
  const bad = (h: Partial<BusHeader>) => () =>
    encodeMessage({ ...m, header: { ...m.header, ...h } });
  throws(bad({ port: 65536 }), RangeError);
  throws(bad({ sender: "short" }), RangeError);
  throws(bad({ myip: "x".repeat(46) }), RangeError);
  throws(bad({ myslots: new Uint8Array(10) }), RangeError);
  throws(bad({ currentEpoch: -1n }), RangeError);
  throws(bad({ slaveof: "\0".repeat(40) }), RangeError);
  throws(bad({ type: MSG.PING }), /a ping message has a gossip body/);
});

// --- interop with a real redis-server -----------------------------------------------------------

/** One cluster bus connection: frames decoded as they arrive, kept for waitFor(). */
class BusLink {
  readonly received: BusMessage[] = [];
  private readonly reader = new BusFrameReader();
  private readonly done: Promise<void>;
  error: unknown = null;

  constructor(
    readonly conn: Deno.Conn,
    private readonly onMessage: (m: BusMessage, link: BusLink) => Promise<void> = async () => {},
  ) {
    this.done = this.pump();
  }

  private async pump(): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await this.conn.read(buf);
        if (n === null) return;
        this.reader.push(buf.subarray(0, n));
        for (let f = this.reader.next(); f !== null; f = this.reader.next()) {
          const m = decodeMessage(f);
          this.received.push(m);
          await this.onMessage(m, this);
        }
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted)) {
        this.error = e;
      }
    }
  }

  async send(m: BusMessage): Promise<void> {
    const b = encodeMessage(m);
    for (let off = 0; off < b.length;) off += await this.conn.write(b.subarray(off));
  }

  async waitFor(pred: (m: BusMessage) => boolean, what: string): Promise<BusMessage> {
    let found: BusMessage | undefined;
    await eventually(
      () => {
        if (this.error) throw this.error;
        found = this.received.find(pred);
        return found !== undefined;
      },
      what,
      10_000,
    );
    return found!;
  }

  async close(): Promise<void> {
    try {
      this.conn.close();
    } catch { /* closed */ }
    await this.done;
  }
}

/** CLUSTER NODES as records: id, address, flags, slots. */
function clusterNodes(text: string) {
  return text.trim().split("\n").map((line) => {
    const [id, addr, flags, , , , epoch, link, ...slotRanges] = line.split(" ");
    return { id, addr, flags: flags!.split(","), epoch, link, slots: slotRanges };
  });
}

const interopName = "codec talks to a real redis-server 7.0 over the cluster bus";
Deno.test({
  name: interopName,
  ignore: !requireBinary("redis-server", interopName),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using redis = await startRedisServer([
      "--cluster-enabled",
      "yes",
      "--cluster-config-file",
      "nodes.conf",
      "--cluster-announce-hostname",
      "redis-a.example",
    ]);
    const cmd = await RawConn.connect(redis.port);
    const listener = Deno.listen({ hostname: "127.0.0.1", port: await freePort() });
    const ourCport = (listener.addr as Deno.NetAddr).port;
    const ourPort = await freePort(); // announced only: the bus is what the real node uses
    const ourName = "feedc0de".repeat(5);
    const links: BusLink[] = [];
    try {
      equal(await cmd.call("CLUSTER", "ADDSLOTS", "0", "1", "2", "5000"), "OK");
      equal(await cmd.call("CLUSTER", "SET-CONFIG-EPOCH", "5"), "OK");
      const realId = await cmd.call("CLUSTER", "MYID") as string;
      const info = await cmd.call("CLUSTER", "INFO") as string;
      const infoField = (k: string) => new RegExp(`^${k}:(.*)\r?$`, "m").exec(info)?.[1];

      const ours = (type: number, over: Partial<BusHeader> = {}): BusHeader => ({
        type,
        port: ourPort,
        pport: 0,
        cport: ourCport,
        currentEpoch: 5n,
        configEpoch: 1n,
        offset: 0n,
        sender: ourName,
        myslots: emptySlotBitmap(),
        slaveof: null,
        myip: "127.0.0.1",
        flags: NODE_FLAG.MASTER | NODE_FLAG.MYSELF,
        state: "fail",
        mflags: new Uint8Array(3),
        ...over,
      });
      const pong = (): BusMessage => ({
        header: ours(MSG.PONG),
        body: { kind: "gossip", entries: [], hostname: "ours.example", extensions: [] },
      });

      // 1. MEET on a connection to the real node's bus port. Redis answers a packet only once
      // its length checks pass, so gossip entries and a hostname extension ride along too.
      const out = new BusLink(
        await Deno.connect({ hostname: "127.0.0.1", port: redis.port + 1e4 }),
      );
      links.push(out);
      await out.send({
        header: ours(MSG.MEET),
        body: { kind: "gossip", entries: gossipEntries, hostname: "ours.example", extensions: [] },
      });
      const reply = await out.waitFor((m) => m.header.type === MSG.PONG, "a PONG to our MEET");
      const h = reply.header;
      equal(h.sender, realId);
      equal(h.port, redis.port);
      equal(h.cport, redis.port + 10000);
      equal(h.pport, 0);
      equal(h.myip, ""); // no cluster-announce-ip: receivers use the peer address
      deepStrictEqual(slotsOf(h.myslots), [0, 1, 2, 5000]);
      equal(h.slaveof, null);
      equal(h.flags, NODE_FLAG.MASTER | NODE_FLAG.MYSELF); // Redis sends its own flags as they are
      equal(h.currentEpoch, BigInt(infoField("cluster_current_epoch")!));
      equal(h.configEpoch, 5n);
      equal(h.state, infoField("cluster_state") === "ok" ? "ok" : "fail");
      deepStrictEqual(reply.body, {
        kind: "gossip",
        entries: [], // it knows no third node to gossip about
        hostname: "redis-a.example",
        extensions: [],
      });
      equal(h.mflags[0], MFLAG0.EXT_DATA);

      // 2. The real node now connects to the bus address we announced and PINGs; our PONG with
      // our name completes the handshake.
      const accepted = (async () => {
        const conn = await listener.accept();
        const link = new BusLink(conn, async (m, l) => {
          if (m.header.type === MSG.PING) await l.send(pong());
        });
        links.push(link);
        return link;
      })();
      const inbound = await accepted;
      const ping = await inbound.waitFor((m) => m.header.type === MSG.PING, "the real node's PING");
      equal(ping.header.sender, realId);
      deepStrictEqual(slotsOf(ping.header.myslots), [0, 1, 2, 5000]);
      const nodes = async () => clusterNodes(await cmd.call("CLUSTER", "NODES") as string);
      const ourEntry = async () => (await nodes()).find((n) => n.id === ourName);
      await eventually(async () => {
        const n = await ourEntry();
        return n !== undefined && !n.flags.includes("handshake") && n.flags.includes("master");
      }, "our node, by our name, out of handshake");

      // 3. A PING from us, now a known node: claim slot 6000 (unassigned) and 5000 (the real
      // node's, at a higher configEpoch than ours). Redis takes 6000, keeps 5000 and sends us an
      // UPDATE about itself.
      const claim = emptySlotBitmap();
      setSlot(claim, 5000);
      setSlot(claim, 6000);
      await out.send({
        header: ours(MSG.PING, { myslots: claim }),
        body: { kind: "gossip", entries: [], hostname: "ours.example", extensions: [] },
      });
      await eventually(async () => {
        const n = await ourEntry();
        return n?.addr === `127.0.0.1:${ourPort}@${ourCport},ours.example` &&
          n.slots.join(" ") === "6000";
      }, "our address, hostname and slot 6000 in CLUSTER NODES");
      const update = await inbound.waitFor((m) => m.body.kind === "update", "an UPDATE");
      deepStrictEqual(
        update.body.kind === "update" &&
          [update.body.nodename, update.body.configEpoch, slotsOf(update.body.slots)],
        [realId, 5n, [0, 1, 2, 5000]],
      );

      // 4. PUBLISH both ways.
      equal(await cmd.call("PUBLISH", "news", "from redis"), 0);
      const pub = await inbound.waitFor((m) => m.body.kind === "publish", "a PUBLISH");
      equal(pub.header.type, MSG.PUBLISH);
      deepStrictEqual(pub.body, {
        kind: "publish",
        channel: enc.encode("news"),
        message: enc.encode("from redis"),
      });
      const sub = await RawConn.connect(redis.port);
      try {
        deepStrictEqual(await sub.call("SUBSCRIBE", "fromus"), ["subscribe", "fromus", 1]);
        await out.send({
          header: ours(MSG.PUBLISH),
          body: { kind: "publish", channel: enc.encode("fromus"), message: enc.encode("hi") },
        });
        deepStrictEqual(await sub.read(), ["message", "fromus", "hi"]);
      } finally {
        sub.close();
      }

      // 5. FAIL about ourselves: Redis marks us failed.
      await out.send({ header: ours(MSG.FAIL), body: { kind: "fail", nodename: ourName } });
      await eventually(
        async () => (await ourEntry())?.flags.includes("fail") === true,
        "our node flagged fail",
      );
      // Redis logs every packet it drops.
      ok(!/Received (invalid|unknown)|Bad message/.test(redis.output()), redis.output());
      for (const l of links) equal(l.error, null);
    } finally {
      for (const l of links) await l.close();
      listener.close();
      cmd.close();
    }
  },
});
