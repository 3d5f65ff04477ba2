/**
 * Redis's geohash: a position is a 52-bit integer (26 bits of latitude at the even bit
 * positions, 26 of longitude at the odd ones, over latitudes +-85.05112878, the Web Mercator
 * limits) stored as a sorted set score. Searches cover the area with the 3x3 grid of boxes
 * around the centre at a precision chosen from the radius, exactly as Redis does, so members
 * come out in the same order. Bit strings are BigInts (up to 64 bits).
 */

export const GEO_STEP_MAX = 26;
export const GEO_LAT_MIN = -85.05112878;
export const GEO_LAT_MAX = 85.05112878;
export const GEO_LONG_MIN = -180;
export const GEO_LONG_MAX = 180;
/** Redis's earth radius in meters (the one its distances are computed with). */
export const EARTH_RADIUS_IN_METERS = 6372797.560856;
const MERCATOR_MAX = 20037726.37;
const D_R = Math.PI / 180.0;

export interface Range {
  min: number;
  max: number;
}

export interface HashBits {
  bits: bigint;
  step: number;
}

export interface Area {
  lon: Range;
  lat: Range;
}

const WGS84_LON: Range = { min: GEO_LONG_MIN, max: GEO_LONG_MAX };
const WGS84_LAT: Range = { min: GEO_LAT_MIN, max: GEO_LAT_MAX };

const degRad = (d: number) => d * D_R;
const radDeg = (r: number) => r / D_R;

/** Bits of x at the even positions, bits of y at the odd ones (32 bits each). */
function interleave(x: number, y: number): bigint {
  let out = 0n;
  for (let i = 31; i >= 0; i--) {
    out = (out << 2n) | BigInt((((y >>> i) & 1) << 1) | ((x >>> i) & 1));
  }
  return out;
}

/** The inverse of interleave: [even bits, odd bits]. */
function deinterleave(bits: bigint): [number, number] {
  let x = 0, y = 0;
  let lo = Number(bits & 0xffffffffn), hi = Number((bits >> 32n) & 0xffffffffn);
  for (let i = 0; i < 16; i++) {
    x |= (lo & 1) << i;
    y |= ((lo >>> 1) & 1) << i;
    lo >>>= 2;
  }
  for (let i = 16; i < 32; i++) {
    x |= (hi & 1) << i;
    y |= ((hi >>> 1) & 1) << i;
    hi >>>= 2;
  }
  return [x >>> 0, y >>> 0];
}

/** geohashEncode: null outside the Mercator limits or the given ranges. */
export function encode(
  lonRange: Range,
  latRange: Range,
  lon: number,
  lat: number,
  step: number,
): HashBits | null {
  if (lon > GEO_LONG_MAX || lon < GEO_LONG_MIN || lat > GEO_LAT_MAX || lat < GEO_LAT_MIN) {
    return null;
  }
  if (lat < latRange.min || lat > latRange.max || lon < lonRange.min || lon > lonRange.max) {
    return null;
  }
  let latOffset = (lat - latRange.min) / (latRange.max - latRange.min);
  let lonOffset = (lon - lonRange.min) / (lonRange.max - lonRange.min);
  latOffset *= 2 ** step;
  lonOffset *= 2 ** step;
  return { bits: interleave(latOffset >>> 0, lonOffset >>> 0), step };
}

export function encodeWGS84(lon: number, lat: number, step = GEO_STEP_MAX): HashBits | null {
  return encode(WGS84_LON, WGS84_LAT, lon, lat, step);
}

