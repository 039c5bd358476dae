/** The five supervision dashboards. Queries follow hub/SCHEMA.md; `$timeFilter` is Grafana's time range. */
import { COLORS, type Dashboard, dashboard, dashboardLink, tagFilter, tagVariable, target, thresholds } from "./builders.ts";

export const UIDS = {
  centre: "sv-centre",
  hall: "sv-hall",
  sites: "sv-sites",
  fleet: "sv-fleet",
  assessment: "sv-assessment",
} as const;

const PLACE = ["region", "town", "site"] as const;
const WINDOW = [...PLACE, "window"] as const;
const placeVariables = () => [
  tagVariable("region", "Region", "rating"),
  tagVariable("town", "Town", "rating", ["region"]),
  tagVariable("site", "Hall / site", "signin", ["region", "town"]),
];
const TODAY = { from: "now/d", to: "now" };
/** Satisfaction: red below 80 %, yellow below 90 %, like the cards. */
const SATISFACTION = thresholds(COLORS.red, [80, COLORS.yellow], [90, COLORS.green]);
/** Counts of bad things: zero is green, one yellow, more red. */
const BAD_COUNT = thresholds(COLORS.green, [1, COLORS.yellow], [3, COLORS.red]);
const SCORE = thresholds(COLORS.red, [80, COLORS.yellow], [90, COLORS.green]);
const hallLink = dashboardLink(
  "Open this hall",
  UIDS.hall,
  "The hall dashboard for this row's site",
  `/d/${UIDS.hall}?var-site=\${__field.labels.site}&\${__url_time_range}`,
);

function centre(): Dashboard {
  const f = tagFilter(PLACE);
  return dashboard({
    uid: UIDS.centre,
    title: "Supervision centre",
    description: "All halls and sites at a glance, for the big screen (kiosk mode).",
    tags: ["centre"],
    time: TODAY,
    refresh: "30s",
    variables: placeVariables(),
    links: [dashboardLink("Hall", UIDS.hall, "One hall's windows"), dashboardLink("Gateway fleet", UIDS.fleet, "Gateways and devices")],
    panels: [
      {
        type: "stat",
        title: "Clerks at their post now",
        description: "Windows whose camera saw presence in the last 15 minutes.",
        targets: [
          target(
            `SELECT sum("present") FROM (SELECT last("active") AS "present" FROM "motion" WHERE ${f} AND time > now() - 15m GROUP BY "site", "window")`,
          ),
        ],
        thresholds: thresholds(COLORS.neutral),
        w: 4,
        h: 5,
      },
      {
        type: "stat",
        title: "Unattended windows now",
        description: "Windows whose last camera state in the last 15 minutes is 'end' (nobody there).",
        targets: [
          target(
            // count - sum, not a count of zeros: it says 0 (not "no data") when every window is attended.
            `SELECT count("present") - sum("present") FROM (SELECT last("active") AS "present" FROM "motion" WHERE ${f} AND time > now() - 15m GROUP BY "site", "window")`,
          ),
        ],
        thresholds: BAD_COUNT,
        w: 4,
        h: 5,
      },
      {
        type: "stat",
        title: "Ratings today",
        targets: [target(`SELECT sum("rated") FROM "rating" WHERE ${f} AND $timeFilter`)],
        thresholds: thresholds(COLORS.neutral),
        w: 4,
        h: 5,
      },
      {
        type: "stat",
        title: "Satisfaction rate today",
        targets: [target(`SELECT sum("positive") * 100 / sum("rated") FROM "rating" WHERE ${f} AND $timeFilter`)],
        unit: "percent",
        decimals: 1,
        min: 0,
        max: 100,
        thresholds: SATISFACTION,
        w: 4,
        h: 5,
      },
      {
        type: "stat",
        title: "Late and absent today",
        targets: [
          target(`SELECT count("level") AS "late" FROM "attendance" WHERE ${f} AND "status" = 'late' AND $timeFilter`, "time_series", "A"),
          target(
            `SELECT count("level") AS "absent" FROM "attendance" WHERE ${f} AND "status" = 'absent' AND $timeFilter`,
            "time_series",
            "B",
          ),
        ],
        thresholds: BAD_COUNT,
        w: 4,
        h: 5,
      },
      {
        type: "stat",
        title: "Integrity alerts today",
        description: "Gaps, altered or badly signed batches from gateways.",
        targets: [target(`SELECT count("seq") FROM "integrity_alert" WHERE $timeFilter`)],
        thresholds: thresholds(COLORS.green, [1, COLORS.red]),
        w: 4,
        h: 5,
      },
      {
        type: "table",
        title: "Open yellow and red cards",
        description: "Each subject's latest card; green ones are closed.",
        targets: [
          target(
            `SELECT "color_now", "reasons" FROM (SELECT last("level") AS "color_now", last("reasons") AS "reasons" FROM "card" WHERE ${f} GROUP BY "site", "subject_kind", "subject", "color") WHERE "color_now" > 0`,
            "table",
          ),
        ],
        thresholds: thresholds(COLORS.green, [1, COLORS.yellow], [2, COLORS.red]),
        links: [hallLink],
        w: 12,
        h: 10,
      },
      {
        type: "barchart",
        title: "Satisfaction by hall today",
        targets: [
          target(
            `SELECT sum("positive") * 100 / sum("rated") AS "satisfaction" FROM "rating" WHERE ${f} AND $timeFilter GROUP BY "site"`,
            "table",
          ),
        ],
        unit: "percent",
        min: 0,
        max: 100,
        thresholds: SATISFACTION,
        links: [hallLink],
        w: 12,
        h: 10,
      },
    ],
  });
}

