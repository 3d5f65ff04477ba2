/**
 * Key specs and command tips as Redis 7.0's COMMAND INFO reports them: cluster-aware clients
 * and proxies read them to find keys and to route commands, and COMMAND GETKEYSANDFLAGS
 * reports each key's access flags from them.
 *
 * One string per key spec: `<flags> <begin> <find> [#<notes>]`, where
 * - begin is `i<N>` (the keys start at argument N) or `k<WORD>,<S>` (after the keyword WORD,
 *   searched from argument S; a negative S searches backwards from the end);
 *   `u` is unknown (the keys depend on the arguments' contents);
 * - find is `r<L>,<S>,<M>` (a range: last key L relative to the first, -1 = the last argument;
 *   step S; limit M) or `n<I>,<F>,<S>` (a count at argument I after begin, the first key F
 *   after begin, step S).
 */

export const KEY_SPECS: Record<string, string[]> = {
  eval: [
    "RW access update i2 n0,1,1 #We cannot tell how the keys will be used so we assume the worst, RW and UPDATE",
  ],
  evalsha: ["RW access update i2 n0,1,1"],
  eval_ro: [
    "RO access i2 n0,1,1 #We cannot tell how the keys will be used so we assume the worst, RO and ACCESS",
  ],
  evalsha_ro: ["RO access i2 n0,1,1"],
  fcall: [
    "RW access update i2 n0,1,1 #We cannot tell how the keys will be used so we assume the worst, RW and UPDATE",
  ],
  fcall_ro: [
    "RO access i2 n0,1,1 #We cannot tell how the keys will be used so we assume the worst, RO and ACCESS",
  ],
  watch: ["RO i1 r-1,1,0"],
  ssubscribe: ["not_key i1 r-1,1,0"],
  sunsubscribe: ["not_key i1 r-1,1,0"],
  spublish: ["not_key i1 r0,1,0"],
  migrate: ["RW access delete i3 r0,1,0", "RW access delete incomplete kKEYS,-2 r-1,1,0"],
  "restore-asking": ["OW update i1 r0,1,0"],
  "memory|usage": ["RO i2 r0,1,0"],
  get: ["RO access i1 r0,1,0"],
  set: [
    "RW access update variable_flags i1 r0,1,0 #RW and ACCESS due to the optional `GET` argument",
  ],
  setnx: ["OW insert i1 r0,1,0"],
  setex: ["OW update i1 r0,1,0"],
  psetex: ["OW update i1 r0,1,0"],
  getset: ["RW access update i1 r0,1,0"],
  getdel: ["RW access delete i1 r0,1,0"],
  getex: ["RW access update i1 r0,1,0 #RW and UPDATE because it changes the TTL"],
  mget: ["RO access i1 r-1,1,0"],
  mset: ["OW update i1 r-1,2,0"],
  msetnx: ["OW insert i1 r-1,2,0"],
  append: ["RW insert i1 r0,1,0"],
  strlen: ["RO i1 r0,1,0"],
  incr: ["RW access update i1 r0,1,0"],
  decr: ["RW access update i1 r0,1,0"],
  incrby: ["RW access update i1 r0,1,0"],
  decrby: ["RW access update i1 r0,1,0"],
  incrbyfloat: ["RW access update i1 r0,1,0"],
  getrange: ["RO access i1 r0,1,0"],
  substr: ["RO access i1 r0,1,0"],
  setrange: ["RW update i1 r0,1,0"],
  lcs: ["RO access i1 r1,1,0"],
  del: ["RM delete i1 r-1,1,0"],
  unlink: ["RM delete i1 r-1,1,0"],
  exists: ["RO i1 r-1,1,0"],
  type: ["RO i1 r0,1,0"],
  expire: ["RW update i1 r0,1,0"],
  pexpire: ["RW update i1 r0,1,0"],
  expireat: ["RW update i1 r0,1,0"],
  pexpireat: ["RW update i1 r0,1,0"],
  ttl: ["RO access i1 r0,1,0"],
  pttl: ["RO access i1 r0,1,0"],
  expiretime: ["RO access i1 r0,1,0"],
  pexpiretime: ["RO access i1 r0,1,0"],
  persist: ["RW update i1 r0,1,0"],
  rename: ["RW access delete i1 r0,1,0", "OW update i2 r0,1,0"],
  renamenx: ["RW access delete i1 r0,1,0", "OW insert i2 r0,1,0"],
  copy: ["RO access i1 r0,1,0", "OW update i2 r0,1,0"],
  move: ["RW access update i1 r0,1,0"],
  touch: ["RO i1 r-1,1,0"],
  "object|idletime": ["RO i2 r0,1,0"],
  "object|encoding": ["RO i2 r0,1,0"],
  "object|freq": ["RO i2 r0,1,0"],
  "object|refcount": ["RO i2 r0,1,0"],
  lpush: ["RW insert i1 r0,1,0"],
  rpush: ["RW insert i1 r0,1,0"],
  lpushx: ["RW insert i1 r0,1,0"],
  rpushx: ["RW insert i1 r0,1,0"],
  lpop: ["RW access delete i1 r0,1,0"],
  rpop: ["RW access delete i1 r0,1,0"],
  lrange: ["RO access i1 r0,1,0"],
  llen: ["RO i1 r0,1,0"],
  lindex: ["RO access i1 r0,1,0"],
  lset: ["RW update i1 r0,1,0"],
  linsert: ["RW insert i1 r0,1,0"],
  lrem: ["RW delete i1 r0,1,0"],
  ltrim: ["RW delete i1 r0,1,0"],
  lpos: ["RO access i1 r0,1,0"],
  lmove: ["RW access delete i1 r0,1,0", "RW insert i2 r0,1,0"],
  rpoplpush: ["RW access delete i1 r0,1,0", "RW insert i2 r0,1,0"],
  lmpop: ["RW access delete i1 n0,1,1"],
  blpop: ["RW access delete i1 r-2,1,0"],
  brpop: ["RW access delete i1 r-2,1,0"],
  blmove: ["RW access delete i1 r0,1,0", "RW insert i2 r0,1,0"],
  brpoplpush: ["RW access delete i1 r0,1,0", "RW insert i2 r0,1,0"],
  blmpop: ["RW access delete i2 n0,1,1"],
  hset: ["RW update i1 r0,1,0"],
  hmset: ["RW update i1 r0,1,0"],
  hsetnx: ["RW insert i1 r0,1,0"],
  hget: ["RO access i1 r0,1,0"],
  hmget: ["RO access i1 r0,1,0"],
  hdel: ["RW delete i1 r0,1,0"],
  hlen: ["RO i1 r0,1,0"],
  hstrlen: ["RO i1 r0,1,0"],
  hexists: ["RO i1 r0,1,0"],
  hkeys: ["RO access i1 r0,1,0"],
  hvals: ["RO access i1 r0,1,0"],
  hgetall: ["RO access i1 r0,1,0"],
  hincrby: ["RW access update i1 r0,1,0"],
  hincrbyfloat: ["RW access update i1 r0,1,0"],
  hrandfield: ["RO access i1 r0,1,0"],
  hscan: ["RO access i1 r0,1,0"],
  sadd: ["RW insert i1 r0,1,0"],
  srem: ["RW delete i1 r0,1,0"],
  sismember: ["RO i1 r0,1,0"],
  smismember: ["RO access i1 r0,1,0"],
  smembers: ["RO access i1 r0,1,0"],
  scard: ["RO i1 r0,1,0"],
  spop: ["RW access delete i1 r0,1,0"],
  srandmember: ["RO access i1 r0,1,0"],
  smove: ["RW access delete i1 r0,1,0", "RW insert i2 r0,1,0"],
  sinter: ["RO access i1 r-1,1,0"],
  sunion: ["RO access i1 r-1,1,0"],
  sdiff: ["RO access i1 r-1,1,0"],
  sinterstore: ["RW update i1 r0,1,0", "RO access i2 r-1,1,0"],
  sunionstore: ["OW update i1 r0,1,0", "RO access i2 r-1,1,0"],
  sdiffstore: ["OW update i1 r0,1,0", "RO access i2 r-1,1,0"],
  sintercard: ["RO access i1 n0,1,1"],
  sscan: ["RO access i1 r0,1,0"],
  zadd: ["RW update i1 r0,1,0"],
  zincrby: ["RW access update i1 r0,1,0"],
  zrem: ["RW delete i1 r0,1,0"],
  zcard: ["RO i1 r0,1,0"],
  zscore: ["RO access i1 r0,1,0"],
  zmscore: ["RO access i1 r0,1,0"],
  zrank: ["RO access i1 r0,1,0"],
  zrevrank: ["RO access i1 r0,1,0"],
  zcount: ["RO access i1 r0,1,0"],
  zlexcount: ["RO access i1 r0,1,0"],
  zrange: ["RO access i1 r0,1,0"],
  pfadd: ["RW insert i1 r0,1,0"],
  pfcount: [
    "RW access i1 r-1,1,0 #RW because it may change the internal representation of the key, and propagate to replicas",
  ],
  pfmerge: ["RW access insert i1 r0,1,0", "RO access i2 r-1,1,0"],
  pfdebug: ["RW access i2 r0,1,0"],
  geoadd: ["RW update i1 r0,1,0"],
  geodist: ["RO access i1 r0,1,0"],
  geohash: ["RO access i1 r0,1,0"],
  geopos: ["RO access i1 r0,1,0"],
  georadius: ["RO access i1 r0,1,0", "OW update kSTORE,6 r0,1,0", "OW update kSTOREDIST,6 r0,1,0"],
  georadius_ro: ["RO access i1 r0,1,0"],
  georadiusbymember: [
    "RO access i1 r0,1,0",
    "OW update kSTORE,5 r0,1,0",
    "OW update kSTOREDIST,5 r0,1,0",
  ],
  georadiusbymember_ro: ["RO access i1 r0,1,0"],
  geosearch: ["RO access i1 r0,1,0"],
  geosearchstore: ["OW update i1 r0,1,0", "RO access i2 r0,1,0"],
  sort: [
    "RO access i1 r0,1,0",
    "RO access u u #For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort",
    "OW update u u #For the optional STORE keyword. It is marked 'unknown' because the keyword can appear anywhere in the argument array",
  ],
  sort_ro: [
    "RO access i1 r0,1,0",
    "RO access u u #For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort",
  ],
  zrangestore: ["OW update i1 r0,1,0", "RO access i2 r0,1,0"],
  zrevrange: ["RO access i1 r0,1,0"],
  zrangebyscore: ["RO access i1 r0,1,0"],
  zrevrangebyscore: ["RO access i1 r0,1,0"],
  zrangebylex: ["RO access i1 r0,1,0"],
  zrevrangebylex: ["RO access i1 r0,1,0"],
  zremrangebyrank: ["RW delete i1 r0,1,0"],
  zremrangebyscore: ["RW delete i1 r0,1,0"],
  zremrangebylex: ["RW delete i1 r0,1,0"],
  zpopmin: ["RW access delete i1 r0,1,0"],
  zpopmax: ["RW access delete i1 r0,1,0"],
  bzpopmin: ["RW access delete i1 r-2,1,0"],
  bzpopmax: ["RW access delete i1 r-2,1,0"],
  zmpop: ["RW access delete i1 n0,1,1"],
  bzmpop: ["RW access delete i2 n0,1,1"],
  zunion: ["RO access i1 n0,1,1"],
  zinter: ["RO access i1 n0,1,1"],
  zdiff: ["RO access i1 n0,1,1"],
  zunionstore: ["OW update i1 r0,1,0", "RO access i2 n0,1,1"],
  zinterstore: ["OW update i1 r0,1,0", "RO access i2 n0,1,1"],
  zdiffstore: ["OW update i1 r0,1,0", "RO access i2 n0,1,1"],
  zintercard: ["RO access i1 n0,1,1"],
  zrandmember: ["RO access i1 r0,1,0"],
  zscan: ["RO access i1 r0,1,0"],
  dump: ["RO access i1 r0,1,0"],
  restore: ["OW update i1 r0,1,0"],
  setbit: ["RW access update i1 r0,1,0"],
  getbit: ["RO access i1 r0,1,0"],
  bitcount: ["RO access i1 r0,1,0"],
  bitpos: ["RO access i1 r0,1,0"],
  bitop: ["OW update i2 r0,1,0", "RO access i3 r-1,1,0"],
  bitfield: [
    "RW access update variable_flags i1 r0,1,0 #This command allows both access and modification of the key",
  ],
  bitfield_ro: ["RO access i1 r0,1,0"],
  xadd: [
    "RW update i1 r0,1,0 #UPDATE instead of INSERT because of the optional trimming feature",
  ],
  xrange: ["RO access i1 r0,1,0"],
  xrevrange: ["RO access i1 r0,1,0"],
  xlen: ["RO i1 r0,1,0"],
  xdel: ["RW delete i1 r0,1,0"],
  xtrim: ["RW delete i1 r0,1,0"],
  xread: ["RO access kSTREAMS,1 r-1,1,2"],
  xreadgroup: ["RO access kSTREAMS,4 r-1,1,2"],
  xsetid: ["RW update i1 r0,1,0"],
  "xgroup|create": ["RW insert i2 r0,1,0"],
  "xgroup|setid": ["RW update i2 r0,1,0"],
  "xgroup|destroy": ["RW delete i2 r0,1,0"],
  "xgroup|createconsumer": ["RW insert i2 r0,1,0"],
  "xgroup|delconsumer": ["RW delete i2 r0,1,0"],
  xack: ["RW update i1 r0,1,0"],
  xpending: ["RO access i1 r0,1,0"],
  xclaim: ["RW update i1 r0,1,0"],
  xautoclaim: ["RW delete i1 r0,1,0"],
  "xinfo|consumers": ["RO access i2 r0,1,0"],
  "xinfo|groups": ["RO access i2 r0,1,0"],
  "xinfo|stream": ["RO access i2 r0,1,0"],
};

