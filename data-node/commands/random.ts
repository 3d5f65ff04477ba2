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
    picked = Array.from({ length: -count }, () => items[Math.floor(Math.random() * items.length)]!);
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