/** The score of a position: its 52-bit hash as a number. */
export function scoreOf(lon: number, lat: number): number {
  // encodeWGS84 at full precision, in the same float steps, interleaved without BigInts while
  // both offsets fit in 26 bits (then the hash is below 2^52, exact as a number); a position on
  // the upper edge (an offset of 2^26) takes the general path.
  if (lon <= GEO_LONG_MAX && lon >= GEO_LONG_MIN && lat <= GEO_LAT_MAX && lat >= GEO_LAT_MIN) {
    let latOffset = (lat - GEO_LAT_MIN) / (GEO_LAT_MAX - GEO_LAT_MIN);
    let lonOffset = (lon - GEO_LONG_MIN) / (GEO_LONG_MAX - GEO_LONG_MIN);
    latOffset *= 2 ** GEO_STEP_MAX;
    lonOffset *= 2 ** GEO_STEP_MAX;
    const x = latOffset >>> 0, y = lonOffset >>> 0;
    if (x < 0x4000000 && y < 0x4000000) {
      const lo = (spread16(x & 0xffff) | (spread16(y & 0xffff) << 1)) >>> 0;
      const hi = spread16(x >>> 16) | (spread16(y >>> 16) << 1);
      return hi * 0x100000000 + lo;
    }
  }
  return scoreOfBig(lon, lat);
}

/** scoreOf through the BigInt geohash (any position encode accepts). */
export function scoreOfBig(lon: number, lat: number): number {
  return Number(align52(encodeWGS84(lon, lat)!));
}

/** The 16 low bits of v moved to the even bit positions of a 32-bit result. */
function spread16(v: number): number {
  v = (v | (v << 8)) & 0x00ff00ff;
  v = (v | (v << 4)) & 0x0f0f0f0f;
  v = (v | (v << 2)) & 0x33333333;
  return (v | (v << 1)) & 0x55555555;
}

export function align52(h: HashBits): bigint {
  return h.bits << BigInt(52 - h.step * 2);
}

export function decode(h: HashBits, lonRange = WGS84_LON, latRange = WGS84_LAT): Area {
  const [ilat, ilon] = deinterleave(h.bits);
  const latScale = latRange.max - latRange.min, lonScale = lonRange.max - lonRange.min;
  const div = 2 ** h.step;
  return {
    lat: {
      min: latRange.min + (ilat * 1.0 / div) * latScale,
      max: latRange.min + (((ilat + 1) >>> 0) * 1.0 / div) * latScale,
    },
    lon: {
      min: lonRange.min + (ilon * 1.0 / div) * lonScale,
      max: lonRange.min + (((ilon + 1) >>> 0) * 1.0 / div) * lonScale,
    },
  };
}

/** The centre of a box, clamped to the valid ranges: [longitude, latitude]. */
export function areaCenter(a: Area): [number, number] {
  let lon = (a.lon.min + a.lon.max) / 2;
  let lat = (a.lat.min + a.lat.max) / 2;
  lon = Math.min(GEO_LONG_MAX, Math.max(GEO_LONG_MIN, lon));
  lat = Math.min(GEO_LAT_MAX, Math.max(GEO_LAT_MIN, lat));
  return [lon, lat];
}

const INDEFINITE = 0x8000000000000000n;

/**
 * C's (uint64_t) conversion of a score as x86-64 code does it: a negative score wraps (two's
 * complement), one past the range gives the CPU's "indefinite" integer. Any sorted set member
 * can be asked for its position, not only those GEOADD wrote.
 */
function scoreBits(score: number): bigint {
  if (Number.isNaN(score)) return INDEFINITE;
  if (score >= 2 ** 63) return score >= 2 ** 64 ? 0n : BigInt(Math.trunc(score));
  if (score < -(2 ** 63)) return INDEFINITE;
  return BigInt.asUintN(64, BigInt(Math.trunc(score)));
}

/** A member's position from its score: [longitude, latitude]. */
export function decodeScore(score: number): [number, number] {
  return areaCenter(decode({ bits: scoreBits(score), step: GEO_STEP_MAX }));
}

