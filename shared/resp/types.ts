/**
 * RESP value model shared by the decoder, encoder and client.
 *
 * Bulk strings are "binary strings": JS strings with one char per byte (latin1, codes 0..255).
 * That keeps keys and values binary-safe while costing a fraction of a Uint8Array per value
 * (see ARCHITECTURE.md). Simple strings, errors and the rarer RESP3 types are tagged classes so
 * that a value decodes and re-encodes to the same bytes.
 */

/** A RESP simple string (`+OK`). */
export class SimpleString {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/** A RESP error reply (`-ERR ...` or RESP3 blob error `!`). Not thrown by the decoder. */
export class RespError {
  constructor(readonly message: string, readonly blob = false) {}
  /** The error code: the first word, e.g. `ERR`, `WRONGTYPE`, `MOVED`. */
  get code(): string {
    const i = this.message.indexOf(" ");
    return i < 0 ? this.message : this.message.slice(0, i);
  }
  toString(): string {
    return this.message;
  }
}

/** RESP3 double (`,`). */
export class RespDouble {
  constructor(readonly value: number) {}
}

/** RESP3 big number (`(`). */
export class RespBigNumber {
  constructor(readonly value: bigint) {}
}

/** RESP3 verbatim string (`=`), e.g. format `txt`. */
export class RespVerbatim {
  constructor(readonly format: string, readonly text: string) {}
}

/** RESP3 map (`%`): ordered key/value pairs (keys may be any value). */
export class RespMap {
  constructor(readonly entries: [RespValue, RespValue][]) {}
  get(key: string): RespValue | undefined {
    for (const [k, v] of this.entries) {
      if (k === key || (k instanceof SimpleString && k.value === key)) return v;
    }
    return undefined;
  }
}

/** RESP3 set (`~`). */
export class RespSet {
  constructor(readonly items: RespValue[]) {}
}

/** RESP3 push (`>`): out-of-band data such as pub/sub messages. */
export class RespPush {
  constructor(readonly items: RespValue[]) {}
}

/** RESP3 attribute (`|`) followed by the value it decorates. */
export class RespAttribute {
  constructor(readonly attributes: [RespValue, RespValue][], readonly value: RespValue) {}
}

export type RespValue =
  | string // bulk string (binary string)
  | number // integer
  | bigint // integer outside the safe range
  | boolean // RESP3 boolean
  | null // RESP2 null bulk / null array, RESP3 null
  | RespValue[]
  | SimpleString
  | RespError
  | RespDouble
  | RespBigNumber
  | RespVerbatim
  | RespMap
  | RespSet
  | RespPush
  | RespAttribute;

/** Raised for bytes that are not valid RESP; the message is Redis's text after `ERR `. */
export class ProtocolError extends Error {
  constructor(reason: string) {
    super(`Protocol error: ${reason}`);
  }
}
