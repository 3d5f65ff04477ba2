/**
 * Conformance cases (see cases.ts for the step format): commands judged against the server's
 * state when they run (a replica link gone stale, CLIENT PAUSE), and function name lookups.
 * Every case leaves the server as it found it.
 */
import type { Case } from "./cases.ts";
import { c } from "./cases.ts";

export const CASES_SERVER_STATE: Case[] = [
  {
    name: "function names are found whatever their case; library names are exact",
    steps: [
      c("FUNCTION", "FLUSH"),
      c(
        "FUNCTION",
        "LOAD",
        "#!lua name=lib1\nredis.register_function('test', function() return 1 end)",
      ),
      c("FCALL", "TEST", "0"),
      c("FCALL", "Test", "0"),
      c("FCALL_RO", "TEST", "0"),
      // Another library may not take the name in another case.
      c(
        "FUNCTION",
        "LOAD",
        "#!lua name=lib2\nredis.register_function('TEST', function() return 2 end)",
      ),
      c("FUNCTION", "LIST", "LIBRARYNAME", "LIB1"),
      c("FUNCTION", "DELETE", "LIB1"),
      c(
        "FUNCTION",
        "LOAD",
        "REPLACE",
        "#!LUA name=lib1\nredis.register_function('TEST', function() return 4 end)",
      ),
      c("FCALL", "test", "0"),
      c("FUNCTION", "DELETE", "lib1"),
      c("FCALL", "test", "0"),
    ],
  },
];