/** The 11-character standard geohash (ranges +-180, +-90) of a score, as GEOHASH prints it. */
export function standardGeohash(score: number): string {
  const ALPHABET = "0123456789bcdefghjkmnpqrstuvwxyz";
  const [lon, lat] = decodeScore(score);
  const h = encode({ min: -180, max: 180 }, { min: -90, max: 90 }, lon, lat, 26);
  const bits = h?.bits ?? 0n;
  let out = "";
  for (let i = 0; i < 11; i++) {
    // 52 bits make ten characters; the eleventh is always "0", as Redis prints it.
    const idx = i === 10 ? 0 : Number((bits >> BigInt(52 - (i + 1) * 5)) & 0x1fn);
    out += ALPHABET[idx]!;
  }
  return out;
}

// ---- Distances ----

export function latDistance(lat1: number, lat2: number): number {
  return EARTH_RADIUS_IN_METERS * Math.abs(degRad(lat2) - degRad(lat1));
}

/** Haversine distance in meters. */
export function distance(lon1: number, lat1: number, lon2: number, lat2: number): number {
  const lon1r = degRad(lon1), lon2r = degRad(lon2);
  const v = Math.sin((lon2r - lon1r) / 2);
  // Same longitude: only the latitude differs (Redis's shortcut, same figures).
  if (v === 0.0) return latDistance(lat1, lat2);
  const lat1r = degRad(lat1), lat2r = degRad(lat2);
  const u = Math.sin((lat2r - lat1r) / 2);
  const a = u * u + Math.cos(lat1r) * Math.cos(lat2r) * v * v;
  return 2.0 * EARTH_RADIUS_IN_METERS * Math.asin(Math.sqrt(a));
}

// ---- Search shapes ----

export type Shape =
  | { type: "radius"; lon: number; lat: number; conversion: number; radius: number }
  | {
    type: "box";
    lon: number;
    lat: number;
    conversion: number;
    width: number;
    height: number;
  };

/** The distance of a point from the shape's centre, or null when outside the shape. */
export function distanceIfInShape(s: Shape, lon: number, lat: number): number | null {
  if (s.type === "radius") {
    const d = distance(s.lon, s.lat, lon, lat);
    return d > s.radius * s.conversion ? null : d;
  }
  const latDist = latDistance(lat, s.lat);
  if (latDist > s.height * s.conversion / 2) return null;
  const lonDist = distance(lon, lat, s.lon, lat);
  if (lonDist > s.width * s.conversion / 2) return null;
  return distance(s.lon, s.lat, lon, lat);
}

/** [min lon, min lat, max lon, max lat] around the shape. */
function boundingBox(s: Shape): [number, number, number, number] {
  const height = s.conversion * (s.type === "radius" ? s.radius : s.height / 2);
  const width = s.conversion * (s.type === "radius" ? s.radius : s.width / 2);
  const latDelta = radDeg(height / EARTH_RADIUS_IN_METERS);
  const lonDeltaTop = radDeg(width / EARTH_RADIUS_IN_METERS / Math.cos(degRad(s.lat + latDelta)));
  const lonDeltaBottom = radDeg(
    width / EARTH_RADIUS_IN_METERS / Math.cos(degRad(s.lat - latDelta)),
  );
  const south = s.lat < 0;
  return [
    south ? s.lon - lonDeltaBottom : s.lon - lonDeltaTop,
    s.lat - latDelta,
    south ? s.lon + lonDeltaBottom : s.lon + lonDeltaTop,
    s.lat + latDelta,
  ];
}

function estimateSteps(rangeMeters: number, lat: number): number {
  if (rangeMeters === 0) return 26;
  let step = 1;
  while (rangeMeters < MERCATOR_MAX) {
    rangeMeters *= 2;
    step++;
  }
  step -= 2;
  if (lat > 66 || lat < -66) {
    step--;
    if (lat > 80 || lat < -80) step--;
  }
  return Math.min(26, Math.max(1, step));
}

const EVEN = 0x5555555555555555n;
const ODD = 0xaaaaaaaaaaaaaaaan;

