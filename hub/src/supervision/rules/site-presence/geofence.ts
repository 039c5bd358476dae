/** Where a sign-in was made against where its site is: a site has a location and a radius in the registry. */

export interface SiteArea {
  lat: number;
  lon: number;
  radiusM: number;
}

export interface Fix {
  lat: number;
  lon: number;
  /** The device's own estimate of its error, metres. */
  accuracyM?: number | undefined;
}

const EARTH_RADIUS_M = 6_371_008.8;
const rad = (deg: number) => (deg * Math.PI) / 180;

/** Great-circle distance (haversine), metres. */
export function distanceM(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const dLat = rad(b.lat - a.lat);
  const dLon = rad(b.lon - a.lon);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/**
 * Whether a sign-in's GPS fix lies outside the site: further from its centre than its radius, even granting the
 * fix its own stated error. `beyondM` is how far outside (0 when inside), for the dashboard and the report.
 */
export function outsideSite(fix: Fix, site: SiteArea): { outside: boolean; distanceM: number; beyondM: number } {
  const d = distanceM(fix, site);
  const beyond = Math.max(0, d - (fix.accuracyM ?? 0) - site.radiusM);
  return { outside: beyond > 0, distanceM: Math.round(d), beyondM: Math.round(beyond) };
}

/** A sign-in row's GPS fix (`lat`, `lon`, `accuracy_m` fields), or undefined when it carries none. */
export function fixOf(row: Record<string, unknown>): Fix | undefined {
  const lat = row.lat;
  const lon = row.lon;
  if (typeof lat !== "number" || typeof lon !== "number" || !Number.isFinite(lat) || !Number.isFinite(lon)) return undefined;
  return { lat, lon, accuracyM: typeof row.accuracy_m === "number" ? row.accuracy_m : undefined };
}

/** Whether a sign-in row was made outside `site` (false when the site has no location or the sign-in no fix). */
export function signedInOutside(row: Record<string, unknown>, site: SiteArea | undefined): boolean {
  const fix = fixOf(row);
  return site !== undefined && fix !== undefined && outsideSite(fix, site).outside;
}
