/**
 * Redis Cluster's key space partition: 16384 hash slots, a key's slot being CRC16 (XMODEM:
 * polynomial 0x1021, initial value 0, no reflection, no final xor) of the key modulo 16384. A hash
 * tag makes related keys share a slot: when the key holds a `{`, and a `}` follows it with at
 * least one byte between them, only the bytes between that first `{` and the first `}` after it
 * are hashed. Keys are binary strings (one char per byte, see shared/resp/bytes.ts).
 */

export const CLUSTER_SLOTS = 16384;
const SLOT_MASK = CLUSTER_SLOTS - 1;

/** CRC16-XMODEM of every byte value, so the checksum takes one lookup per byte. */
const TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let b = 0; b < 8; b++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
    t[i] = crc & 0xffff;
  }
  return t;
})();

/** CRC16-XMODEM of the bytes s[start, end) of a binary string. */
export function crc16(s: string, start = 0, end = s.length): number {
  let crc = 0;
  for (let i = start; i < end; i++) {
    crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >>> 8) ^ s.charCodeAt(i)) & 0xff]!;
  }
  return crc;
}

/**
 * The last key hashed and its slot: a command's key is hashed to route the command (cluster
 * mode's redirections) and again by the keyspace that stores it per slot, and pipelines often
 * repeat a key; the second time costs one comparison of the strings (one of the pointers when
 * it is the same string).
 */
let lastKey = "";
let lastSlot = 0;

/** The hash slot of a key, honouring hash tags exactly as Redis's keyHashSlot does. */
export function keyHashSlot(key: string): number {
  if (key === lastKey) return lastSlot;
  let slot: number;
  const open = key.indexOf("{");
  const close = open === -1 ? -1 : key.indexOf("}", open + 1);
  if (close > open + 1) slot = crc16(key, open + 1, close) & SLOT_MASK;
  else slot = crc16(key, 0, key.length) & SLOT_MASK;
  lastKey = key;
  lastSlot = slot;
  return slot;
}