/** Tips per command (space separated). */
export const COMMAND_TIPS: Record<string, string> = {
  "script|load": "request_policy:all_nodes response_policy:all_succeeded",
  "script|flush": "request_policy:all_nodes response_policy:all_succeeded",
  "script|kill": "request_policy:all_shards response_policy:one_succeeded",
  "script|exists": "request_policy:all_shards response_policy:agg_logical_and",
  "function|load": "request_policy:all_shards response_policy:all_succeeded",
  "function|list": "nondeterministic_output_order",
  "function|stats": "nondeterministic_output request_policy:all_shards response_policy:special",
  "function|kill": "request_policy:all_shards response_policy:one_succeeded",
  "function|restore": "request_policy:all_shards response_policy:all_succeeded",
  "function|delete": "request_policy:all_shards response_policy:all_succeeded",
  "function|flush": "request_policy:all_shards response_policy:all_succeeded",
  "slowlog|get": "request_policy:all_nodes nondeterministic_output",
  "slowlog|len": "request_policy:all_nodes response_policy:agg_sum nondeterministic_output",
  "slowlog|reset": "request_policy:all_nodes response_policy:all_succeeded",
  "latency|doctor": "nondeterministic_output request_policy:all_nodes response_policy:special",
  "latency|graph": "nondeterministic_output request_policy:all_nodes response_policy:special",
  "latency|histogram": "nondeterministic_output request_policy:all_nodes response_policy:special",
  "latency|history": "nondeterministic_output request_policy:all_nodes response_policy:special",
  "latency|latest": "nondeterministic_output request_policy:all_nodes response_policy:special",
  "latency|reset": "request_policy:all_nodes response_policy:all_succeeded",
  "module|list": "nondeterministic_output_order",
  wait: "request_policy:all_shards response_policy:agg_min",
  "cluster|shards": "nondeterministic_output",
  migrate: "nondeterministic_output",
  xadd: "nondeterministic_output",
  xtrim: "nondeterministic_output",
  xpending: "nondeterministic_output",
  xclaim: "nondeterministic_output",
  xautoclaim: "nondeterministic_output",
  "xinfo|consumers": "nondeterministic_output",
  "cluster|info": "nondeterministic_output",
  "cluster|slots": "nondeterministic_output",
  "cluster|getkeysinslot": "nondeterministic_output",
  "cluster|replicas": "nondeterministic_output",
  "cluster|slaves": "nondeterministic_output",
  "cluster|nodes": "nondeterministic_output",
  "cluster|count-failure-reports": "nondeterministic_output",
  "cluster|bumpepoch": "nondeterministic_output",
  "cluster|links": "nondeterministic_output",
  ping: "request_policy:all_shards response_policy:all_succeeded",
  "client|info": "nondeterministic_output",
  "client|list": "nondeterministic_output",
  info: "nondeterministic_output request_policy:all_shards response_policy:special",
  "config|set": "request_policy:all_nodes response_policy:all_succeeded",
  "memory|purge": "request_policy:all_shards response_policy:all_succeeded",
  "memory|doctor": "nondeterministic_output request_policy:all_shards response_policy:special",
  "memory|stats": "nondeterministic_output request_policy:all_shards response_policy:special",
  "memory|malloc-stats":
    "nondeterministic_output request_policy:all_shards response_policy:special",
  dbsize: "request_policy:all_shards response_policy:agg_sum",
  flushdb: "request_policy:all_shards response_policy:all_succeeded",
  flushall: "request_policy:all_shards response_policy:all_succeeded",
  time: "nondeterministic_output",
  lastsave: "nondeterministic_output",
  mget: "request_policy:multi_shard",
  mset: "request_policy:multi_shard response_policy:all_succeeded",
  msetnx: "request_policy:multi_shard response_policy:agg_min",
  del: "request_policy:multi_shard response_policy:agg_sum",
  unlink: "request_policy:multi_shard response_policy:agg_sum",
  exists: "request_policy:multi_shard response_policy:agg_sum",
  ttl: "nondeterministic_output",
  pttl: "nondeterministic_output",
  keys: "request_policy:all_shards nondeterministic_output_order",
  scan: "nondeterministic_output request_policy:special",
  randomkey: "request_policy:all_shards nondeterministic_output",
  touch: "request_policy:multi_shard response_policy:agg_sum",
  "object|idletime": "nondeterministic_output",
  "object|encoding": "nondeterministic_output",
  "object|freq": "nondeterministic_output",
  "object|refcount": "nondeterministic_output",
  hkeys: "nondeterministic_output_order",
  hvals: "nondeterministic_output_order",
  hgetall: "nondeterministic_output_order",
  hrandfield: "nondeterministic_output",
  hscan: "nondeterministic_output",
  smembers: "nondeterministic_output_order",
  spop: "nondeterministic_output",
  srandmember: "nondeterministic_output",
  sinter: "nondeterministic_output_order",
  sunion: "nondeterministic_output_order",
  sdiff: "nondeterministic_output_order",
  sscan: "nondeterministic_output",
  zrandmember: "nondeterministic_output",
  zscan: "nondeterministic_output",
  dump: "nondeterministic_output",
  command: "nondeterministic_output_order",
  "command|list": "nondeterministic_output_order",
  "command|info": "nondeterministic_output_order",
  "command|docs": "nondeterministic_output_order",
};
export interface KeySpec {
  flags: string[];
  notes?: string;
  begin: { index: number } | { keyword: string; startfrom: number } | { unknown: true };
  find: { lastkey: number; keystep: number; limit: number } | {
    keynumidx: number;
    firstkey: number;
    keystep: number;
  } | { unknown: true };
}