function hall(): Dashboard {
  const f = tagFilter(WINDOW);
  return dashboard({
    uid: UIDS.hall,
    title: "Hall",
    description: "One hall's windows: who is there, ratings, attendance, motion and cards.",
    tags: ["hall"],
    time: TODAY,
    refresh: "1m",
    variables: [...placeVariables(), tagVariable("window", "Window", "rating", ["site"])],
    links: [dashboardLink("Supervision centre", UIDS.centre, "Back to all halls")],
    panels: [
      {
        type: "table",
        title: "Who is at each window",
        description: "The latest clerk sign-in per window today.",
        targets: [
          target(
            `SELECT last("seq") AS "seq" FROM "signin" WHERE ${f} AND "role" = 'clerk' AND $timeFilter GROUP BY "window", "person", "direction"`,
            "table",
          ),
        ],
        w: 12,
        h: 9,
      },
      {
        type: "barchart",
        title: "Ratings per window and clerk",
        targets: [
          target(
            `SELECT sum("positive") AS "positive", sum("negative") AS "negative", sum("rated") - sum("positive") - sum("negative") AS "neutral" FROM "rating" WHERE ${f} AND $timeFilter GROUP BY "window", "clerk"`,
            "table",
          ),
        ],
        w: 12,
        h: 9,
      },
      {
        type: "state-timeline",
        title: "Attendance timeline",
        targets: [
          target(`SELECT last("level") FROM "attendance" WHERE ${f} AND $timeFilter GROUP BY time(30m), "person", "status" fill(none)`),
        ],
        thresholds: thresholds(COLORS.green, [1, COLORS.yellow], [2, COLORS.red]),
        w: 24,
        h: 8,
      },
      {
        type: "timeseries",
        title: "Motion per camera",
        targets: [target(`SELECT sum("active") FROM "motion" WHERE ${f} AND $timeFilter GROUP BY time(15m), "camera" fill(0)`)],
        unit: "short",
        w: 12,
        h: 8,
      },
      {
        type: "table",
        title: "Cards and reasons",
        targets: [target(`SELECT "level", "reasons", "color", "subject" FROM "card" WHERE ${tagFilter(PLACE)} AND $timeFilter`, "table")],
        thresholds: thresholds(COLORS.green, [1, COLORS.yellow], [2, COLORS.red]),
        w: 12,
        h: 8,
      },
    ],
  });
}

function sites(): Dashboard {
  const f = tagFilter(PLACE);
  return dashboard({
    uid: UIDS.sites,
    title: "Construction sites",
    description: "Supervisors' sign-ins per site, on-time rate, absences and late-arriving offline sign-ins.",
    tags: ["sites"],
    time: { from: "now-7d", to: "now" },
    refresh: "5m",
    variables: placeVariables(),
    panels: [
      {
        type: "state-timeline",
        title: "Supervisors' sign-in timeline",
        targets: [
          target(
            `SELECT count("seq") FROM "signin" WHERE ${f} AND "role" = 'supervisor' AND $timeFilter GROUP BY time(1h), "site", "person" fill(none)`,
          ),
        ],
        w: 24,
        h: 8,
      },
      {
        type: "barchart",
        title: "Supervisor attendance by status",
        description: "On time against late, early leave and absent half days.",
        targets: [
          target(
            `SELECT count("level") AS "half_days" FROM "attendance" WHERE ${f} AND "role" = 'supervisor' AND $timeFilter GROUP BY "status"`,
            "table",
          ),
        ],
        w: 8,
        h: 6,
      },
      {
        type: "barchart",
        title: "Absences per site",
        targets: [
          target(
            `SELECT count("level") AS "absences" FROM "attendance" WHERE ${f} AND "role" = 'supervisor' AND "status" = 'absent' AND $timeFilter GROUP BY "site"`,
            "table",
          ),
        ],
        thresholds: BAD_COUNT,
        w: 8,
        h: 6,
      },
      {
        type: "table",
        title: "Late sign-ins from offline terminals",
        description: "Sign-ins that reached the hub more than 5 minutes after they happened.",
        targets: [target(`SELECT "delay_s", "person", "device" FROM "signin" WHERE ${f} AND "delay_s" > 300 AND $timeFilter`, "table")],
        unit: "s",
        w: 8,
        h: 6,
      },
    ],
  });
}

