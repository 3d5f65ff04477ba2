import { equal } from "node:assert/strict";
import { compileAll, EXECUTABLES } from "./compile.ts";

/**
 * Compiling needs denort: from $DENORT_BIN or a download. Where neither is available the test
 * says so and is skipped (never silently): the compile task itself is still exercised.
 */
Deno.test("compile task builds every executable and each answers --version", async (t) => {
  const out = await Deno.makeTempDir();
  try {
    const r = await compileAll(out);
    if (
      !r.ok && !Deno.env.get("DENORT_BIN") && /denort|download|dns|network|connect/i.test(r.output)
    ) {
      console.log(
        `SKIP: deno compile cannot obtain denort here (set DENORT_BIN): ${
          r.output.split("\n").find((l) => /error/i.test(l)) ?? r.output.slice(0, 200)
        }`,
      );
      return;
    }
    equal(r.ok, true, r.output);
    for (const exe of EXECUTABLES) {
      await t.step(exe.name, async () => {
        const v = await new Deno.Command(`${out}/${exe.name}`, { args: ["--version"] }).output();
        equal(v.success, true);
      });
    }
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