function ints(s: string): number[] {
  return s.split(",").map(Number);
}

/** Parses one spec of the notation above; throws on a malformed entry (a table bug). */
export function parseKeySpec(text: string): KeySpec {
  const hash = text.indexOf(" #");
  const notes = hash >= 0 ? text.slice(hash + 2) : undefined;
  const words = (hash >= 0 ? text.slice(0, hash) : text).split(" ");
  const find = words.pop()!, begin = words.pop()!;
  const spec: KeySpec = {
    flags: words,
    begin: { index: 0 },
    find: { lastkey: 0, keystep: 1, limit: 0 },
  };
  if (notes !== undefined) spec.notes = notes;
  if (begin[0] === "i") spec.begin = { index: Number(begin.slice(1)) };
  else if (begin[0] === "k") {
    const comma = begin.lastIndexOf(",");
    spec.begin = { keyword: begin.slice(1, comma), startfrom: Number(begin.slice(comma + 1)) };
  } else if (begin === "u") spec.begin = { unknown: true };
  else throw new Error(`bad key spec begin: ${text}`);
  if (find === "u") {
    spec.find = { unknown: true };
    return spec;
  }
  const n = ints(find.slice(1));
  if (find[0] === "r") spec.find = { lastkey: n[0]!, keystep: n[1]!, limit: n[2]! };
  else if (find[0] === "n") spec.find = { keynumidx: n[0]!, firstkey: n[1]!, keystep: n[2]! };
  else throw new Error(`bad key spec find: ${text}`);
  if (n.some((x) => !Number.isInteger(x))) throw new Error(`bad key spec numbers: ${text}`);
  return spec;
}