/** Moves a box east (+1) or west (-1): the longitude bits are the odd ones. */
function moveX(h: HashBits, d: number): HashBits {
  if (d === 0) return h;
  let x = h.bits & ODD;
  const y = h.bits & EVEN;
  const zz = EVEN >> BigInt(64 - h.step * 2);
  if (d > 0) x = x + (zz + 1n);
  else {
    x = x | zz;
    x = (x - (zz + 1n)) & 0xffffffffffffffffn;
  }
  x &= ODD >> BigInt(64 - h.step * 2);
  return { bits: x | y, step: h.step };
}

/** Moves a box north (+1) or south (-1): the latitude bits are the even ones. */
function moveY(h: HashBits, d: number): HashBits {
  if (d === 0) return h;
  const x = h.bits & ODD;
  let y = h.bits & EVEN;
  const zz = ODD >> BigInt(64 - h.step * 2);
  if (d > 0) y = y + (zz + 1n);
  else {
    y = y | zz;
    y = (y - (zz + 1n)) & 0xffffffffffffffffn;
  }
  y &= EVEN >> BigInt(64 - h.step * 2);
  return { bits: x | y, step: h.step };
}

const ZERO: HashBits = { bits: 0n, step: 0 };

/** The boxes to scan, in Redis's order: centre, N, S, E, W, NE, NW, SE, SW (ZERO = skip). */
export function searchBoxes(s: Shape): HashBits[] {
  const [minLon, minLat, maxLon, maxLat] = boundingBox(s);
  const radiusMeters =
    (s.type === "radius"
      ? s.radius
      : Math.sqrt((s.width / 2) * (s.width / 2) + (s.height / 2) * (s.height / 2))) *
    s.conversion;
  let steps = estimateSteps(radiusMeters, s.lat);
  let hash = encode(WGS84_LON, WGS84_LAT, s.lon, s.lat, steps) ?? { bits: 0n, step: steps };
  let n = neighbours(hash);
  let area = decode(hash);
  const north = decode(n.north), south = decode(n.south);
  const east = decode(n.east), west = decode(n.west);
  const decrease = north.lat.max < maxLat || south.lat.min > minLat ||
    east.lon.max < maxLon || west.lon.min > minLon;
  if (steps > 1 && decrease) {
    steps--;
    hash = encode(WGS84_LON, WGS84_LAT, s.lon, s.lat, steps) ?? { bits: 0n, step: steps };
    n = neighbours(hash);
    area = decode(hash);
  }
  if (steps >= 2) {
    if (area.lat.min < minLat) n.south = n.southWest = n.southEast = ZERO;
    if (area.lat.max > maxLat) n.north = n.northEast = n.northWest = ZERO;
    if (area.lon.min < minLon) n.west = n.southWest = n.northWest = ZERO;
    if (area.lon.max > maxLon) n.east = n.southEast = n.northEast = ZERO;
  }
  return [
    hash,
    n.north,
    n.south,
    n.east,
    n.west,
    n.northEast,
    n.northWest,
    n.southEast,
    n.southWest,
  ];
}

function neighbours(h: HashBits) {
  return {
    east: moveY(moveX(h, 1), 0),
    west: moveY(moveX(h, -1), 0),
    south: moveY(moveX(h, 0), -1),
    north: moveY(moveX(h, 0), 1),
    northWest: moveY(moveX(h, -1), 1),
    southWest: moveY(moveX(h, -1), -1),
    northEast: moveY(moveX(h, 1), 1),
    southEast: moveY(moveX(h, 1), -1),
  };
}

/** The score range [min, max) a box covers. */
export function boxScores(h: HashBits): [number, number] {
  return [Number(align52(h)), Number(align52({ bits: h.bits + 1n, step: h.step }))];
}

export function isZero(h: HashBits): boolean {
  return h.bits === 0n && h.step === 0;
}
