import { equal } from "node:assert/strict";
import fc from "fast-check";
import { globMatch } from "./glob.ts";

Deno.test("glob matches Redis's pattern syntax", () => {
  const cases: [string, string, boolean][] = [
    ["*", "", false], // Redis: nothing matches an empty subject but an empty pattern
    ["", "", true],
    ["h?llo", "hello", true],
    ["h*llo", "heeeello", true],
    ["h[ae]llo", "hallo", true],
    ["h[ae]llo", "hillo", false],
    ["h[^e]llo", "hallo", true],
    ["h[^e]llo", "hello", false],
    ["h[a-b]llo", "hbllo", true],
    ["h[b-a]llo", "hallo", true],
    ["h\\*llo", "h*llo", true],
    ["h\\*llo", "hello", false],
    ["a*b*c", "aXbYc", true],
    ["a*b*c", "aXbY", false],
    ["*.txt", "x.txt.txt", true],
    ["[abc", "a", true],
  ];
  for (const [p, s, want] of cases) equal(globMatch(p, s), want, `${p} vs ${s}`);
  equal(globMatch("HELLO", "hello", true), true);
  equal(globMatch("a*a*a*a*a*a*a*a*b", "a".repeat(5000)), false);
});

/** A slow reference for patterns over {a, b, *, ?}. */
function ref(p: string, s: string): boolean {
  if (p === "") return s === "";
  if (p[0] === "*") return ref(p.slice(1), s) || (s !== "" && ref(p, s.slice(1)));
  if (s === "") return false;
  return (p[0] === "?" || p[0] === s[0]) && ref(p.slice(1), s.slice(1));
}

Deno.test("glob agrees with a reference matcher on random patterns", () => {
  fc.assert(
    fc.property(
      fc.stringMatching(/^[ab*?]{0,8}$/),
      fc.stringMatching(/^[ab]{0,8}$/),
      (p, s) => globMatch(p, s) === (s === "" ? p === "" : ref(p, s)),
    ),
    { numRuns: 2000 },
  );
});