/** The key positions one spec finds in a call (positions past the end are dropped). */
function specPositions(spec: KeySpec, argv: string[]): number[] {
  const argc = argv.length;
  let first: number;
  if ("unknown" in spec.begin || "unknown" in spec.find) return [];
  if ("index" in spec.begin) first = spec.begin.index;
  else {
    const { keyword, startfrom } = spec.begin;
    const from = startfrom >= 0 ? startfrom : argc + startfrom;
    const dir = startfrom >= 0 ? 1 : -1;
    first = -1;
    for (let i = from; i >= 1 && i < argc; i += dir) {
      if (argv[i]!.toLowerCase() === keyword.toLowerCase()) {
        first = i + 1;
        break;
      }
    }
    if (first < 0) return [];
  }
  let last: number, step: number;
  const f = spec.find;
  if ("lastkey" in f) {
    step = f.keystep;
    if (f.lastkey >= 0) last = first + f.lastkey;
    else if (f.limit === 0) last = argc + f.lastkey;
    else last = first + Math.floor((argc - first) / f.limit) + f.lastkey;
  } else {
    step = f.keystep;
    const count = Number(argv[first + f.keynumidx]);
    if (!Number.isInteger(count) || count < 0) return [];
    first += f.firstkey;
    last = first + (count - 1) * step;
  }
  const out: number[] = [];
  for (let i = first; i <= last && i < argc; i += step) out.push(i);
  return out;
}

