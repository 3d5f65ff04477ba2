/**
 * GEO commands: positions are sorted set members whose score is Redis's 52-bit geohash
 * (store/geohash.ts), so scores, search order and printed figures match Redis's. Arguments are
 * checked in the order Redis 7.0's geo.c checks them, so the same error wins.
 */
import type { ClientState, Engine } from "../engine/types.ts";
import { NOTIFY } from "../engine/notify.ts";
import { ZSetValue } from "../store/zset.ts";
import { cmd, ERR, parseFloatArg, parseI64 } from "./define.ts";
import type { CommandDef } from "./types.ts";
import { readAggregate, REPLIED } from "./access.ts";
import { formatFixed, formatHumanDouble } from "../../shared/resp/format.ts";
import {
  boxScores,
  decodeScore,
  distance,
  distanceIfInShape,
  GEO_LAT_MAX,
  GEO_LAT_MIN,
  GEO_LONG_MAX,
  GEO_LONG_MIN,
  isZero,
  scoreOf,
  searchBoxes,
  type Shape,
  standardGeohash,
} from "../store/geohash.ts";

/** `read`: a write command's read lookup (see keyMiss). */
function readZset(
  s: Engine,
  c: ClientState,
  key: string,
  read = false,
): ZSetValue | null | typeof REPLIED {
  return readAggregate<ZSetValue>(s, c, key, "zset", read);
}

/** getDoubleFromObject: strtod over the whole string, no leading space, no NaN, no overflow. */
function parseDouble(arg: string): number | null {
  // strtod would skip leading whitespace (\t \n \v \f \r and space); Redis refuses it.
  const c0 = arg.charCodeAt(0);
  if (arg.length === 0 || c0 === 32 || (c0 >= 9 && c0 <= 13)) return null;
  return parseFloatArg(arg);
}

/** A longitude and latitude pair, or null after replying the error. */
function lonLatOrReply(c: ClientState, argv: string[], at: number): [number, number] | null {
  const lon = parseDouble(argv[at]!);
  if (lon === null) return c.error("ERR value is not a valid float"), null;
  const lat = parseDouble(argv[at + 1]!);
  if (lat === null) return c.error("ERR value is not a valid float"), null;
  if (lon < GEO_LONG_MIN || lon > GEO_LONG_MAX || lat < GEO_LAT_MIN || lat > GEO_LAT_MAX) {
    c.error(
      `ERR invalid longitude,latitude pair ${formatFixed(lon, 6)},${formatFixed(lat, 6)}`,
    );
    return null;
  }
  return [lon, lat];
}

/** Meters per unit, or null after replying the error. */
function unitOrReply(c: ClientState, arg: string): number | null {
  switch (arg.toLowerCase()) {
    case "m":
      return 1;
    case "km":
      return 1000;
    case "ft":
      return 0.3048;
    case "mi":
      return 1609.34;
  }
  c.error("ERR unsupported unit provided. please use M, KM, FT, MI");
  return null;
}

/** Distances print with four decimals ("%.4f"). */
function replyDistance(c: ClientState, d: number): void {
  c.out.bulk(formatFixed(d, 4));
}

/** Coordinates print as Redis's human long double: a bulk string, or a RESP3 double. */
function replyCoord(c: ClientState, d: number): void {
  const s = formatHumanDouble(d);
  if (c.proto === 3) c.out.ascii(`,${s}\r\n`);
  else c.out.bulk(s);
}

// ---- GEOADD ----

function geoadd(s: Engine, c: ClientState, argv: string[]): void {
  let nx = false, xx = false, ch = false, i = 2;
  for (; i < argv.length; i++) {
    const o = argv[i]!.toLowerCase();
    if (o === "nx") nx = true;
    else if (o === "xx") xx = true;
    else if (o === "ch") ch = true;
    else break;
  }
  if ((argv.length - i) % 3 !== 0 || (xx && nx)) return c.error(ERR.syntax);
  const scores: number[] = [];
  for (let j = i; j < argv.length; j += 3) {
    const xy = lonLatOrReply(c, argv, j);
    if (xy === null) return;
    scores.push(scoreOf(xy[0], xy[1]));
  }
  if (scores.length === 0) return c.error(ERR.syntax);
  zadd(s, c, argv, i, scores, nx, xx, ch);
}

