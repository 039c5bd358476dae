import { localDate, localTimeToUtc, weekday } from "@supervision/firmware-protocols";
import { ns, type Row } from "../../../influx/query.ts";
import type { Checkins } from "../../../registry/schema.ts";
import { schemaPoint } from "../../../schema/index.ts";
import { dayKind, nextDate } from "../../calendar.ts";
import type { DayContext, DayRule, Findings, OnDuty } from "../rule.ts";
import { missedCheckins } from "./checkins.ts";
import { fixOf, outsideSite, signedInOutside } from "./geofence.ts";

type SitePresenceFindings = Required<Pick<Findings, "records" | "warnings" | "deductions" | "judged">>;

/**
 * What a site's sign-ins prove beyond the roster: each sign-in made outside the site's radius is flagged, and the
 * people whose roster asks for check-ins (days a week, or set times a day) are judged by them; see README.md.
 */
export const sitePresence: DayRule = {
  scope: "day",
  name: "site-presence",
  deductionRules: ["missed_checkin"],
  replaces: [{ measurement: "site_presence", span: "working" }],
  async judge(ctx) {
    const findings: SitePresenceFindings = { records: [], warnings: [], deductions: [], judged: [] };
    const area = ctx.site.location;
    if (area) {
      for (const row of await ctx.readings.signins()) {
        const fix = fixOf(row);
        if (!fix) continue;
        const found = outsideSite(fix, area);
        if (!found.outside) continue;
        const person = String(row.person ?? "");
        findings.records.push(
          schemaPoint(
            "site_presence",
            ns(row.time.getTime()),
            { ...ctx.place, person, role: ctx.registry.people.get(person)?.role ?? "", finding: "outside_radius" },
            { count: 1, required: 0, distance_m: found.distanceM, beyond_m: found.beyondM, accuracy_m: fix.accuracyM ?? 0 },
          ),
        );
      }
    }
    for (const person of ctx.people) {
      const duty = ctx.onDuty.get(person.id);
      if (duty?.roster.checkins) await judgeCheckins(ctx, duty, duty.roster.checkins, findings);
    }
    return findings;
  },
};

interface Missed {
  count: number;
  required: number;
  /** The warnings' messages and when each check-in was due. */
  texts: { at: number; text: string }[];
  /** The card's faults: one per missed check-in. */
  faults: string[];
}

async function judgeCheckins(ctx: DayContext, duty: OnDuty, rule: Checkins, findings: SitePresenceFindings): Promise<void> {
  const { person, periods } = duty;
  const tz = ctx.site.tz;
  const isCheckin = (r: Row) => r.person === person.id && r.direction !== "out" && !signedInOutside(r, ctx.site.location);
  const names = { site: ctx.site.name, name: person.name };
  let missed: Missed;
  if ("perWeek" in rule) {
    // Judged once, on the week's last working day after its last shift: the week's tally is final then.
    const week = weekOf(ctx.date);
    const working = week.filter((d) => dayKind(duty.roster, person, d).working);
    const lastEnd = periods[periods.length - 1]!.end;
    if (working[working.length - 1] !== ctx.date || ctx.now < lastEnd) missed = { count: 0, required: 0, texts: [], faults: [] };
    else {
      const rows = await ctx.readings.signinsBetween(localTimeToUtc(week[0]!, "00:00", tz), ctx.span.dayTo);
      const checkins = rows.filter(isCheckin).map((r) => ({ date: localDate(r.time.getTime(), tz), ts: r.time.getTime() }));
      const required = Math.min(rule.perWeek, working.length);
      const count = missedCheckins({ kind: "weekly", perWeek: required }, checkins);
      const done = new Set(checkins.map((c) => c.date)).size;
      const message = ctx.text.missedCheckinWeek({ ...names, done, required, missed: count });
      missed = {
        count,
        required,
        texts: count > 0 ? [{ at: lastEnd, text: message }] : [],
        faults: Array.from({ length: count }, () => message),
      };
    }
  } else {
    // Each window of the day is judged once it has closed.
    const windows = rule.windows.map((w) => ({
      ...w,
      fromMs: localTimeToUtc(ctx.date, w.from, tz),
      toMs: localTimeToUtc(ctx.date, w.to, tz),
    }));
    const closed = windows.filter((w) => w.toMs <= ctx.now);
    const rows = closed.length > 0 ? await ctx.readings.signinsBetween(ctx.span.dayFrom, ctx.span.dayTo) : [];
    const checkins = rows.filter(isCheckin).map((r) => ({ date: ctx.date, ts: r.time.getTime() }));
    const missedWindows = closed.filter((w) => missedCheckins({ kind: "daily", windows: [{ from: w.fromMs, to: w.toMs }] }, checkins) > 0);
    missed = {
      count: missedWindows.length,
      required: windows.length,
      texts: missedWindows.map((w) => ({ at: w.toMs, text: ctx.text.missedCheckinWindow({ ...names, from: w.from, to: w.to }) })),
      faults: [],
    };
    missed.faults = missed.texts.map((t) => t.text);
  }
  const stamp = periods[0]!.start;
  if (missed.count > 0) {
    findings.records.push(
      schemaPoint(
        "site_presence",
        ns(stamp),
        { ...ctx.place, person: person.id, role: person.role, finding: "missed_checkin" },
        { count: missed.count, required: missed.required, distance_m: 0, beyond_m: 0, accuracy_m: 0 },
      ),
    );
    findings.deductions.push({
      subjectKind: person.role,
      subject: person.id,
      rule: "missed_checkin",
      points: missed.count * ctx.settings.scoring.leftPost,
      at: stamp,
      reason: missed.texts.map((t) => t.text).join("; "),
    });
  }
  // A warning per missed check-in, so the person responsible hears of each; active only on the day it happened.
  const today = localDate(ctx.now, tz) === ctx.date;
  for (const t of missed.texts)
    findings.warnings.push({
      event: {
        ts: t.at,
        site: ctx.site.id,
        category: "people",
        subjectKind: person.role,
        subject: person.id,
        rule: "missed_checkin",
        severity: "warning",
        active: today,
        message: t.text,
      },
      active: today ? 1 : 0,
    });
  findings.judged.push({
    card: person.role,
    subject: person.id,
    scoredAs: person.role,
    department: person.window ? (ctx.registry.windows.get(person.window)?.department ?? "") : "",
    // Each missed check-in is one fault, as a half day of left post is for attendance.
    faults: missed.faults,
  });
}

/** The local dates Monday to Sunday of `date`'s week. */
function weekOf(date: string): string[] {
  const back = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].indexOf(weekday(date));
  let monday = date;
  for (let i = 0; i < back; i++) monday = previousDate(monday);
  const week = [monday];
  while (week.length < 7) week.push(nextDate(week[week.length - 1]!));
  return week;
}

function previousDate(date: string): string {
  return new Date(Date.parse(`${date}T12:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
}
