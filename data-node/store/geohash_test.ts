import { equal } from "node:assert/strict";
import { decodeScore, distance, scoreOf, standardGeohash } from "./geohash.ts";
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