/**
 * GEOADD as the ZADD it becomes (with only NX, XX and CH possible): the members are
 * argv[first + 2], argv[first + 5]..., with their scores in `scores`. It replicates as that
 * ZADD (options as given, the scores as integers), built only when something takes it.
 */
function zadd(
  s: Engine,
  c: ClientState,
  argv: string[],
  first: number,
  scores: number[],
  nx: boolean,
  xx: boolean,
  ch: boolean,
): void {
  const key = argv[1]!;
  let z = readZset(s, c, key);
  if (z === REPLIED) return;
  if (z === null) {
    if (xx) return c.out.int(0);
    z = new ZSetValue();
    c.db.set(key, z);
  }
  const lim = {
    maxEntries: s.config.get<number>("zset-max-listpack-entries"),
    maxValue: s.config.get<number>("zset-max-listpack-value"),
  };
  let added = 0, updated = 0;
  for (let k = 0; k < scores.length; k++) {
    const score = scores[k]!, member = argv[first + 3 * k + 2]!;
    if (nx || xx) {
      const cur = z.score(member);
      if ((cur !== undefined && nx) || (cur === undefined && xx)) continue;
    }
    const r = z.addWithLimits(member, score, lim);
    if (r === "added") added++;
    else if (r === "updated") updated++;
  }
  if (z.size === 0) c.db.delete(key);
  if (added + updated > 0) {
    c.db.signalModified(key);
    // GEOADD runs as ZADD in Redis, whose event it raises.
    s.notify(NOTIFY.ZSET, "zadd", key, c.db.id);
    s.dirty += added + updated;
    if (s.propagation.wanted) {
      const effect = ["zadd", ...argv.slice(1, first)];
      for (let k = 0; k < scores.length; k++) {
        effect.push(String(scores[k]!), argv[first + 3 * k + 2]!);
      }
      c.rewrittenArgv = effect;
    }
  }
  c.out.int(ch ? added + updated : added);
}

// ---- GEODIST, GEOHASH, GEOPOS ----

function geodist(s: Engine, c: ClientState, argv: string[]): void {
  let toMeter = 1;
  if (argv.length === 5) {
    const u = unitOrReply(c, argv[4]!);
    if (u === null) return;
    toMeter = u;
  } else if (argv.length > 5) return c.error(ERR.syntax);
  const z = readZset(s, c, argv[1]!);
  if (z === REPLIED) return;
  if (z === null) return c.out.nullBulk();
  const a = z.score(argv[2]!), b = z.score(argv[3]!);
  if (a === undefined || b === undefined) return c.out.nullBulk();
  const [lon1, lat1] = decodeScore(a), [lon2, lat2] = decodeScore(b);
  replyDistance(c, distance(lon1, lat1, lon2, lat2) / toMeter);
}

function geohash(s: Engine, c: ClientState, argv: string[]): void {
  const z = readZset(s, c, argv[1]!);
  if (z === REPLIED) return;
  c.out.array(argv.length - 2);
  for (let i = 2; i < argv.length; i++) {
    const sc = z?.score(argv[i]!);
    if (sc === undefined) c.out.nullBulk();
    else c.out.bulk(standardGeohash(sc));
  }
}

function geopos(s: Engine, c: ClientState, argv: string[]): void {
  const z = readZset(s, c, argv[1]!);
  if (z === REPLIED) return;
  c.out.array(argv.length - 2);
  for (let i = 2; i < argv.length; i++) {
    const sc = z?.score(argv[i]!);
    if (sc === undefined) {
      c.out.nullArray();
      continue;
    }
    const [lon, lat] = decodeScore(sc);
    c.out.array(2);
    replyCoord(c, lon);
    replyCoord(c, lat);
  }
}

