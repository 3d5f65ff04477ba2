/** Reading a server's multi-part AOF in tests. */
import { RequestParser } from "../../shared/resp/mod.ts";

/** The files of `dir`'s appendonlydir, sorted by name. */
export function listAof(dir: string): string[] {
  return [...Deno.readDirSync(`${dir}/appendonlydir`)].map((e) => e.name).sort();
}

/** The commands of the incr file, each as its arguments joined by spaces, SELECTs left out. */
export function incrCommands(dir: string): string[] {
  const name = listAof(dir).find((n) => n.endsWith(".incr.aof"));
  if (!name) throw new Error(`no incr file in ${listAof(dir)}`);
  const parser = new RequestParser();
  parser.feed(Deno.readFileSync(`${dir}/appendonlydir/${name}`));
  const out: string[] = [];
  for (let argv = parser.next(); argv !== null; argv = parser.next()) {
    if (argv.length > 0 && argv[0]!.toUpperCase() !== "SELECT") out.push(argv.join(" "));
  }
  return out;
}
