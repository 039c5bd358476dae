/** The supervision dashboards. Queries follow hub/SCHEMA.md; `$timeFilter` is Grafana's time range. */
import { INFLUXQL, type TagOf } from "@supervision/hub/schema";
import {
  COLORS,
  customVariable,
  type Dashboard,
  dashboard,
  dashboardLink,
  selectVariable,
  tagFilter,
  tagVariable,
  target,
  type FieldOverride,
  thresholds,
  valueMapping,
  withDatasourceVariable,
} from "./builders.ts";
import { type DashboardMessages, dashboardMessages, type Locale } from "./messages.ts";
import { labelTagColumns } from "./names.ts";

const {
  attendance,
  card,
  deduction,
  device_availability,
  dissatisfaction,
  duty,
  gateway_health,
  integrity_alert,
  item_event,
  item_state,
  motion,
  province_attendance,
  province_card,
  province_item,
  province_rating,
  province_warning,
  queue_event,
  rating,
  score_monthly,
  signin,
  site_presence,
  transaction,
  warning,
} = INFLUXQL;

/** The hub's HTTP API at its defaults (http.host 127.0.0.1, http.port 8080): where the live view link goes unless told. */
export const DEFAULT_HUB_URL = "http://127.0.0.1:8080";

export const UIDS = {
  centre: "sv-centre",
  centreDetail: "sv-centre-detail",
  hall: "sv-hall",
  sites: "sv-sites",
  fleet: "sv-fleet",
  assessment: "sv-assessment",
  items: "sv-items",
  province: "sv-province",
} as const;

/**
 * What fits a 1920×1080 screen in Grafana's kiosk mode: grid rows of 30 px with 8 px between them, under the
 * dashboard's own padding (16 px). The big screen's panels end within `KIOSK_ROWS` rows and 24 columns.
 */
export const KIOSK = { heightPx: 1080, rowPx: 30, marginPx: 8, paddingPx: 16 } as const;
export const KIOSK_ROWS = Math.floor((KIOSK.heightPx - KIOSK.paddingPx + KIOSK.marginPx) / (KIOSK.rowPx + KIOSK.marginPx));

/** The placement tags every dashboard filters by (the template variables of the same names). */
const PLACE = ["region", "town", "site"] as const satisfies readonly TagOf<"rating">[];
const WINDOW = [...PLACE, "window"] as const satisfies readonly TagOf<"rating">[];
const placeVariables = (m: DashboardMessages) => [
  tagVariable("region", m.variables.region, rating.NAME),
  tagVariable("town", m.variables.town, rating.NAME, ["region"]),
  tagVariable("site", m.variables.site, signin.NAME, ["region", "town"]),
];
const TODAY = { from: "now/d", to: "now" };
/** Satisfaction: red below 80 %, yellow below 90 %, like the cards. */
const SATISFACTION = thresholds(COLORS.red, [80, COLORS.yellow], [90, COLORS.green]);
/** Counts of bad things: zero is green, one yellow, more red. */
const BAD_COUNT = thresholds(COLORS.green, [1, COLORS.yellow], [3, COLORS.red]);
const SCORE = thresholds(COLORS.red, [80, COLORS.yellow], [90, COLORS.green]);
const hallLink = (m: DashboardMessages) =>
  dashboardLink(m.links.openHall, UIDS.hall, m.links.openHallTip, `/d/${UIDS.hall}?var-site=\${__field.labels.site}&\${__url_time_range}`);

/** The queries the big screen and its detail dashboard share (a count on the one, its rows on the other). */
function centreQueries(m: DashboardMessages) {
  const f = tagFilter(PLACE);
  // Today's card of each subject (cards are judged per day, stamped at the day's first shift start).
  const cardsToday = `SELECT last(${card.level}) AS "level", last(${card.reasons}) AS "reasons" FROM ${card.NAME} WHERE ${f} AND $timeFilter GROUP BY ${card.site}, ${card.subject_kind}, ${card.subject}`;
  // Each supervisor on duty today: signed in for any shift begun (the attendance rule's `duty` points) or not.
  const supervisorsToday = `SELECT max(${duty.signed_in}) AS "signed" FROM ${duty.NAME} WHERE ${f} AND ${duty.role} = 'supervisor' AND $timeFilter GROUP BY ${duty.site}, ${duty.person}`;
  // Waiting until a supervisor verifies or dismisses them (the dissatisfaction rule rewrites only the waiting ones).
  const toVerify = `${dissatisfaction.NAME} WHERE ${f} AND ${dissatisfaction.state} = 'to_verify' AND time > now() - 31d`;
  // Devices and gateways the equipment rule finds silent now: each one's latest offline warning still active (a
  // warning is stamped at the last contact, and written again with active 0 when the device is back).
  const offlineNow = (kinds: string, select: string) =>
    `SELECT ${select} FROM (SELECT last(${warning.active}) AS "active" FROM ${warning.NAME} WHERE ${f} AND ${warning.category} = 'equipment' AND ${warning.rule} = 'offline' AND ${warning.subject_kind} =~ /^(${kinds})$/ AND time > now() - 30d GROUP BY ${warning.site}, ${warning.subject_kind}, ${warning.subject}) WHERE "active" = 1`;
  // Approval items: item_state points are stamped at acceptance, so open ones are looked for over the items rule's
  // lookback (400 days), not the dashboard's time range.
  const openItems = `${item_state.NAME} WHERE ${f} AND ${item_state.open} = 1`;
  return { f, cardsToday, supervisorsToday, toVerify, offlineNow, openItems, b: m.bigScreen, c: m.columns, t: m.centre };
}