// ---- GEORADIUS, GEORADIUSBYMEMBER, GEOSEARCH, GEOSEARCHSTORE ----

const BY_COORDS = 1, BY_MEMBER = 2, NO_STORE = 4, SEARCH = 8, SEARCH_STORE = 16;

interface Point {
  member: string;
  score: number;
  dist: number;
  lon: number;
  lat: number;
}

/** A radius and unit: [radius, meters per unit], or null after replying the error. */
function distanceOrReply(c: ClientState, argv: string[], at: number): [number, number] | null {
  const d = parseDouble(argv[at]!);
  if (d === null) return c.error("ERR need numeric radius"), null;
  if (d < 0) return c.error("ERR radius cannot be negative"), null;
  const u = unitOrReply(c, argv[at + 1]!);
  return u === null ? null : [d, u];
}

/** A box's width, height and unit, or null after replying the error. */
function boxOrReply(c: ClientState, argv: string[], at: number): [number, number, number] | null {
  const w = parseDouble(argv[at]!);
  if (w === null) return c.error("ERR need numeric width"), null;
  const h = parseDouble(argv[at + 1]!);
  if (h === null) return c.error("ERR need numeric height"), null;
  if (h < 0 || w < 0) return c.error("ERR height or width cannot be negative"), null;
  const u = unitOrReply(c, argv[at + 2]!);
  return u === null ? null : [w, h, u];
}

/** A member's position, or null when it is not in the set. */
function memberPosition(z: ZSetValue, member: string): [number, number] | null {
  const sc = z.score(member);
  return sc === undefined ? null : decodeScore(sc);
}

interface SearchOptions {
  withDist: boolean;
  withHash: boolean;
  withCoord: boolean;
  any: boolean;
  sort: "none" | "asc" | "desc";
  count: number;
  storeKey: string | null;
  storeDist: boolean;
  center: [number, number] | null;
  fromMember: boolean;
  fromLonLat: boolean;
  radius: [number, number] | null;
  box: [number, number, number] | null;
}

function georadiusGeneric(
  s: Engine,
  c: ClientState,
  argv: string[],
  srcIndex: number,
  flags: number,
): void {
  // The source is read (GEORADIUS with STORE and GEOSEARCHSTORE are writes).
  const z = readZset(s, c, argv[srcIndex]!, true);
  if (z === REPLIED) return;
  const o: SearchOptions = {
    withDist: false,
    withHash: false,
    withCoord: false,
    any: false,
    sort: "none",
    count: 0,
    storeKey: null,
    storeDist: false,
    center: null,
    fromMember: false,
    fromLonLat: false,
    radius: null,
    box: null,
  };
  let base: number;
  if (flags & BY_COORDS) {
    base = 6;
    o.center = lonLatOrReply(c, argv, 2);
    if (o.center === null) return;
    o.radius = distanceOrReply(c, argv, 4);
    if (o.radius === null) return;
  } else if (flags & BY_MEMBER) {
    base = 5;
    if (z !== null) {
      o.center = memberPosition(z, argv[2]!);
      if (o.center === null) return c.error("ERR could not decode requested zset member");
      o.radius = distanceOrReply(c, argv, 3);
      if (o.radius === null) return;
    }
  } else {
    base = 2;
    if (flags & SEARCH_STORE) {
      base = 3;
      o.storeKey = argv[1]!;
    }
  }
  if (!parseSearchOptions(c, argv, base, flags, z, o)) return;
  if (o.storeKey !== null && (o.withDist || o.withHash || o.withCoord)) {
    const what = flags & SEARCH_STORE ? "GEOSEARCHSTORE" : "STORE option in GEORADIUS";
    return c.error(`ERR ${what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options`);
  }
  if (flags & SEARCH && !o.fromMember && o.center === null) {
    return c.error(
      `ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for ${argv[0]!}`,
    );
  }
  if (flags & SEARCH && o.radius === null && o.box === null) {
    return c.error(`ERR exactly one of BYRADIUS and BYBOX can be specified for ${argv[0]!}`);
  }
  if (o.any && o.count === 0) return c.error("ERR the ANY argument requires COUNT argument");
  if (z === null) {
    if (o.storeKey !== null) {
      deleteStoreKey(s, c, o.storeKey);
      return c.out.int(0);
    }
    return c.out.array(0);
  }
  if (o.count !== 0 && o.sort === "none" && !o.any) o.sort = "asc";
  const [lon, lat] = o.center!;
  const shape: Shape = o.box !== null
    ? { type: "box", lon, lat, width: o.box[0], height: o.box[1], conversion: o.box[2] }
    : { type: "radius", lon, lat, radius: o.radius![0], conversion: o.radius![1] };
  const found = pointsInShape(z, shape, o.any ? o.count : 0);
  if (found.length === 0 && o.storeKey === null) return c.out.array(0);
  if (o.sort === "asc") found.sort((a, b) => a.dist - b.dist);
  else if (o.sort === "desc") found.sort((a, b) => b.dist - a.dist);
  const n = o.count === 0 || found.length < o.count ? found.length : o.count;
  const results = found.slice(0, n);
  for (const p of results) p.dist /= shape.conversion;
  if (o.storeKey === null) return replyPoints(c, results, o);
  storePoints(
    s,
    c,
    o.storeKey,
    results,
    o.storeDist,
    flags & SEARCH ? "geosearchstore" : "georadiusstore",
  );
}

