import { equal } from "node:assert/strict";
import { buildCommandTable } from "../commands/table.ts";
import { lookupCommand } from "./call.ts";

Deno.test("lookupCommand: an empty command name is unknown every time, also on a fresh table", () => {
  const table = buildCommandTable();
  const unknown = "ERR unknown command '', with args beginning with: ";
  equal(lookupCommand(table, [""]), unknown);
  equal(lookupCommand(table, [""]), unknown);
  equal((lookupCommand(table, ["get", "k"]) as { name: string }).name, "get");
  equal((lookupCommand(table, ["get", "k"]) as { name: string }).name, "get");
  equal(lookupCommand(table, [""]), unknown);
  // A lookup in another table never answers from the first one's cache.
  const other = new Map(table);
  other.delete("get");
  equal(
    lookupCommand(other, ["get", "k"]),
    "ERR unknown command 'get', with args beginning with: 'k' ",
  );
});
