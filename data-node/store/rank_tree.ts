/**
 * A counted B+tree of (score, member) entries in Redis's sorted-set order: by score, then by
 * member bytes (binary strings compare by char code, which is byte order). It answers what a
 * skiplist with spans answers (insert, delete, rank, the entry at a rank, the first entry that
 * meets a monotone condition) in O(log n), with fewer memory reads per step: a node keeps its
 * entries' scores and members in two arrays (scores unboxed), and an inner node keeps each
 * child's entry count and last entry, so a descent reads a few contiguous arrays per level
 * instead of one scattered node per comparison. Leaves are linked both ways for walks.
 *
 * Nodes hold at most `cap` entries (children). A full node splits in half, or, at either end of
 * the tree, sheds only the position that grew, so that entries added in order fill their nodes.
 * A node that falls under a quarter of `cap` merges with a neighbour when both fit in one.
 */

export class Leaf {
  readonly s: number[] = [];
  readonly m: string[] = [];
  next: Leaf | null = null;
  prev: Leaf | null = null;
}

class Inner {
  readonly kids: (Leaf | Inner)[] = [];
  /** Entries under each child. */
  readonly cnt: number[] = [];
  /** Each child's last entry: its score and member. */
  readonly ls: number[] = [];
  readonly lm: string[] = [];
  total = 0;
}

type TreeNode = Leaf | Inner;

function countOf(n: TreeNode): number {
  return n instanceof Leaf ? n.m.length : n.total;
}

/** (s1, m1) < (s2, m2) in sorted-set order. */
function before(s1: number, m1: string, s2: number, m2: string): boolean {
  return s1 < s2 || (s1 === s2 && m1 < m2);
}

/** A position in the tree: a leaf and an index in it. Moves along the leaf chain. */
export class Cursor {
  constructor(public leaf: Leaf, public i: number) {}
  get member(): string {
    return this.leaf.m[this.i]!;
  }
  get score(): number {
    return this.leaf.s[this.i]!;
  }
  /** To the next entry; false (and unchanged) at the end. */
  next(): boolean {
    if (this.i + 1 < this.leaf.m.length) {
      this.i++;
      return true;
    }
    const n = this.leaf.next;
    if (!n) return false;
    this.leaf = n;
    this.i = 0;
    return true;
  }
  /** To the previous entry; false (and unchanged) at the start. */
  prev(): boolean {
    if (this.i > 0) {
      this.i--;
      return true;
    }
    const p = this.leaf.prev;
    if (!p) return false;
    this.leaf = p;
    this.i = p.m.length - 1;
    return true;
  }
}

/** A monotone condition over entries: false for a prefix of the order, then true. */
export type EntryTest = (score: number, member: string) => boolean;

export class RankTree {
  private root: TreeNode = new Leaf();
  private readonly min: number;
  /** The first and last leaf. */
  private head: Leaf;
  private tail: Leaf;
  /** The members next to the entry that the last insert added or the last delete removed. */
  before: string | null = null;
  after: string | null = null;

  constructor(private readonly cap = 64) {
    if (cap < 4) throw new Error("RankTree capacity must be at least 4");
    this.min = cap >> 2;
    this.head = this.tail = this.root as Leaf;
  }

  get size(): number {
    return countOf(this.root);
  }

  /** Adds an entry that is not in the tree. */
  insert(score: number, member: string): void {
    const split = this.insertIn(this.root, score, member, true, true);
    if (split) {
      const r = new Inner();
      this.adopt(r, 0, this.root);
      this.adopt(r, 1, split);
      this.root = r;
    }
  }

  /** Removes an entry; false if it is not in the tree. */
  delete(score: number, member: string): boolean {
    if (!this.deleteIn(this.root, score, member)) return false;
    const r = this.root;
    if (r instanceof Inner && r.kids.length === 1) this.root = r.kids[0]!;
    return true;
  }

  /** How many entries come before (score, member): its rank when it is in the tree. */
  rankOf(score: number, member: string): number {
    let n = this.root, r = 0;
    while (n instanceof Inner) {
      const i = this.childFor(n, score, member);
      for (let j = 0; j < i; j++) r += n.cnt[j]!;
      n = n.kids[i]!;
    }
    return r + lowerBound(n, score, member);
  }

  /** A cursor at a 0-based rank, or null out of range. */
  at(rank: number): Cursor | null {
    if (rank < 0 || rank >= this.size) return null;
    let n = this.root;
    while (n instanceof Inner) {
      let i = 0;
      while (rank >= n.cnt[i]!) rank -= n.cnt[i++]!;
      n = n.kids[i]!;
    }
    return new Cursor(n, rank);
  }