/** Parses the options after the fixed arguments; false after replying an error. */
function parseSearchOptions(
  c: ClientState,
  argv: string[],
  base: number,
  flags: number,
  z: ZSetValue | null,
  o: SearchOptions,
): boolean {
  const remaining = argv.length - base;
  for (let i = 0; i < remaining; i++) {
    const arg = argv[base + i]!.toLowerCase();
    const at = base + i + 1;
    if (arg === "withdist") o.withDist = true;
    else if (arg === "withhash") o.withHash = true;
    else if (arg === "withcoord") o.withCoord = true;
    else if (arg === "any") o.any = true;
    else if (arg === "asc") o.sort = "asc";
    else if (arg === "desc") o.sort = "desc";
    else if (arg === "count" && i + 1 < remaining) {
      const n = parseI64(argv[at]!);
      if (n === null) return c.error(ERR.notInt), false;
      if (n <= 0n) return c.error("ERR COUNT must be > 0"), false;
      o.count = n > 2n ** 53n ? 2 ** 53 : Number(n);
      i++;
    } else if (
      (arg === "store" || arg === "storedist") && i + 1 < remaining &&
      !(flags & NO_STORE) && !(flags & SEARCH)
    ) {
      o.storeKey = argv[at]!;
      o.storeDist = arg === "storedist";
      i++;
    } else if (arg === "storedist" && flags & SEARCH && flags & SEARCH_STORE) {
      o.storeDist = true;
    } else if (arg === "frommember" && i + 1 < remaining && flags & SEARCH && !o.fromLonLat) {
      if (z !== null) {
        o.center = memberPosition(z, argv[at]!);
        if (o.center === null) {
          return c.error("ERR could not decode requested zset member"), false;
        }
      }
      o.fromMember = true;
      i++;
    } else if (arg === "fromlonlat" && i + 2 < remaining && flags & SEARCH && !o.fromMember) {
      o.center = lonLatOrReply(c, argv, at);
      if (o.center === null) return false;
      o.fromLonLat = true;
      i += 2;
    } else if (arg === "byradius" && i + 2 < remaining && flags & SEARCH && o.box === null) {
      o.radius = distanceOrReply(c, argv, at);
      if (o.radius === null) return false;
      i += 2;
    } else if (arg === "bybox" && i + 3 < remaining && flags & SEARCH && o.radius === null) {
      o.box = boxOrReply(c, argv, at);
      if (o.box === null) return false;
      i += 3;
    } else return c.error(ERR.syntax), false;
  }
  return true;
}