/** The centre's detail dashboard, as a panel link from the big screen: its time range and place variables kept. */
const detailLink = (m: DashboardMessages) =>
  dashboardLink(m.links.detail, UIDS.centreDetail, m.links.detailTip, `/d/${UIDS.centreDetail}?\${__url_time_range}&\${__all_variables}`);

/**
 * The big screen: numbers and state blocks only, so that it fits a 1920×1080 kiosk (`KIOSK_ROWS` grid rows); the
 * rows behind each count are on the detail dashboard, one panel link away.
 */
function centre(m: DashboardMessages): Dashboard {
  const { f, cardsToday, supervisorsToday, toVerify, offlineNow, openItems, b, c, t } = centreQueries(m);
  // Each window's last camera state today: 1 someone there, 0 nobody. A window that emptied hours ago keeps its 0
  // (it is the one the rules warn about), and a seated clerk whose camera stays quiet keeps the 1 of the last start.
  const lastMotion = `SELECT last(${motion.active}) AS "present" FROM ${motion.NAME} WHERE ${f} AND $timeFilter GROUP BY ${motion.site}, ${motion.window}`;
  // People, not half days: one row per person with the status today, then counted.
  const people = (statuses: string, alias: string) =>
    `SELECT count("judged") AS "${alias}" FROM (SELECT last(${attendance.level}) AS "judged" FROM ${attendance.NAME} WHERE ${f} AND ${attendance.status} =~ /^(${statuses})$/ AND $timeFilter GROUP BY ${attendance.site}, ${attendance.person})`;
  const details = [detailLink(m)];
  return dashboard({
    annotationsName: m.annotations.warningsAndCards,
    uid: UIDS.centre,
    title: t.title,
    description: t.description,
    tags: ["centre"],
    time: TODAY,
    refresh: "30s",
    variables: placeVariables(m),
    links: [
      dashboardLink(m.links.detail, UIDS.centreDetail, m.links.detailTip),
      dashboardLink(m.links.hall, UIDS.hall, m.links.hallTip),
      dashboardLink(m.links.fleet, UIDS.fleet, m.links.fleetTip),
    ],
    panels: [
      {
        type: "stat",
        ...t.atPost,
        noValue: "0",
        targets: [target(`SELECT sum("present") FROM (${lastMotion})`)],
        thresholds: thresholds(COLORS.neutral),
        w: 4,
        h: 5,
      },
      {
        type: "stat",
        ...t.unattended,
        noValue: "0",
        // count - sum, not a count of zeros: it says 0 (not "no data") when every window is attended. Apart: windows
        // whose camera is offline now (the unattended rule's camera_offline warning of the episode still going on), which
        // the rule does not judge and whose last motion state says nothing of now.
        targets: [
          target(`SELECT count("present") - sum("present") AS "${b.unattendedNow}" FROM (${lastMotion})`, "time_series", "A"),
          target(
            `SELECT count("active") AS "${b.cameraOffline}" FROM (SELECT last(${warning.active}) AS "active" FROM ${warning.NAME} WHERE ${f} AND ${warning.rule} = 'camera_offline' AND $timeFilter GROUP BY ${warning.site}, ${warning.subject}) WHERE "active" = 1`,
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
        ...t.ratings,
        targets: [target(`SELECT sum(${rating.rated}) FROM ${rating.NAME} WHERE ${f} AND $timeFilter`)],
        thresholds: thresholds(COLORS.neutral),
        w: 4,
        h: 5,
      },
      {
        type: "stat",
        ...t.satisfaction,
        targets: [target(`SELECT sum(${rating.positive}) * 100 / sum(${rating.rated}) FROM ${rating.NAME} WHERE ${f} AND $timeFilter`)],
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
        ...t.lateAbsent,
        noValue: "0",
        targets: [
          target(people("late", c.late), "time_series", "A"),
          target(people("absent", c.absent), "time_series", "B"),
          target(people("early_leave|left_post", c.leftPost), "time_series", "C"),
        ],
        thresholds: BAD_COUNT,
        w: 4,
        h: 5,
      },
      {
        type: "stat",
        ...t.integrity,
        noValue: "0",
        targets: [target(`SELECT count(${integrity_alert.seq}) FROM ${integrity_alert.NAME} WHERE $timeFilter`)],
        thresholds: thresholds(COLORS.green, [1, COLORS.red]),
        w: 4,
        h: 5,
      },
      {
        type: "stat",
        ...b.departments,
        // One block per department: the worst of today's cards of its clerks, windows and approval items.
        targets: [
          target(
            `SELECT max("level") AS "${b.state}" FROM (SELECT last(${card.level}) AS "level" FROM ${card.NAME} WHERE ${f} AND $timeFilter GROUP BY ${card.site}, ${card.department}, ${card.subject_kind}, ${card.subject}) WHERE ${card.department} != '' GROUP BY ${card.department}`,
            "table",
          ),
        ],
        thresholds: thresholds(COLORS.green, [1, COLORS.yellow], [2, COLORS.red]),
        mappings: [valueMapping({ 0: [b.states.green, COLORS.green], 1: [b.states.yellow, COLORS.yellow], 2: [b.states.red, COLORS.red] })],
        options: {
          reduceOptions: { values: true, calcs: [], fields: "" },
          colorMode: "background",
          graphMode: "none",
          textMode: "value_and_name",
          justifyMode: "center",
          orientation: "auto",
        },
        panelLinks: details,
        w: 16,
        h: 5,
      },
      {
        type: "stat",
        ...b.offlineCount,
        noValue: "0",
        targets: [
          target(offlineNow("device", `count("active") AS "${b.devices}"`), "time_series", "A"),
          target(offlineNow("gateway", `count("active") AS "${b.gateways}"`), "time_series", "B"),
        ],
        thresholds: BAD_COUNT,
        panelLinks: details,
        w: 8,
        h: 5,
      },
      {
        type: "stat",
        ...b.openCards,
        noValue: "0",
        targets: [
          target(`SELECT count("level") AS "${b.yellowCards}" FROM (${cardsToday}) WHERE "level" = 1`, "time_series", "A"),
          target(`SELECT count("level") AS "${b.redCards}" FROM (${cardsToday}) WHERE "level" = 2`, "time_series", "B"),
        ],
        thresholds: BAD_COUNT,
        panelLinks: details,
        w: 6,
        h: 5,
      },
      {
        type: "stat",
        ...t.warningsWaiting,
        noValue: "0",
        // Every warning point is one warning (its series and start time); its handling state is written on it.
        targets: [
          target(
            `SELECT count(${warning.handling_overdue}) AS "${c.waiting}" FROM ${warning.NAME} WHERE ${f} AND ${warning.handling} =~ /^(open|acknowledged)$/ AND $timeFilter`,
            "time_series",
            "A",
          ),
          target(
            `SELECT count(${warning.handling_overdue}) AS "${c.overdue}" FROM ${warning.NAME} WHERE ${f} AND ${warning.handling_overdue} = 1 AND $timeFilter`,
            "time_series",
            "B",
          ),
        ],
        thresholds: BAD_COUNT,
        panelLinks: details,
        w: 6,
        h: 5,
      },
      {
        type: "stat",
        ...b.toVerifyCount,
        noValue: "0",
        targets: [target(`SELECT count(${dissatisfaction.rating_id}) AS "${b.ratingsToVerify}" FROM ${toVerify}`)],
        thresholds: BAD_COUNT,
        panelLinks: details,
        w: 6,
        h: 5,
      },
      {
        type: "stat",
        ...b.notSignedInCount,
        noValue: "0",
        targets: [target(`SELECT count("signed") AS "${b.supervisors}" FROM (${supervisorsToday}) WHERE "signed" = 0`)],
        thresholds: BAD_COUNT,
        panelLinks: details,
        w: 6,
        h: 5,
      },
      {
        type: "barchart",
        ...t.satisfactionByHall,
        targets: [
          target(
            `SELECT sum(${rating.positive}) * 100 / sum(${rating.rated}) AS "${c.satisfaction}" FROM ${rating.NAME} WHERE ${f} AND $timeFilter GROUP BY ${rating.site}`,
            "table",
          ),
        ],
        unit: "percent",
        min: 0,
        max: 100,
        thresholds: SATISFACTION,
        links: [hallLink(m)],
        w: 12,
        h: 11,
      },
      {
        type: "table",
        ...t.itemsByDepartment,
        // No open application (a hall without items, a quiet month) is nothing to show, not missing data.
        noValue: "0",
        targets: [
          target(
            `SELECT sum(${item_state.open}) AS "${c.inProgress}", sum(${item_state.near}) AS "${c.nearLimit}", sum(${item_state.overdue}) AS "${c.itemsOverdue}", sum(${item_state.complaints}) AS "${c.complained}" FROM ${openItems} AND time > now() - 400d GROUP BY ${item_state.department}`,
            "table",
          ),
        ],
        panelLinks: details,
        w: 12,
        h: 11,
      },
    ],
  });
}

/**
 * A warning row's link to its snapshot (an unattended window's, taken by the hub's cameras extension and written on
 * the warning by the next rules run): the hub's evidence page, which fetches the image with the viewer's token and
 * checks it against the recorded hash. Ids are URL-safe (registry ids), a hash is hex.
 */
export const SNAPSHOT_FIELDS = { device: "snapshot_device", sha256: "snapshot_sha256" } as const;
const snapshotLink = (m: DashboardMessages, hubUrl: string) =>
  dashboardLink(
    m.links.snapshot,
    UIDS.centreDetail,
    m.links.snapshotTip,
    `${hubUrl}/cameras/snapshot?device=\${__data.fields.${SNAPSHOT_FIELDS.device}}&sha256=\${__data.fields.${SNAPSHOT_FIELDS.sha256}}`,
  );

/** The rows behind the big screen's counts: who, where and why, for the centre's operators (not for the kiosk). */
function centreDetail(m: DashboardMessages, hubUrl: string): Dashboard {
  const { f, cardsToday, supervisorsToday, toVerify, offlineNow, openItems, b, c, t } = centreQueries(m);
  return dashboard({
    annotationsName: m.annotations.warningsAndCards,
    uid: UIDS.centreDetail,
    title: m.centreDetail.title,
    description: m.centreDetail.description,
    tags: ["centre"],
    time: TODAY,
    refresh: "1m",
    variables: placeVariables(m),
    links: [
      dashboardLink(m.links.centre, UIDS.centre, m.links.centreTip),
      dashboardLink(m.links.hall, UIDS.hall, m.links.hallTip),
      dashboardLink(m.links.fleet, UIDS.fleet, m.links.fleetTip),
    ],
    panels: [
      {
        type: "table",
        ...t.warnings,
        targets: [
          target(
            `SELECT ${warning.message} AS "${c.warning}", ${warning.handling} AS "${c.handling}", ${warning.handled_by} AS "${c.handledBy}", ${warning.handling_overdue} AS "${c.overdue}", ${warning.snapshot_device} AS "${SNAPSHOT_FIELDS.device}", ${warning.snapshot_sha256} AS "${SNAPSHOT_FIELDS.sha256}" FROM ${warning.NAME} WHERE ${f} AND ${warning.handling} != 'closed' AND $timeFilter GROUP BY ${warning.site}, ${warning.subject_kind}, ${warning.subject}, ${warning.rule}, ${warning.severity}`,
            "table",
          ),
        ],
        // The snapshot's columns keep their field names (the link reads them) and show the catalogue's headers; the
        // hash is the link, so a row without a snapshot has nothing to click.
        overrides: [
          { matcher: { id: "byName", options: SNAPSHOT_FIELDS.device }, properties: [{ id: "displayName", value: c.snapshotCamera }] },
          {
            matcher: { id: "byName", options: SNAPSHOT_FIELDS.sha256 },
            properties: [
              { id: "displayName", value: c.snapshotHash },
              { id: "links", value: [snapshotLink(m, hubUrl)] },
            ],
          },
        ],
        mappings: [
          valueMapping({
            open: [m.handlingStates.open, COLORS.red],
            acknowledged: [m.handlingStates.acknowledged, COLORS.yellow],
            handled: [m.handlingStates.handled, COLORS.green],
            closed: [m.handlingStates.closed],
          }),
        ],
        links: [hallLink(m)],
        w: 24,
        h: 10,
      },
      {
        type: "table",
        ...t.cards,
        // The outer GROUP BY keeps the tags, so each row says who and where, and the hall link has its site.
        targets: [
          target(
            `SELECT "level" AS "${c.card}", "reasons" AS "${c.reasons}" FROM (${cardsToday}) WHERE "level" > 0 GROUP BY ${card.site}, ${card.subject_kind}, ${card.subject}`,
            "table",
          ),
        ],
        thresholds: thresholds(COLORS.green, [1, COLORS.yellow], [2, COLORS.red]),
        links: [hallLink(m)],
        w: 12,
        h: 10,
      },
      {
        type: "table",
        ...b.toVerify,
        noValue: "0",
        // The rating's id is what `hub verify` and `hub dismiss` take.
        targets: [
          target(
            `SELECT ${dissatisfaction.rating_id} AS "${b.rating}", ${dissatisfaction.clerk}, ${dissatisfaction.window}, ${dissatisfaction.site} FROM ${toVerify} ORDER BY time DESC`,
            "table",
          ),
        ],
        w: 12,
        h: 10,
      },
      {
        type: "table",
        ...b.notSignedIn,
        noValue: b.allSignedIn,
        targets: [
          target(
            `SELECT "signed" AS "${b.state}" FROM (${supervisorsToday}) WHERE "signed" = 0 GROUP BY ${duty.site}, ${duty.person}`,
            "table",
          ),
        ],
        mappings: [valueMapping({ 0: [b.notYetSignedIn, COLORS.red] })],
        w: 12,
        h: 8,
      },
      {
        type: "table",
        ...b.offline,
        noValue: "0",
        targets: [
          target(
            `${offlineNow("device|gateway", `"active" AS "${b.state}"`)} GROUP BY ${warning.site}, ${warning.subject_kind}, ${warning.subject}`,
            "table",
          ),
        ],
        mappings: [valueMapping({ 1: [b.offlineNow, COLORS.red] })],
        w: 12,
        h: 8,
      },
      {
        type: "table",
        ...t.itemsNearLimit,
        // No open application (a hall without items, a quiet month) is nothing to show, not missing data.
        noValue: "0",
        targets: [
          target(
            `SELECT ${item_state.application} AS "${c.application}", ${item_state.handler} AS "${c.handler}", ${item_state.due_date} AS "${c.due}", ${item_state.left} AS "${c.daysLeft}", ${item_state.overdue_days} AS "${c.itemsOverdue}" FROM ${openItems} AND (${item_state.near} = 1 OR ${item_state.overdue} = 1) AND time > now() - 400d GROUP BY ${item_state.department}, ${item_state.item}`,
            "table",
          ),
        ],
        w: 24,
        h: 10,
      },
    ],
  });
}

function hall(m: DashboardMessages, hubUrl: string): Dashboard {
  const f = tagFilter(WINDOW);
  const t = m.hall;
  const b = m.bigScreen;
  const c = m.columns;
  return dashboard({
    annotationsName: m.annotations.warningsAndCards,
    uid: UIDS.hall,
    title: t.title,
    description: t.description,
    tags: ["hall"],
    time: TODAY,
    refresh: "1m",
    variables: [...placeVariables(m), tagVariable("window", m.variables.window, rating.NAME, ["site"])],
    // The hub's live view page; Grafana adds the dashboard's variables (var-site) to the link.
    links: [
      dashboardLink(m.links.centre, UIDS.centre, m.links.centreTip),
      dashboardLink(m.links.liveView, UIDS.hall, m.links.liveViewTip, `${hubUrl}/live`),
    ],
    panels: [
      {
        type: "table",
        ...t.whoIsThere,
        targets: [
          // Each clerk's last sign-in or sign-out today, kept when it is a sign-in: who is signed in now, since when.
          target(
            `SELECT "direction" AS "${b.state}" FROM (SELECT last(${signin.seq}) AS "seq", ${signin.direction} AS "direction" FROM ${signin.NAME} WHERE ${f} AND ${signin.role} = 'clerk' AND $timeFilter GROUP BY ${signin.window}, ${signin.person}) WHERE "direction" = 'in' GROUP BY ${signin.window}, ${signin.person}`,
            "table",
          ),
        ],
        mappings: [valueMapping({ in: [b.signedIn, COLORS.green] })],
        w: 12,
        h: 9,
      },
      {
        type: "barchart",
        ...t.ratingsPerWindow,
        targets: [
          target(
            `SELECT sum(${rating.positive}) AS "${c.positive}", sum(${rating.negative}) AS "${c.negative}", sum(${rating.rated}) - sum(${rating.positive}) - sum(${rating.negative}) AS "${c.neutral}" FROM ${rating.NAME} WHERE ${f} AND $timeFilter GROUP BY ${rating.window}, ${rating.clerk}`,
            "table",
          ),
        ],
        w: 12,
        h: 9,
      },
      {
        type: "barchart",
        ...t.transactionsPerWindow,
        targets: [
          // Each finished service at a window (the queue system's `finished` event) is one transaction.
          target(
            `SELECT count(${queue_event.seq}) AS "${c.transactions}" FROM ${queue_event.NAME} WHERE ${f} AND ${queue_event.type} = 'finished' AND $timeFilter GROUP BY ${queue_event.window}`,
            "table",
          ),
        ],
        w: 12,
        h: 8,
      },
      {
        type: "table",
        ...t.serviceTimesPerWindow,
        targets: [
          // The items rule's transaction points: one per transaction finished, with its waiting and service seconds.
          target(
            `SELECT mean(${transaction.waiting_s}) / 60 AS "${c.waitingMinutes}", mean(${transaction.service_s}) / 60 AS "${c.serviceMinutes}" FROM ${transaction.NAME} WHERE ${f} AND $timeFilter GROUP BY ${transaction.window}`,
            "table",
          ),
        ],
        decimals: 1,
        w: 12,
        h: 8,
      },
      {
        type: "state-timeline",
        ...t.attendanceTimeline,
        targets: [
          target(
            `SELECT last(${attendance.level}) FROM ${attendance.NAME} WHERE ${f} AND $timeFilter GROUP BY time(30m), ${attendance.person}, ${attendance.status} fill(none)`,
          ),
        ],
        thresholds: thresholds(COLORS.green, [1, COLORS.yellow], [2, COLORS.red]),
        w: 24,
        h: 8,
      },
      {
        type: "timeseries",
        ...t.motionPerCamera,
        targets: [
          target(
            `SELECT sum(${motion.active}) FROM ${motion.NAME} WHERE ${f} AND $timeFilter GROUP BY time(15m), ${motion.camera} fill(0)`,
          ),
        ],
        unit: "short",
        w: 12,
        h: 8,
      },
      {
        type: "table",
        ...t.cards,
        targets: [
          target(
            `SELECT ${card.level}, ${card.reasons}, ${card.color}, ${card.subject} FROM ${card.NAME} WHERE ${tagFilter(PLACE)} AND $timeFilter`,
            "table",
          ),
        ],
        thresholds: thresholds(COLORS.green, [1, COLORS.yellow], [2, COLORS.red]),
        w: 12,
        h: 8,
      },
    ],
  });
}

function sites(m: DashboardMessages): Dashboard {
  const f = tagFilter(PLACE);
  const t = m.sites;
  const c = m.columns;
  return dashboard({
    annotationsName: m.annotations.warningsAndCards,
    uid: UIDS.sites,
    title: t.title,
    description: t.description,
    tags: ["sites"],
    time: { from: "now-7d", to: "now" },
    refresh: "5m",
    variables: placeVariables(m),
    panels: [
      {
        type: "state-timeline",
        ...t.signinTimeline,
        targets: [
          target(
            `SELECT count(${signin.seq}) FROM ${signin.NAME} WHERE ${f} AND ${signin.role} = 'supervisor' AND $timeFilter GROUP BY time(1h), ${signin.site}, ${signin.person} fill(none)`,
          ),
        ],
        w: 24,
        h: 8,
      },
      {
        type: "barchart",
        ...t.attendanceByStatus,
        targets: [
          target(
            `SELECT count(${attendance.level}) AS "${c.halfDays}" FROM ${attendance.NAME} WHERE ${f} AND ${attendance.role} = 'supervisor' AND $timeFilter GROUP BY ${attendance.status}`,
            "table",
          ),
        ],
        w: 8,
        h: 6,
      },
      {
        type: "barchart",
        ...t.absencesPerSite,
        targets: [
          target(
            `SELECT count(${attendance.level}) AS "${c.absences}" FROM ${attendance.NAME} WHERE ${f} AND ${attendance.role} = 'supervisor' AND ${attendance.status} = 'absent' AND $timeFilter GROUP BY ${attendance.site}`,
            "table",
          ),
        ],
        thresholds: BAD_COUNT,
        w: 8,
        h: 6,
      },
      {
        type: "table",
        ...t.lateOffline,
        targets: [
          target(
            `SELECT ${signin.delay_s}, ${signin.person}, ${signin.device} FROM ${signin.NAME} WHERE ${f} AND ${signin.delay_s} > 300 AND $timeFilter`,
            "table",
          ),
        ],
        unit: "s",
        w: 8,
        h: 6,
      },
      {
        type: "barchart",
        ...t.presencePerSite,
        targets: [
          target(
            `SELECT sum(${site_presence.count}) AS "${c.outsideRadius}" FROM ${site_presence.NAME} WHERE ${f} AND ${site_presence.finding} = 'outside_radius' AND $timeFilter GROUP BY ${site_presence.site}`,
            "table",
          ),
          target(
            `SELECT sum(${site_presence.count}) AS "${c.missedCheckins}" FROM ${site_presence.NAME} WHERE ${f} AND ${site_presence.finding} = 'missed_checkin' AND $timeFilter GROUP BY ${site_presence.site}`,
            "table",
          ),
        ],
        thresholds: BAD_COUNT,
        // Nobody outside and no check-in missed is a count of 0, not "no data".
        noValue: "0",
        w: 12,
        h: 6,
      },
      {
        type: "table",
        ...t.outsideSignins,
        targets: [
          target(
            `SELECT ${site_presence.person}, ${site_presence.distance_m} AS "${c.distance}", ${site_presence.beyond_m} AS "${c.beyond}" FROM ${site_presence.NAME} WHERE ${f} AND ${site_presence.finding} = 'outside_radius' AND $timeFilter`,
            "table",
          ),
        ],
        w: 12,
        h: 6,
      },
    ],
  });
}

function fleet(m: DashboardMessages): Dashboard {
  const g = tagFilter(["site"] satisfies TagOf<"gateway_health">[]);
  const t = m.fleet;
  const c = m.columns;
  return dashboard({
    annotationsName: m.annotations.warningsAndCards,
    uid: UIDS.fleet,
    title: t.title,
    description: t.description,
    tags: ["fleet"],
    time: { from: "now-24h", to: "now" },
    refresh: "1m",
    variables: [tagVariable("site", m.variables.site, gateway_health.FROM)],
    panels: [
      {
        type: "table",
        ...t.gateways,
        targets: [
          target(
            `SELECT last(${gateway_health.online}) AS "${c.online}", last(${gateway_health.devices_online}) AS "${c.devicesOnline}", last(${gateway_health.devices_total}) AS "${c.devicesTotal}", last(${gateway_health.buffer_depth}) AS "${c.bufferDepth}", last(${gateway_health.oldest_age_s}) AS "${c.oldestUnsent}", last(${gateway_health.rtt_ms}) AS "${c.rtt}" FROM ${gateway_health.FROM} WHERE ${g} AND $timeFilter GROUP BY ${gateway_health.gateway}, ${gateway_health.site}`,
            "table",
          ),
        ],
        links: [hallLink(m)],
        w: 24,
        h: 8,
      },
      {
        type: "timeseries",
        ...t.bufferDepth,
        targets: [
          target(
            `SELECT max(${gateway_health.buffer_depth}) FROM ${gateway_health.FROM} WHERE ${g} AND $timeFilter GROUP BY time($__interval), ${gateway_health.gateway} fill(none)`,
          ),
        ],
        unit: "short",
        thresholds: thresholds(COLORS.green, [1000, COLORS.yellow], [10000, COLORS.red]),
        w: 12,
        h: 8,
      },
      {
        type: "timeseries",
        ...t.oldestUnsent,
        targets: [
          target(
            `SELECT max(${gateway_health.oldest_age_s}) FROM ${gateway_health.FROM} WHERE ${g} AND $timeFilter GROUP BY time($__interval), ${gateway_health.gateway} fill(none)`,
          ),
        ],
        unit: "s",
        thresholds: thresholds(COLORS.green, [300, COLORS.yellow], [3600, COLORS.red]),
        w: 12,
        h: 8,
      },
      {
        type: "timeseries",
        ...t.roundTrip,
        targets: [
          target(
            `SELECT mean(${gateway_health.rtt_ms}) FROM ${gateway_health.FROM} WHERE ${g} AND $timeFilter GROUP BY time($__interval), ${gateway_health.gateway} fill(none)`,
          ),
        ],
        unit: "ms",
        w: 12,
        h: 8,
      },
      {
        type: "state-timeline",
        ...t.deviceAvailability,
        // The equipment rule's hourly availability (hub/src/supervision/availability.ts): the same from heartbeats
        // as from gateways that summarise them, where counting heartbeats would show those devices as silent.
        targets: [
          target(
            `SELECT last(${device_availability.availability}) * 100 FROM ${device_availability.FROM} WHERE ${g} AND $timeFilter GROUP BY time(1h), ${device_availability.device} fill(none)`,
          ),
        ],
        unit: "percent",
        thresholds: thresholds(COLORS.red, [90, COLORS.yellow], [99, COLORS.green]),
        w: 12,
        h: 8,
      },
      {
        type: "barchart",
        ...t.rejected,
        targets: [
          target(
            `SELECT count(${integrity_alert.seq}) AS "${c.rejected}" FROM ${integrity_alert.NAME} WHERE $timeFilter GROUP BY ${integrity_alert.gateway}, ${integrity_alert.kind}`,
            "table",
          ),
        ],
        thresholds: BAD_COUNT,
        w: 24,
        h: 8,
      },
    ],
  });
}

function assessment(m: DashboardMessages): Dashboard {
  const f = tagFilter(PLACE);
  const t = m.assessment;
  const c = m.columns;
  return dashboard({
    annotationsName: m.annotations.warningsAndCards,
    uid: UIDS.assessment,
    title: t.title,
    description: t.description,
    tags: ["assessment"],
    time: { from: "now-6M/M", to: "now" },
    refresh: "1h",
    variables: placeVariables(m),
    panels: [
      {
        type: "table",
        ...t.monthly,
        targets: [
          target(
            `SELECT last(${score_monthly.score}) AS "${c.score}", last(${score_monthly.deductions}) AS "${c.deductions}", last(${score_monthly.bonuses}) AS "${c.bonuses}" FROM ${score_monthly.NAME} WHERE ${f} AND $timeFilter GROUP BY ${score_monthly.subject_kind}, ${score_monthly.subject}, ${score_monthly.department}`,
            "table",
          ),
        ],
        thresholds: SCORE,
        w: 12,
        h: 10,
      },
      {
        type: "barchart",
        ...t.byRule,
        targets: [
          target(
            `SELECT sum(${deduction.points}) AS "${c.points}" FROM ${deduction.NAME} WHERE ${f} AND $timeFilter GROUP BY ${deduction.rule}`,
            "table",
          ),
        ],
        w: 12,
        h: 10,
      },
      {
        type: "timeseries",
        ...t.trend,
        targets: [
          target(
            `SELECT mean(${score_monthly.score}) FROM ${score_monthly.NAME} WHERE ${f} AND $timeFilter GROUP BY time(30d), ${score_monthly.subject} fill(none)`,
          ),
        ],
        thresholds: SCORE,
        min: 0,
        max: 100,
        w: 24,
        h: 8,
      },
    ],
  });
}

/**
 * The items dashboard's state filter: each choice an InfluxQL condition on `item_state` (the items rule's view of each
 * application, the same one `hub items` and the big screen read). In progress is every open application (suspended
 * ones too, as the monthly counts count them); about to expire is the rule's `near` (days left within
 * `remindDaysLeft`, at least 1: `hub items --near`); overdue an open one past its deadline (`hub items --overdue`);
 * completed every completion, refused the completions refused.
 */
export const ITEM_STATE_FILTERS = {
  all: `${item_state.application} =~ /./`,
  inProgress: `${item_state.open} = 1`,
  nearLimit: `${item_state.near} = 1`,
  overdue: `${item_state.open} = 1 AND ${item_state.overdue} = 1`,
  completed: `${item_state.state} = 'completed'`,
  refused: `${item_state.outcome} = 'refused'`,
  suspended: `${item_state.state} = 'suspended'`,
} as const;

function items(m: DashboardMessages): Dashboard {
  const t = m.items;
  const c = m.columns;
  const k = t.columns;
  const w = t.words;
  const named = (column: string, header: string) => ({
    matcher: { id: "byName" as const, options: column },
    properties: [{ id: "displayName" as const, value: header }],
  });
  const department = `${item_state.department} =~ /^$department$/`;
  return dashboard({
    annotationsName: m.annotations.warningsAndCards,
    uid: UIDS.items,
    title: t.title,
    description: t.description,
    tags: ["items"],
    // The queries look over the items rule's lookback (400 days), not the time range: an application accepted months
    // ago is still followed.
    time: { from: "now-30d", to: "now" },
    refresh: "5m",
    variables: [
      tagVariable("department", t.variables.department, item_state.NAME),
      customVariable(
        "state",
        t.variables.state,
        (Object.keys(ITEM_STATE_FILTERS) as (keyof typeof ITEM_STATE_FILTERS)[]).map(
          (key) => [t.filters[key], ITEM_STATE_FILTERS[key]] as const,
        ),
      ),
      selectVariable(
        "application",
        t.variables.application,
        `SELECT ${item_state.application} FROM ${item_state.NAME} WHERE ${department} AND time > now() - 400d`,
      ),
    ],
    panels: [
      {
        type: "table",
        ...t.list,
        targets: [
          target(
            `SELECT ${item_state.application} AS "${c.application}", ${item_state.handler} AS "${c.handler}", ${item_state.due_date} AS "${c.due}", ${item_state.state} AS "${k.state}", ${item_state.outcome} AS "${k.outcome}", ${item_state.left} AS "${c.daysLeft}", ${item_state.overdue_days} AS "${c.itemsOverdue}" FROM ${item_state.NAME} WHERE ${department} AND $state AND time > now() - 400d GROUP BY ${item_state.department}, ${item_state.item}`,
            "table",
          ),
        ],
        mappings: [
          valueMapping({
            in_progress: [w.in_progress],
            suspended: [w.suspended, COLORS.yellow],
            completed: [w.completed, COLORS.green],
            approved: [w.approved],
            refused: [w.refused, COLORS.red],
          }),
        ],
        overrides: [named("Time", k.accepted)],
        w: 24,
        h: 12,
      },
      {
        type: "table",
        ...t.trail,
        targets: [
          target(
            `SELECT ${item_event.type} AS "${k.event}", ${item_event.outcome} AS "${k.outcome}", ${item_event.step} AS "${k.step}", ${item_event.handler} AS "${c.handler}", ${item_event.clerk} AS "${k.clerk}", ${item_event.result} AS "${k.result}", ${item_event.reason} AS "${k.reason}", ${item_event.device} AS "${k.source}" FROM ${item_event.NAME} WHERE ${item_event.application} =~ /^$application$/ AND time > now() - 400d GROUP BY ${item_event.item}`,
            "table",
          ),
        ],
        mappings: [
          valueMapping({
            accepted: [w.accepted],
            step: [w.step],
            suspended: [w.suspended, COLORS.yellow],
            resumed: [w.resumed],
            completed: [w.completed, COLORS.green],
            approved: [w.approved],
            refused: [w.refused, COLORS.red],
          }),
        ],
        overrides: [named("Time", k.time)],
        w: 24,
        h: 12,
      },
    ],
  });
}

/** A tag column of the province's rollups: its header and the words of its stored values, from the catalogue. */
function wordsColumn(tag: string, header: string, words: Record<string, string>): FieldOverride {
  return {
    matcher: { id: "byName", options: tag },
    properties: [
      { id: "displayName", value: header },
      { id: "mappings", value: [valueMapping(Object.fromEntries(Object.entries(words).map(([k, v]) => [k, [v] as const])))] },
    ],
  };
}

/**
 * The province: the regions' day and month counts that `hub rollup` gathers into the central database (hub/SCHEMA.md,
 * "Province rollups"). Always on the central data source (no data source variable): each region's own dashboards
 * choose theirs. Totals are sums of the day rows within the time range; the trend reads the month rows.
 */
function province(m: DashboardMessages): Dashboard {
  const t = m.province;
  const c = t.columns;
  const day = (from: { period: string }) => `${from.period} = 'day' AND ${tagFilter(["region"])} AND $timeFilter`;
  return dashboard({
    annotationsName: m.annotations.warningsAndCards,
    uid: UIDS.province,
    title: t.title,
    description: t.description,
    tags: ["province"],
    time: { from: "now-6M/M", to: "now" },
    refresh: "1h",
    variables: [tagVariable("region", m.variables.region, province_rating.FROM)],
    panels: [
      {
        type: "barchart",
        ...t.satisfaction,
        targets: [
          target(
            `SELECT sum(${province_rating.positive}) / sum(${province_rating.rated}) * 100 AS "${m.columns.satisfaction}" FROM ${province_rating.FROM} WHERE ${day(province_rating)} GROUP BY ${province_rating.region}`,
            "table",
          ),
        ],
        unit: "percent",
        decimals: 1,
        min: 0,
        max: 100,
        thresholds: SATISFACTION,
        w: 12,
        h: 9,
      },
      {
        type: "table",
        ...t.ratings,
        targets: [
          target(
            `SELECT sum(${province_rating.rated}) AS "${c.rated}", sum(${province_rating.positive}) AS "${c.positive}", sum(${province_rating.negative}) AS "${c.negative}" FROM ${province_rating.FROM} WHERE ${day(province_rating)} GROUP BY ${province_rating.region}`,
            "table",
          ),
        ],
        w: 12,
        h: 9,
      },
      {
        type: "table",
        ...t.attendance,
        targets: [
          target(
            `SELECT sum(${province_attendance.count}) AS "${c.count}" FROM ${province_attendance.FROM} WHERE ${day(province_attendance)} GROUP BY ${province_attendance.region}, ${province_attendance.status}`,
            "table",
          ),
        ],
        overrides: [wordsColumn("status", c.status, t.words.status)],
        w: 8,
        h: 10,
      },
      {
        type: "table",
        ...t.cards,
        targets: [
          target(
            `SELECT sum(${province_card.count}) AS "${c.count}" FROM ${province_card.FROM} WHERE ${day(province_card)} GROUP BY ${province_card.region}, ${province_card.color}`,
            "table",
          ),
        ],
        overrides: [wordsColumn("color", c.color, t.words.color)],
        w: 8,
        h: 10,
      },
      {
        type: "table",
        ...t.warnings,
        targets: [
          target(
            `SELECT sum(${province_warning.raised}) AS "${c.raised}" FROM ${province_warning.FROM} WHERE ${day(province_warning)} GROUP BY ${province_warning.region}, ${province_warning.category}`,
            "table",
          ),
        ],
        overrides: [wordsColumn("category", c.category, t.words.category)],
        w: 8,
        h: 10,
      },
      {
        type: "table",
        ...t.items,
        targets: [
          target(
            `SELECT sum(${province_item.count}) AS "${c.count}" FROM ${province_item.FROM} WHERE ${day(province_item)} GROUP BY ${province_item.department}, ${province_item.type}`,
            "table",
          ),
        ],
        overrides: [wordsColumn("type", c.type, t.words.type)],
        w: 12,
        h: 10,
      },
      {
        type: "timeseries",
        ...t.trend,
        targets: [
          target(
            `SELECT sum(${province_rating.positive}) / sum(${province_rating.rated}) * 100 FROM ${province_rating.FROM} WHERE ${province_rating.period} = 'month' AND ${tagFilter(["region"])} AND $timeFilter GROUP BY time(1d), ${province_rating.region} fill(none)`,
          ),
        ],
        unit: "percent",
        decimals: 1,
        min: 0,
        max: 100,
        thresholds: SATISFACTION,
        w: 12,
        h: 10,
      },
    ],
  });
}

/** All dashboards the hub provisions, in a stable order, with texts in the given language (Chinese by default). */
/** `hubUrl`: the hub's HTTP API as the centre's browsers reach it (the hall dashboard links to its live view page). */
export function allDashboards(locale?: Locale, options: { hubUrl?: string } = {}): Dashboard[] {
  const m = dashboardMessages(locale);
  const hubUrl = (options.hubUrl ?? DEFAULT_HUB_URL).replace(/\/+$/, "");
  // Each dashboard of sites' data reads the data source chosen in its variable (the central one, or a region's); the
  // province reads the rollups in the central one.
  const regional = [centre(m), centreDetail(m, hubUrl), hall(m, hubUrl), sites(m), fleet(m), assessment(m), items(m)].map((d) =>
    withDatasourceVariable(d, m.datasource),
  );
  return [...regional, province(m)].map((d) => ({
    ...d,
    panels: d.panels.map((p) => labelTagColumns(p, m)),
  }));
}