/**
 * The access flags of each key position of a call, for COMMAND GETKEYSANDFLAGS. Commands whose
 * flags depend on the arguments (SET with or without GET, BITFIELD reading or writing) decide
 * from the call, as Redis's own key extraction for them does; the others take their spec's.
 */
export function keyFlags(
  name: string,
  specs: readonly KeySpec[],
  argv: string[],
): (pos: number) => string[] {
  if (name === "set") {
    const get = argv.slice(3).some((a) => a.toLowerCase() === "get");
    const flags = get ? ["RW", "access", "update"] : ["OW", "update"];
    return () => flags;
  }
  if (name === "sort") {
    // SORT's own key finder: the sorted key is read, the STORE destination overwritten.
    return (pos) => pos === 1 ? ["RO", "access"] : ["OW", "update"];
  }
  if (name === "bitfield") {
    const flags = bitfieldReadOnly(argv) ? ["RO", "access"] : ["RW", "access", "update"];
    return () => flags;
  }
  const byPos = new Map<number, string[]>();
  for (const s of specs) {
    for (const p of specPositions(s, argv)) if (!byPos.has(p)) byPos.set(p, s.flags);
  }
  const fallback = specs[0]?.flags ?? [];
  return (pos) => byPos.get(pos) ?? fallback;
}

/** True when a BITFIELD call only reads (GET and OVERFLOW only, all complete). */
function bitfieldReadOnly(argv: string[]): boolean {
  for (let i = 2; i < argv.length; i++) {
    const rest = argv.length - i - 1;
    const op = argv[i]!.toLowerCase();
    if (op === "get" && rest >= 2) i += 2;
    else if (op === "overflow" && rest >= 1) i += 1;
    else return false;
  }
  return true;
}
