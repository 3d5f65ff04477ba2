import { equal } from "node:assert/strict";
import { ctime, logTime } from "./clock.ts";

Deno.test("ctime: C's layout, space-padded day, local time", () => {
  equal(ctime(new Date(2026, 11, 6, 3, 4, 5).getTime()), "Sun Dec  6 03:04:05 2026");
  equal(ctime(new Date(2027, 0, 31, 23, 59, 9).getTime()), "Sun Jan 31 23:59:09 2027");
});

Deno.test("logTime: Redis's log line time, local, to the millisecond", () => {
  equal(logTime(new Date(2026, 11, 6, 3, 4, 5, 7).getTime()), "06 Dec 2026 03:04:05.007");
  equal(logTime(new Date(2027, 0, 31, 23, 59, 59, 999).getTime()), "31 Jan 2027 23:59:59.999");
});
