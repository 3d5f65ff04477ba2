/** Generic key commands (the "generic" group): existence, deletion, expiry, iteration. */
import type { Client } from "../server/client.ts";
import type { Server } from "../server/server.ts";
import { cmd } from "./define.ts";
import type { CommandDef } from "./types.ts";

function del(s: Server, c: Client, argv: string[]): void {
  let n = 0;
  for (let i = 1; i < argv.length; i++) {
    if (c.db.lookup(argv[i]!, false) !== undefined && c.db.delete(argv[i]!)) n++;
  }
  s.dirty += n;
  c.out.int(n);
}

function exists(_s: Server, c: Client, argv: string[]): void {
  let n = 0;
  for (let i = 1; i < argv.length; i++) if (c.db.has(argv[i]!)) n++;
  c.out.int(n);
}

const all: [number, number, number] = [1, -1, 1];

export const KEY_COMMANDS: CommandDef[] = [
  cmd("del", -2, "write", all, "generic", del, { summary: "Deletes one or more keys." }),
  cmd("exists", -2, "readonly fast", all, "generic", exists, {
    summary: "Determines whether one or more keys exist.",
    since: "1.0.0",
  }),
];
