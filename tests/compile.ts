/**
 * `deno task compile`: builds the executables into dist/. `deno compile` needs a runtime
 * binary (denort): it uses $DENORT_BIN when set, else downloads one.
 */
export const EXECUTABLES: { name: string; entry: string; v8Flags?: string }[] = [
  // A small young generation: the dataset lives in the old one, and V8's default semi-spaces
  // (tens of MB, committed) would cost more resident memory than a million small keys' worth;
  // gc() exposed for the collection the node runs when it turns idle (data-node/server/idle_gc.ts).
  { name: "data-node", entry: "data-node/main.ts", v8Flags: "--max-semi-space-size=4,--expose-gc" },
  { name: "sentinel", entry: "sentinel/main.ts" },
  { name: "cluster-bus", entry: "cluster-bus/main.ts" },
];

const root = new URL("..", import.meta.url).pathname;

export async function compileAll(outDir = `${root}dist`): Promise<{ ok: boolean; output: string }> {
  let output = "";
  for (const exe of EXECUTABLES) {
    const cmd = new Deno.Command(Deno.execPath(), {
      args: [
        "compile",
        "-A",
        ...(exe.v8Flags ? [`--v8-flags=${exe.v8Flags}`] : []),
        "--output",
        `${outDir}/${exe.name}`,
        `${root}${exe.entry}`,
      ],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    });
    const r = await cmd.output();
    output += new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
    if (!r.success) return { ok: false, output };
  }
  return { ok: true, output };
}

if (import.meta.main) {
  const r = await compileAll();
  console.log(r.output.trim());
  if (!r.ok) {
    console.error(
      "compile failed (deno compile needs $DENORT_BIN or network access to fetch denort)",
    );
    Deno.exit(1);
  }
  console.log(`built: ${EXECUTABLES.map((e) => `dist/${e.name}`).join(", ")}`);
}
