/** Conformance cases (see cases.ts for the step format): argument validation and error precedence. */
import type { Case } from "./cases.ts";

export const CASES_ZSETS: Case[] = [];
