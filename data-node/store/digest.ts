/**
 * DEBUG DIGEST / DIGEST-VALUE: Redis's dataset signature, so that two servers (ours or
 * redis-server) holding the same data report the same 40 hex digits.
 *
 * The scheme, with H = SHA1 and 20-byte digests:
 * - xor(d, data):  d ^= H(data)                  (order-free: sets, hash fields, keys)
 * - mix(d, data):  d = H(d ^ H(data))           (order-sensitive: list elements)
 * - a value's digest starts with mix(type id as 4 big-endian bytes); a string mixes its
 *   bytes, a list mixes each element, a set xors each member, a sorted set and a hash xor one
 *   sub-digest per member/field (mix member then score as %.17g; mix field then value); a key
 *   with a TTL xors the text "!!expire!!".
 * - the dataset digest mixes each non-empty db's index (4 big-endian bytes), then xors, per
 *   key, H of (mix(key) followed by the value's digest).
 */
import type { Database } from "./database.ts";
import { ListValue } from "./list.ts";
import { SetValue } from "./set.ts";
import { ZSetValue } from "./zset.ts";
import { HashValue } from "./hash.ts";
import type { Value } from "./types.ts";
import { ID_MAX, idMs, idSeq, StreamValue } from "./stream.ts";
import { formatG17 } from "../../shared/resp/format.ts";
import { sha1 } from "../../shared/sha1.ts";

type Digest = Uint8Array;

/** One hash's output, xored into a digest at once. */
const h = new Uint8Array(20);

/** Data is bytes or a binary string (values as the keyspace holds them). */
function xorInto(d: Digest, data: Uint8Array | string): void {
  sha1(data, h);
  for (let i = 0; i < 20; i++) d[i]! ^= h[i]!;
}

function mixInto(d: Digest, data: Uint8Array | string): void {
  xorInto(d, data);
  sha1(d, d);
}

function u32be(n: number): string {
  return String.fromCharCode((n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
}

/** Redis's object type ids. */
function typeId(v: Value): number {
  if (typeof v === "string") return 0;
  if (v instanceof ListValue) return 1;
  if (v instanceof SetValue) return 2;
  if (v instanceof ZSetValue) return 3;
  if (v instanceof HashValue) return 4;
  if (v instanceof StreamValue) return 6;
  throw new Error("no digest for this type");
}

/** Adds a value (and its TTL flag) to `d`. */
function xorValue(d: Digest, v: Value, hasExpire: boolean): void {
  mixInto(d, u32be(typeId(v)));
  if (typeof v === "string") {
    mixInto(d, v);
  } else if (v instanceof ListValue) {
    for (const x of v.range()) mixInto(d, x);
  } else if (v instanceof SetValue) {
    v.forEach((m) => xorInto(d, m));
  } else if (v instanceof ZSetValue) {
    for (const [m, score] of v.entries()) {
      const e = new Uint8Array(20);
      mixInto(e, m);
      mixInto(e, formatG17(score));
      xorInto(d, e);
    }
  } else if (v instanceof HashValue) {
    v.forEach((f, x) => {
      const e = new Uint8Array(20);
      mixInto(e, f);
      mixInto(e, x);
      xorInto(d, e);
    });
  } else if (v instanceof StreamValue) {
    // Each entry's ID as "ms.seq", then its fields and values, in order.
    for (const [id, fields] of v.range(0n, ID_MAX, 0)) {
      mixInto(d, `${idMs(id)}.${idSeq(id)}`);
      for (const f of fields) mixInto(d, f);
    }
  }
  if (hasExpire) xorInto(d, "!!expire!!");
}

function hex(d: Digest): string {
  let s = "";
  for (const b of d) s += b.toString(16).padStart(2, "0");
  return s;
}

/** The digest of one key's value (40 zeros when the key does not exist). */
export function valueDigest(db: Database, key: string): string {
  const d = new Uint8Array(20);
  const e = db.peek(key);
  if (e) xorValue(d, e.value, db.expires.has(key));
  return hex(d);
}

/** The digest of the whole dataset (40 zeros when it is empty). */
export function datasetDigest(dbs: readonly Database[]): string {
  const final = new Uint8Array(20);
  for (const db of dbs) {
    if (db.size === 0) continue;
    mixInto(final, u32be(db.id));
    for (const [key, e] of db.entries()) {
      const d = new Uint8Array(20);
      mixInto(d, key);
      xorValue(d, e.value, db.expires.has(key));
      xorInto(final, d);
    }
  }
  return hex(final);
}