/** The members inside the shape, box by box in Redis's order; `limit` 0 = all. */
function pointsInShape(z: ZSetValue, shape: Shape, limit: number): Point[] {
  const out: Point[] = [];
  const boxes = searchBoxes(shape);
  let last = -1;
  for (let i = 0; i < boxes.length; i++) {
    const b = boxes[i]!;
    if (isZero(b)) continue;
    // Neighbours of a huge area can repeat the previous box: each is scanned once.
    if (last > 0 && b.bits === boxes[last]!.bits && b.step === boxes[last]!.step) continue;
    if (out.length > 0 && limit && out.length >= limit) break;
    const [min, max] = boxScores(b);
    for (const [member, score] of z.rangeByScore({ min, minEx: false, max, maxEx: true })) {
      const [lon, lat] = decodeScore(score);
      const dist = distanceIfInShape(shape, lon, lat);
      if (dist === null) continue;
      out.push({ member, score, dist, lon, lat });
      if (limit && out.length >= limit) break;
    }
    last = i;
  }
  return out;
}

/**
 * WITHHASH replies the member's score as an integer, C's (long long) of the double: a score
 * that is no geohash (ZADD, ZINCRBY, a STOREDIST result) is truncated; x86-64 gives the
 * "integer indefinite" value past the range (infinities).
 */
function scoreAsHash(score: number): number | bigint {
  if (!Number.isFinite(score)) return -9223372036854775808n;
  const t = Math.trunc(score);
  if (Number.isSafeInteger(t)) return t;
  const b = BigInt(t);
  return b > 9223372036854775807n || b < -9223372036854775808n ? -9223372036854775808n : b;
}
function replyPoints(c: ClientState, points: Point[], o: SearchOptions): void {
  const extra = (o.withDist ? 1 : 0) + (o.withHash ? 1 : 0) + (o.withCoord ? 1 : 0);
  c.out.array(points.length);
  for (const p of points) {
    if (extra) c.out.array(extra + 1);
    c.out.bulk(p.member);
    if (o.withDist) replyDistance(c, p.dist);
    if (o.withHash) c.out.int(scoreAsHash(p.score));
    if (o.withCoord) {
      c.out.array(2);
      replyCoord(c, p.lon);
      replyCoord(c, p.lat);
    }
  }
}

/** STORE / STOREDIST: the results as a new sorted set (scores or distances); empty deletes. */
function storePoints(
  s: Engine,
  c: ClientState,
  key: string,
  points: Point[],
  storeDist: boolean,
  event: string,
): void {
  if (points.length === 0) {
    deleteStoreKey(s, c, key);
    return c.out.int(0);
  }
  const maxEntries = s.config.get<number>("zset-max-listpack-entries");
  const maxValue = s.config.get<number>("zset-max-listpack-value");
  const z = new ZSetValue();
  if (points.length > maxEntries || points.some((p) => p.member.length > maxValue)) {
    z.toSkiplist();
  }
  for (const p of points) z.add(p.member, storeDist ? p.dist : p.score);
  c.db.set(key, z);
  s.notify(NOTIFY.ZSET, event, key, c.db.id);
  s.dirty += points.length;
  c.out.int(points.length);
}

/** A search that stores nothing deletes its destination (with its `del` event), as in Redis. */
function deleteStoreKey(s: Engine, c: ClientState, key: string): void {
  if (!c.db.delete(key)) return;
  s.notify(NOTIFY.GENERIC, "del", key, c.db.id);
  s.dirty++;
}

const radius = (flags: number, srcIndex = 1) => (s: Engine, c: ClientState, argv: string[]) =>
  georadiusGeneric(s, c, argv, srcIndex, flags);

