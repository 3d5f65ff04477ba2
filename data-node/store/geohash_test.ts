import { equal } from "node:assert/strict";
import {
  decodeScore,
  distance,
  GEO_LAT_MAX,
  GEO_LAT_MIN,
  GEO_LONG_MAX,
  GEO_LONG_MIN,
  scoreOf,
  scoreOfBig,
  standardGeohash,
} from "./geohash.ts";
import { formatFixed, formatHumanDouble } from "../../shared/resp/format.ts";

// Palermo as redis-server 7.0 stores and prints it (GEOADD, ZSCORE, GEOHASH, GEOPOS).
Deno.test("a position's score, geohash and decoded coordinates match Redis's", () => {
  const score = scoreOf(13.361389, 38.115556);
  equal(score, 3479099956230698);
  equal(standardGeohash(score), "sqc8b49rny0");
  const [lon, lat] = decodeScore(score);
  equal(formatHumanDouble(lon), "13.36138933897018433");
  equal(formatHumanDouble(lat), "38.11555639549629859");
});

Deno.test("the number-only score equals the BigInt geohash's for any valid position", () => {
  const edges = [
    [GEO_LONG_MIN, GEO_LAT_MIN],
    [GEO_LONG_MAX, GEO_LAT_MAX],
    [GEO_LONG_MIN, GEO_LAT_MAX],
    [GEO_LONG_MAX, GEO_LAT_MIN],
    [0, 0],
    [-0, -0],
    [179.99999999, 85.05112877],
    [-179.99999999, -85.05112877],
    [13.361389, 38.115556],
  ];
  for (const [lon, lat] of edges) {
    equal(scoreOf(lon!, lat!), scoreOfBig(lon!, lat!), `${lon},${lat}`);
  }
  let seed = 12345;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let i = 0; i < 20000; i++) {
    const lon = GEO_LONG_MIN + rnd() * (GEO_LONG_MAX - GEO_LONG_MIN);
    const lat = GEO_LAT_MIN + rnd() * (GEO_LAT_MAX - GEO_LAT_MIN);
    equal(scoreOf(lon, lat), scoreOfBig(lon, lat), `${lon},${lat}`);
    // Six decimals, as clients usually send them.
    const lon6 = Number(lon.toFixed(6)), lat6 = Number(lat.toFixed(6));
    equal(scoreOf(lon6, lat6), scoreOfBig(lon6, lat6), `${lon6},${lat6}`);
  }
});

Deno.test("distances use Redis's earth radius and print with four decimals", () => {
  const [lon1, lat1] = decodeScore(scoreOf(13.361389, 38.115556));
  const [lon2, lat2] = decodeScore(scoreOf(15.087269, 37.502669));
  equal(formatFixed(distance(lon1, lat1, lon2, lat2), 4), "166274.1516");
  equal(formatFixed(distance(1, 10, 1, 11), 4), formatFixed(6372797.560856 * Math.PI / 180, 4));
});

Deno.test("%f rounding ties go to even, as glibc's printf does", () => {
  equal(formatFixed(0.03125, 4), "0.0312");
  equal(formatFixed(0.09375, 4), "0.0938");
  equal(formatFixed(2.5, 0), "2");
  equal(formatFixed(-0.0, 2), "-0.00");
  equal(formatHumanDouble(-0.0), "0");
  equal(formatHumanDouble(1.5), "1.5");
});