  /** The rank of the first entry that passes `test` (monotone), or size when none does. */
  firstWhere(test: EntryTest): number {
    let n = this.root, r = 0;
    while (n instanceof Inner) {
      let lo = 0, hi = n.kids.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (test(n.ls[mid]!, n.lm[mid]!)) hi = mid;
        else lo = mid + 1;
      }
      if (lo === n.kids.length) return n.total + r;
      for (let j = 0; j < lo; j++) r += n.cnt[j]!;
      n = n.kids[lo]!;
    }
    let lo = 0, hi = n.m.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (test(n.s[mid]!, n.m[mid]!)) hi = mid;
      else lo = mid + 1;
    }
    return r + lo;
  }

  first(): Cursor | null {
    return this.head.m.length ? new Cursor(this.head, 0) : null;
  }

  last(): Cursor | null {
    const t = this.tail;
    return t.m.length ? new Cursor(t, t.m.length - 1) : null;
  }

  /** Every entry in order, as [member, score]. */
  *entries(): IterableIterator<[string, number]> {
    for (let l: Leaf | null = this.head; l; l = l.next) {
      for (let i = 0; i < l.m.length; i++) yield [l.m[i]!, l.s[i]!];
    }
  }

  /** The child of n whose range holds (score, member): the first whose last entry is not below. */
  private childFor(n: Inner, score: number, member: string): number {
    let lo = 0, hi = n.kids.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (before(n.ls[mid]!, n.lm[mid]!, score, member)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Puts child c at index i of p, with its count and last entry. */
  private adopt(p: Inner, i: number, c: TreeNode): void {
    const k = countOf(c);
    p.kids.splice(i, 0, c);
    p.cnt.splice(i, 0, k);
    p.ls.splice(i, 0, 0);
    p.lm.splice(i, 0, "");
    p.total += k;
    this.refresh(p, i);
  }

  /** Re-reads child i's last entry into p. */
  private refresh(p: Inner, i: number): void {
    const c = p.kids[i]!;
    if (c instanceof Leaf) {
      const j = c.m.length - 1;
      p.ls[i] = c.s[j]!;
      p.lm[i] = c.m[j]!;
    } else {
      const j = c.kids.length - 1;
      p.ls[i] = c.ls[j]!;
      p.lm[i] = c.lm[j]!;
    }
  }

  /**
   * Inserts under n; returns the new right sibling when n splits. A node splits in half, except
   * at the tree's ends: entries arriving in order (ascending scores, a common pattern, or
   * descending) would leave every node half full, so a node overflowing at the tree's first or
   * last position gives up only that position (`leftmost` and `rightmost` say whether n is
   * first or last on its level).
   */
  private insertIn(
    n: TreeNode,
    score: number,
    member: string,
    leftmost: boolean,
    rightmost: boolean,
  ): TreeNode | null {
    if (n instanceof Leaf) {
      const at = lowerBound(n, score, member);
      this.before = at > 0 ? n.m[at - 1]! : n.prev ? n.prev.m[n.prev.m.length - 1]! : null;
      this.after = at < n.m.length ? n.m[at]! : n.next ? n.next.m[0]! : null;
      insertAt(n.s, at, score);
      insertAt(n.m, at, member);
      const len = n.m.length;
      if (len <= this.cap) return null;
      return this.splitLeaf(n, splitPoint(len, at, leftmost, rightmost));
    }
    const i = this.childFor(n, score, member);
    const c = n.kids[i]!;
    const last = n.kids.length - 1;
    const split = this.insertIn(c, score, member, leftmost && i === 0, rightmost && i === last);
    n.total++;
    if (split) {
      n.cnt[i] = countOf(c);
      this.refresh(n, i);
      this.adopt(n, i + 1, split);
      n.total -= countOf(split); // adopt counted the split's entries again
      const len = n.kids.length;
      if (len <= this.cap) return null;
      // The position that grew: the new child (at the end) or the one that kept the first place.
      const at = i + 1 === len - 1 ? len - 1 : i;
      return this.splitInner(n, splitPoint(len, at, leftmost, rightmost));
    }
    n.cnt[i]!++;
    // Only past the last child's last entry can an insert change a child's last entry.
    if (before(n.ls[i]!, n.lm[i]!, score, member)) this.refresh(n, i);
    return null;
  }

  /** Moves l's entries from index h on into a new leaf after it. */
  private splitLeaf(l: Leaf, h: number): Leaf {
    const r = new Leaf();
    r.s.push(...l.s.splice(h));
    r.m.push(...l.m.splice(h));
    r.next = l.next;
    r.prev = l;
    if (l.next) l.next.prev = r;
    else this.tail = r;
    l.next = r;
    return r;
  }

  /** Moves n's children from index h on into a new node after it. */
  private splitInner(n: Inner, h: number): Inner {
    const r = new Inner();
    r.kids.push(...n.kids.splice(h));
    r.cnt.push(...n.cnt.splice(h));
    r.ls.push(...n.ls.splice(h));
    r.lm.push(...n.lm.splice(h));
    let moved = 0;
    for (const k of r.cnt) moved += k;
    r.total = moved;
    n.total -= moved;
    return r;
  }

  private deleteIn(n: TreeNode, score: number, member: string): boolean {
    if (n instanceof Leaf) {
      const at = lowerBound(n, score, member);
      if (at >= n.m.length || n.m[at] !== member || n.s[at] !== score) return false;
      this.before = at > 0 ? n.m[at - 1]! : n.prev ? n.prev.m[n.prev.m.length - 1]! : null;
      this.after = at + 1 < n.m.length ? n.m[at + 1]! : n.next ? n.next.m[0]! : null;
      removeAt(n.s, at);
      removeAt(n.m, at);
      return true;
    }
    const i = this.childFor(n, score, member);
    const c = n.kids[i]!;
    if (!this.deleteIn(c, score, member)) return false;
    n.total--;
    n.cnt[i]!--;
    if (countOf(c) === 0) this.drop(n, i);
    else {
      this.refresh(n, i);
      if ((c instanceof Leaf ? c.m.length : c.kids.length) < this.min) this.mergeAround(n, i);
    }
    return true;
  }

  /** Removes child i of p (empty or merged away), unlinking a leaf from the chain. */
  private drop(p: Inner, i: number): void {
    const c = p.kids[i]!;
    if (c instanceof Leaf) {
      if (c.prev) c.prev.next = c.next;
      else if (c.next) this.head = c.next;
      if (c.next) c.next.prev = c.prev;
      else if (c.prev) this.tail = c.prev;
    }
    p.total -= p.cnt[i]!;
    p.kids.splice(i, 1);
    p.cnt.splice(i, 1);
    p.ls.splice(i, 1);
    p.lm.splice(i, 1);
  }

  /** Merges child i of p into a neighbour, or a neighbour into it, when both fit in one node. */
  private mergeAround(p: Inner, i: number): void {
    const c = p.kids[i]!;
    const width = (x: TreeNode) => x instanceof Leaf ? x.m.length : x.kids.length;
    let left: number;
    if (i > 0 && width(p.kids[i - 1]!) + width(c) <= this.cap) left = i - 1;
    else if (i + 1 < p.kids.length && width(p.kids[i + 1]!) + width(c) <= this.cap) left = i;
    else return;
    const a = p.kids[left]!, b = p.kids[left + 1]!;
    if (a instanceof Leaf) {
      const bl = b as Leaf;
      a.s.push(...bl.s);
      a.m.push(...bl.m);
    } else {
      const bi = b as Inner;
      a.kids.push(...bi.kids);
      a.cnt.push(...bi.cnt);
      a.ls.push(...bi.ls);
      a.lm.push(...bi.lm);
      a.total += bi.total;
    }
    const moved = p.cnt[left + 1]!;
    p.cnt[left]! += moved;
    this.drop(p, left + 1);
    p.total += moved; // drop() took the moved entries off the total; they are still here
    this.refresh(p, left);
  }
}

/**
 * Where an overflowing node of `len` entries splits, `at` being the position just filled: off
 * the end that grew when the node is the tree's first or last, else in half.
 */
function splitPoint(len: number, at: number, leftmost: boolean, rightmost: boolean): number {
  if (rightmost && at === len - 1) return len - 1;
  if (leftmost && at === 0) return 1;
  return len >> 1;
}

/** Array splice without the array of removed items it allocates: inserts v at index i. */
function insertAt<T>(a: T[], i: number, v: T): void {
  let j = a.length;
  a.push(v);
  for (; j > i; j--) a[j] = a[j - 1]!;
  a[i] = v;
}

/** Removes the item at index i (see insertAt). */
function removeAt<T>(a: T[], i: number): void {
  const n = a.length - 1;
  for (let j = i; j < n; j++) a[j] = a[j + 1]!;
  a.pop();
}

/** The index of the first entry of a leaf not below (score, member). */
function lowerBound(l: Leaf, score: number, member: string): number {
  let lo = 0, hi = l.m.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (before(l.s[mid]!, l.m[mid]!, score, member)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