const m = (summary: string, since: string, complexity: string) => ({
  summary,
  since,
  complexity,
});
const LOG_N = "O(log(N)) for each item added, where N is the number of elements in the sorted set.";
const SEARCH_COST =
  "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.";

/**
 * GEORADIUS's keys as its key specs find them: the source, then the argument after the first
 * STORE and after the first STOREDIST (searched from `from`).
 */
function storeKeys(from: number) {
  return (argv: string[]): number[] => {
    const keys = [1];
    for (const word of ["store", "storedist"]) {
      for (let i = from; i < argv.length - 1; i++) {
        if (argv[i]!.toLowerCase() === word) {
          keys.push(i + 1);
          break;
        }
      }
    }
    return keys;
  };
}

const withStoreKeys = (from: number, d: CommandDef): CommandDef => {
  d.findKeys = storeKeys(from);
  return d;
};

export const GEO_COMMANDS: CommandDef[] = [
  cmd(
    "geoadd",
    -5,
    "write denyoom",
    [1, 1, 1],
    "geo",
    geoadd,
    m(
      "Adds one or more members to a geospatial index. The key is created if it doesn't exist.",
      "3.2.0",
      LOG_N,
    ),
  ),
  cmd(
    "geodist",
    -4,
    "readonly",
    [1, 1, 1],
    "geo",
    geodist,
    m("Returns the distance between two members of a geospatial index.", "3.2.0", "O(log(N))"),
  ),
  cmd(
    "geohash",
    -2,
    "readonly",
    [1, 1, 1],
    "geo",
    geohash,
    m(
      "Returns members from a geospatial index as geohash strings.",
      "3.2.0",
      "O(log(N)) for each member requested, where N is the number of elements in the sorted set.",
    ),
  ),
  cmd(
    "geopos",
    -2,
    "readonly",
    [1, 1, 1],
    "geo",
    geopos,
    m(
      "Returns the longitude and latitude of members from a geospatial index.",
      "3.2.0",
      "O(N) where N is the number of members requested.",
    ),
  ),
  withStoreKeys(
    6,
    cmd(
      "georadius",
      -6,
      "write denyoom movablekeys",
      [1, 1, 1],
      "geo",
      radius(BY_COORDS),
      m(
        "Queries a geospatial index for members within a distance from a coordinate, optionally stores the result.",
        "3.2.0",
        SEARCH_COST,
      ),
    ),
  ),
  cmd(
    "georadius_ro",
    -6,
    "readonly",
    [1, 1, 1],
    "geo",
    radius(BY_COORDS | NO_STORE),
    m(
      "Returns members from a geospatial index that are within a distance from a coordinate.",
      "3.2.10",
      SEARCH_COST,
    ),
  ),
  withStoreKeys(
    5,
    cmd(
      "georadiusbymember",
      -5,
      "write denyoom movablekeys",
      [1, 1, 1],
      "geo",
      radius(BY_MEMBER),
      m(
        "Queries a geospatial index for members within a distance from a member, optionally stores the result.",
        "3.2.0",
        SEARCH_COST,
      ),
    ),
  ),
  cmd(
    "georadiusbymember_ro",
    -5,
    "readonly",
    [1, 1, 1],
    "geo",
    radius(BY_MEMBER | NO_STORE),
    m(
      "Returns members from a geospatial index that are within a distance from a member.",
      "3.2.10",
      SEARCH_COST,
    ),
  ),
  cmd(
    "geosearch",
    -7,
    "readonly",
    [1, 1, 1],
    "geo",
    radius(SEARCH),
    m(
      "Queries a geospatial index for members inside an area of a box or a circle.",
      "6.2.0",
      "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape",
    ),
  ),
  cmd(
    "geosearchstore",
    -8,
    "write denyoom",
    [1, 2, 1],
    "geo",
    radius(SEARCH | SEARCH_STORE, 2),
    m(
      "Queries a geospatial index for members inside an area of a box or a circle, optionally stores the result.",
      "6.2.0",
      "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape",
    ),
  ),
];
