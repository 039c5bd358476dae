import { describe, expect, it } from "vitest";
import { missedCheckins } from "../src/supervision/rules/site-presence/checkins.ts";
import { distanceM, outsideSite } from "../src/supervision/rules/site-presence/geofence.ts";

const SITE = { lat: 31.2304, lon: 121.4737, radiusM: 200 };
/** Metres per degree of latitude (the WGS84 mean radius). */
const M_PER_DEG_LAT = (Math.PI * 6_371_008.8) / 180;

describe("site presence (logic; not yet a registered rule)", () => {
  it("measures distance on the sphere", () => {
    expect(distanceM(SITE, { lat: SITE.lat + 1000 / M_PER_DEG_LAT, lon: SITE.lon })).toBeCloseTo(1000, 0);
    expect(distanceM(SITE, SITE)).toBe(0);
  });

  it("flags a sign-in 300 m outside the site's radius, not one inside or within its own GPS error", () => {
    const northBy = (m: number) => ({ lat: SITE.lat + m / M_PER_DEG_LAT, lon: SITE.lon });
    expect(outsideSite({ ...northBy(500), accuracyM: 0 }, SITE)).toEqual({ outside: true, distanceM: 500, beyondM: 300 });
    expect(outsideSite({ ...northBy(150), accuracyM: 8 }, SITE)).toEqual({ outside: false, distanceM: 150, beyondM: 0 });
    expect(outsideSite({ ...northBy(220), accuracyM: 30 }, SITE).outside).toBe(false);
  });

  it("judges a chief supervisor who checked in twice in a week against a rule of three missing once", () => {
    const checkins = [
      { date: "2026-11-30", ts: 1 },
      { date: "2026-11-30", ts: 2 },
      { date: "2026-12-02", ts: 3 },
    ];
    expect(missedCheckins({ kind: "weekly", perWeek: 3 }, checkins)).toBe(1);
    expect(missedCheckins({ kind: "weekly", perWeek: 2 }, checkins)).toBe(0);
  });

  it("counts each set time of the day without a check-in as missed", () => {
    const windows = [
      { from: 0, to: 100 },
      { from: 200, to: 300 },
      { from: 400, to: 500 },
    ];
    expect(
      missedCheckins({ kind: "daily", windows }, [
        { date: "d", ts: 50 },
        { date: "d", ts: 450 },
      ]),
    ).toBe(1);
    expect(missedCheckins({ kind: "daily", windows }, [])).toBe(3);
  });
});
