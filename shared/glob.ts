/**
 * Glob matching with Redis's stringmatchlen semantics: `*`, `?`, `[abc]`, `[^a]`, `[a-z]`
 * (reversed ranges too), `\x` escapes. Subjects are binary strings. Iterative with single-star
 * backtracking, so a pattern like `a*a*a*a*b` cannot blow up the way naive recursion does.
 */

function classMatch(p: string, pi: number, ch: string, nocase: boolean): [boolean, number] {
  // pi points just after '['. Returns [matched, index just after the closing ']'].
  let not = false;
  if (p[pi] === "^") {
    not = true;
    pi++;
  }
  let match = false;
  const c = nocase ? ch.toLowerCase() : ch;
  for (;;) {
    if (pi >= p.length) {
      // Unterminated class: Redis treats the end of the pattern as the end of the class.
      break;
    }
    const pc = p[pi]!;
    if (pc === "\\" && pi + 1 < p.length) {
      pi++;
      if ((nocase ? p[pi]!.toLowerCase() : p[pi]) === c) match = true;
      pi++;
    } else if (pc === "]") {
      pi++;
      break;
    } else if (pi + 2 < p.length && p[pi + 1] === "-") {
      let start = p.charCodeAt(pi), end = p.charCodeAt(pi + 2);
      let code = c.charCodeAt(0);
      if (nocase) {
        start = p[pi]!.toLowerCase().charCodeAt(0);
        end = p[pi + 2]!.toLowerCase().charCodeAt(0);
        code = c.charCodeAt(0);
      }
      if (start > end) [start, end] = [end, start];
      if (code >= start && code <= end) match = true;
      pi += 3;
    } else {
      if ((nocase ? pc.toLowerCase() : pc) === c) match = true;
      pi++;
    }
  }
  return [not ? !match : match, pi];
}

export function globMatch(pattern: string, subject: string, nocase = false): boolean {
  // Redis matches nothing against an empty subject, not even "*" (KEYS * special-cases it).
  if (subject.length === 0) return pattern.length === 0;
  let pi = 0, si = 0;
  let starP = -1, starS = -1;
  const plen = pattern.length, slen = subject.length;
  while (si < slen) {
    if (pi < plen) {
      const pc = pattern[pi]!;
      if (pc === "*") {
        while (pi < plen && pattern[pi] === "*") pi++;
        if (pi === plen) return true;
        starP = pi;
        starS = si;
        continue;
      }
      if (pc === "?") {
        pi++;
        si++;
        continue;
      }
      if (pc === "[") {
        const [ok, next] = classMatch(pattern, pi + 1, subject[si]!, nocase);
        if (ok) {
          pi = next;
          si++;
          continue;
        }
      } else {
        let lit = pc;
        let adv = 1;
        if (pc === "\\" && pi + 1 < plen) {
          lit = pattern[pi + 1]!;
          adv = 2;
        }
        const a = subject[si]!;
        if (nocase ? lit.toLowerCase() === a.toLowerCase() : lit === a) {
          pi += adv;
          si++;
          continue;
        }
      }
    }
    if (starP < 0) return false;
    // Backtrack: let the last '*' absorb one more character.
    pi = starP;
    si = ++starS;
  }
  while (pi < plen && pattern[pi] === "*") pi++;
  return pi === plen;
}