function fleet(): Dashboard {
  const g = `"site" =~ /^$site$/`;
  return dashboard({
    uid: UIDS.fleet,
    title: "Gateway fleet",
    description: "For field engineers: each gateway's contact, devices, buffer, uplink and rejected readings.",
    tags: ["fleet"],
    time: { from: "now-24h", to: "now" },
    refresh: "1m",
    variables: [tagVariable("site", "Hall / site", "health.gateway_health")],
    panels: [
      {
        type: "table",
        title: "Gateways",
        description: "Last contact, devices online, buffer depth, oldest unsent reading and uplink round trip.",
        targets: [
          target(
            `SELECT last("online") AS "online", last("devices_online") AS "devices_online", last("devices_total") AS "devices_total", last("buffer_depth") AS "buffer_depth", last("oldest_age_s") AS "oldest_unsent_s", last("rtt_ms") AS "rtt_ms" FROM "health"."gateway_health" WHERE ${g} AND $timeFilter GROUP BY "gateway", "site"`,
            "table",
          ),
        ],
        links: [hallLink],
        w: 24,
        h: 8,
      },
      {
        type: "timeseries",
        title: "Buffer depth",
        targets: [
          target(
            `SELECT max("buffer_depth") FROM "health"."gateway_health" WHERE ${g} AND $timeFilter GROUP BY time($__interval), "gateway" fill(none)`,
          ),
        ],
        unit: "short",
        thresholds: thresholds(COLORS.green, [1000, COLORS.yellow], [10000, COLORS.red]),
        w: 12,
        h: 8,
      },
      {
        type: "timeseries",
        title: "Oldest unsent reading",
        targets: [
          target(
            `SELECT max("oldest_age_s") FROM "health"."gateway_health" WHERE ${g} AND $timeFilter GROUP BY time($__interval), "gateway" fill(none)`,
          ),
        ],
        unit: "s",
        thresholds: thresholds(COLORS.green, [300, COLORS.yellow], [3600, COLORS.red]),
        w: 12,
        h: 8,
      },
      {
        type: "timeseries",
        title: "Uplink round trip",
        targets: [
          target(
            `SELECT mean("rtt_ms") FROM "health"."gateway_health" WHERE ${g} AND $timeFilter GROUP BY time($__interval), "gateway" fill(none)`,
          ),
        ],
        unit: "ms",
        w: 12,
        h: 8,
      },
      {
        type: "state-timeline",
        title: "Devices online (heartbeats per 5 min)",
        // Devices report heartbeats (every 60 s by default): none in a 5-minute slot means the device was silent.
        targets: [target(`SELECT count("seq") FROM "health"."heartbeat" WHERE ${g} AND $timeFilter GROUP BY time(5m), "device" fill(0)`)],
        thresholds: thresholds(COLORS.red, [1, COLORS.green]),
        w: 12,
        h: 8,
      },
      {
        type: "barchart",
        title: "Rejected readings by reason",
        description: "Integrity alerts per gateway and kind (gap, altered, bad signature, malformed, ...).",
        targets: [target(`SELECT count("seq") AS "rejected" FROM "integrity_alert" WHERE $timeFilter GROUP BY "gateway", "kind"`, "table")],
        thresholds: BAD_COUNT,
        w: 24,
        h: 8,
      },
    ],
  });
}

function assessment(): Dashboard {
  const f = tagFilter(PLACE);
  return dashboard({
    uid: UIDS.assessment,
    title: "Assessment",
    description: "Monthly scores per clerk and window unit, deductions by rule, trends across months.",
    tags: ["assessment"],
    time: { from: "now-6M/M", to: "now" },
    refresh: "1h",
    variables: placeVariables(),
    panels: [
      {
        type: "table",
        title: "Monthly scores",
        targets: [
          target(
            `SELECT last("score") AS "score", last("deductions") AS "deductions", last("bonuses") AS "bonuses" FROM "score_monthly" WHERE ${f} AND $timeFilter GROUP BY "subject_kind", "subject", "department"`,
            "table",
          ),
        ],
        thresholds: SCORE,
        w: 12,
        h: 10,
      },
      {
        type: "barchart",
        title: "Deductions by rule",
        targets: [target(`SELECT sum("points") AS "points" FROM "deduction" WHERE ${f} AND $timeFilter GROUP BY "rule"`, "table")],
        w: 12,
        h: 10,
      },
      {
        type: "timeseries",
        title: "Score trend across months",
        targets: [target(`SELECT mean("score") FROM "score_monthly" WHERE ${f} AND $timeFilter GROUP BY time(30d), "subject" fill(none)`)],
        thresholds: SCORE,
        min: 0,
        max: 100,
        w: 24,
        h: 8,
      },
    ],
  });
}

/** All dashboards the hub provisions, in a stable order. */
export function allDashboards(): Dashboard[] {
  return [centre(), hall(), sites(), fleet(), assessment()];
}
