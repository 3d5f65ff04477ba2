/** HRANDFIELD / SRANDMEMBER / ZRANDMEMBER with a count: Redis's distinct vs repeating rules. */
import type { ClientState } from "../engine/types.ts";

/**
 * count > 0: up to count distinct elements; count < 0: |count| elements, repeats allowed.
 * With `writeValue`, RESP3 gets [element, value] pairs and RESP2 a flat list, as Redis replies.
 */
export function randomCountReply(
  c: ClientState,
  items: string[],
  count: number,
  writeValue: ((item: string) => void) | null,
): void {
  if (count === 0 || items.length === 0) return c.out.array(0);
  let picked: string[];
  if (count < 0) {
    if (-count > 2 ** 32) return c.error("ERR value is out of range");
    return repeatedPicks(c, items, -count, writeValue);
  } else if (count >= items.length) {
    picked = items;
  } else {
    const copy = items.slice();
    for (let i = 0; i < count; i++) {
      const j = i + Math.floor(Math.random() * (copy.length - i));
      [copy[i], copy[j]] = [copy[j]!, copy[i]!];
    }
    picked = copy.slice(0, count);
  }
  if (!writeValue) {
    c.out.array(picked.length);
    for (const p of picked) c.out.bulk(p);
    return;
  }
  if (c.proto === 3) {
    c.out.array(picked.length);
    for (const p of picked) {
      c.out.array(2);
      c.out.bulk(p);
      writeValue(p);
    }
  } else {
    c.out.array(picked.length * 2);
    for (const p of picked) {
      c.out.bulk(p);
      writeValue(p);
    }
  }
}

/** Output checks while a long reply is written: every this many elements. */
const CHECK_EVERY = 1024;

/**
 * A negative count: `n` picks that may repeat, written as they are drawn. A client whose output
 * goes over its limit is closed meanwhile, and the loop stops there, as Redis stops a reply
 * that can no longer be delivered (a huge count must not build the whole reply first).
 */
function repeatedPicks(
  c: ClientState,
  items: string[],
  n: number,
  writeValue: ((item: string) => void) | null,
): void {
  const pick = () => items[Math.floor(Math.random() * items.length)]!;
  const pairs = writeValue !== null && c.proto === 3;
  c.out.array(writeValue !== null && !pairs ? n * 2 : n);
  for (let i = 0; i < n; i++) {
    if (i % CHECK_EVERY === CHECK_EVERY - 1 && !c.checkOutput()) return;
    const p = pick();
    if (pairs) c.out.array(2);
    c.out.bulk(p);
    writeValue?.(p);
  }
}
