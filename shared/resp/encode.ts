/** Whole-value encoding: commands for clients, and any RespValue (tests, proxy pass-through). */
import { RespWriter } from "./writer.ts";
import {
  RespAttribute,
  RespBigNumber,
  RespDouble,
  RespError,
  RespMap,
  RespPush,
  RespSet,
  RespValue,
  RespVerbatim,
  SimpleString,
} from "./types.ts";

/** A command as a RESP array of bulk strings. Strings are binary strings; bytes go as-is. */
export function encodeCommand(args: readonly (string | Uint8Array | number)[]): Uint8Array {
  const w = new RespWriter(64);
  writeCommand(w, args);
  return w.take();
}

export function writeCommand(w: RespWriter, args: readonly (string | Uint8Array | number)[]): void {
  w.array(args.length);
  for (const a of args) {
    if (typeof a === "string") w.bulk(a);
    else if (typeof a === "number") w.bulk(String(a));
    else w.bulkBytes(a);
  }
}

/** Encodes a value with RESP3 types (the writer's proto decides RESP2 downgrades). */
export function writeValue(w: RespWriter, v: RespValue): void {
  if (typeof v === "string") w.bulk(v);
  else if (typeof v === "number" || typeof v === "bigint") w.int(v);
  else if (typeof v === "boolean") w.bool(v);
  else if (v === null) w.proto === 3 ? w.ascii("_\r\n") : w.nullBulk();
  else if (Array.isArray(v)) writeItems(w, v, () => w.array(v.length));
  else if (v instanceof SimpleString) w.simple(v.value);
  else if (v instanceof RespError) writeError(w, v);
  else if (v instanceof RespDouble) w.double(v.value);
  else if (v instanceof RespBigNumber) w.bigNumber(String(v.value));
  else if (v instanceof RespVerbatim) w.verbatim(v.text, v.format);
  else if (v instanceof RespMap) writePairs(w, v.entries, () => w.map(v.entries.length));
  else if (v instanceof RespSet) writeItems(w, v.items, () => w.set(v.items.length));
  else if (v instanceof RespPush) writeItems(w, v.items, () => w.push(v.items.length));
  else if (v instanceof RespAttribute) {
    if (w.proto === 3) writePairs(w, v.attributes, () => w.ascii(`|${v.attributes.length}\r\n`));
    writeValue(w, v.value);
  }
}

function writeError(w: RespWriter, e: RespError): void {
  if (e.blob && w.proto === 3) {
    w.ascii(`!${e.message.length}\r\n${e.message}\r\n`);
  } else {
    w.error(e.message);
  }
}

function writeItems(w: RespWriter, items: RespValue[], head: () => void): void {
  head();
  for (const it of items) writeValue(w, it);
}

function writePairs(w: RespWriter, pairs: [RespValue, RespValue][], head: () => void): void {
  head();
  for (const [k, val] of pairs) {
    writeValue(w, k);
    writeValue(w, val);
  }
}

export function encodeValue(v: RespValue, proto: 2 | 3 = 3): Uint8Array {
  const w = new RespWriter(64);
  w.proto = proto;
  writeValue(w, v);
  return w.take();
}
