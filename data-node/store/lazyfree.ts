/**
 * Redis's free effort of a value (lazyfreeGetFreeEffort): how many allocations freeing it takes.
 * Redis frees a value in a background thread (and counts it in INFO `lazyfreed_objects`) when
 * UNLINK or another lazy delete meets one whose effort is above LAZYFREE_THRESHOLD. Here memory
 * goes back through the garbage collector either way; the effort decides what INFO counts.
 */
import type { Value } from "./types.ts";
import { SetValue } from "./set.ts";
import { ZSetValue } from "./zset.ts";
import { HashValue } from "./hash.ts";
import { ListValue } from "./list.ts";
import { StreamValue } from "./stream.ts";

export const LAZYFREE_THRESHOLD = 64;

/** Bytes of one quicklist node at the default list-max-listpack-size (-2). */
const QUICKLIST_NODE_BYTES = 8192;

export function freeEffort(v: Value): number {
  if (typeof v === "string") return 1;
  if (v instanceof ListValue) {
    // A quicklist node per 8 KB of elements (one node while held as a single listpack).
    return Math.max(1, Math.ceil(v.memoryUsage() / QUICKLIST_NODE_BYTES));
  }
  if (v instanceof SetValue) return v.encoding() === "hashtable" ? v.size : 1;
  if (v instanceof ZSetValue) return v.encoding() === "skiplist" ? v.size : 1;
  if (v instanceof HashValue) return v.encoding() === "hashtable" ? v.size : 1;
  if (v instanceof StreamValue) {
    // Every node of Redis's radix tree is an allocation: at least one per listpack (how many
    // more depends on how the IDs share prefixes; not counted here). Every group too, with its
    // PEL (the first group's size stands for all, as Redis estimates).
    let effort = v.nodes.length;
    const first = v.groups.values().next();
    if (!first.done) effort += v.groups.size * (1 + first.value.pel.size);
    return effort;
  }
  return 1;
}

/** True when Redis would free the value in the background (a lazy delete counts it). */
export function freedLazily(v: Value): boolean {
  return freeEffort(v) > LAZYFREE_THRESHOLD;
}
