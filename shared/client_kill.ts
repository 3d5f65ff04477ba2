/**
 * CLIENT KILL's filter form (`CLIENT KILL <filter> <value> ...`), shared by the data node and the
 * sentinel: every filter given must match (Redis's AND), and SKIPME (default yes) spares the
 * caller. Errors are Redis's texts.
 */

/** What the filters look at in a client. */
export interface KillableClient {
  id: number;
  addr: string;
  laddr: string;
}

export interface KillFilterHost<C> {
  /** The client's type: normal, master, replica or pubsub. */
  typeOf(x: C): string;
  /** A test for clients of the user named, or null when there is no such user. */
  userTest(name: string): ((x: C) => boolean) | null;
}

export type KillFilter<C> = { match: (x: C) => boolean; skipMe: boolean } | { error: string };

/** A client type as CLIENT KILL TYPE and CLIENT LIST TYPE name it (slave = replica). */
export function clientTypeName(t: string): string | null {
  const l = t.toLowerCase();
  if (l === "normal" || l === "pubsub" || l === "master") return l;
  if (l === "replica" || l === "slave") return "replica";
  return null;
}

/** Parses the filter pairs of `argv` from index 2. */
export function parseKillFilters<C extends KillableClient>(
  argv: readonly string[],
  host: KillFilterHost<C>,
): KillFilter<C> {
  const tests: ((x: C) => boolean)[] = [];
  let skipMe = true;
  if ((argv.length - 2) % 2 !== 0) return { error: "ERR syntax error" };
  for (let i = 2; i < argv.length; i += 2) {
    const opt = argv[i]!.toLowerCase(), val = argv[i + 1]!;
    if (opt === "id") {
      const id = /^-?\d+$/.test(val) ? Number(val) : 0;
      if (id <= 0) return { error: "ERR client-id should be greater than 0" };
      tests.push((x) => x.id === id);
    } else if (opt === "type") {
      const t = clientTypeName(val);
      if (!t) return { error: `ERR Unknown client type '${val}'` };
      tests.push((x) => host.typeOf(x) === t);
    } else if (opt === "addr") tests.push((x) => x.addr === val);
    else if (opt === "laddr") tests.push((x) => x.laddr === val);
    else if (opt === "user") {
      const test = host.userTest(val);
      if (!test) return { error: `ERR No such user '${val}'` };
      tests.push(test);
    } else if (opt === "skipme") {
      const v = val.toLowerCase();
      if (v !== "yes" && v !== "no") return { error: "ERR syntax error" };
      skipMe = v === "yes";
    } else return { error: "ERR syntax error" };
  }
  return { match: (x) => tests.every((t) => t(x)), skipMe };
}
