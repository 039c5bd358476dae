import { ns, type Row } from "../../../influx/query.ts";
import { schemaPoint } from "../../../schema/index.ts";
import { localDate } from "@supervision/firmware-protocols";
import type { DayContext, DayRule, Findings, OnDuty } from "../rule.ts";
import { signedInOutside } from "../site-presence/geofence.ts";
import { clockSuspect } from "./clock.ts";
import { ATTENDANCE_DEDUCTION_RULES, attendanceDeductions, PERSONAL_ATTENDANCE_RULES, proRata } from "./deductions.ts";
import { judgeAttendance, type Judgement, type Signin } from "./judge.ts";
import { judgeLeftPost } from "./left-post.ts";
import type { AttendanceFault } from "../../messages.ts";

/** Each person's sign-ins against their roster, per half day (shift period); see README.md. */
export const attendance: DayRule = {
  scope: "day",
  name: "attendance",
  deductionRules: ATTENDANCE_DEDUCTION_RULES,
  replaces: [
    { measurement: "attendance", span: "working" },
    { measurement: "duty", span: "working" },
  ],
  async judge(ctx) {
    const [signinRows, heartbeatRows, lossRows, heardUntil] = await Promise.all([
      ctx.readings.signins(),
      ctx.readings.terminalHeartbeats(),
      ctx.readings.lossesBefore(PERSONAL_ATTENDANCE_RULES, ctx.span.monthFrom, ctx.span.dayFrom),
      ctx.readings.terminalsHeardUntil(),
    ]);
    // Judged as of when the site's terminals were last heard: a punch made before then has arrived, a later one
    // may still be on its way (an offline terminal, the demo catching up), so no absence or early leave is judged
    // for a half day whose deadline the terminals have not been heard past. A site without terminals has none to wait for.
    const hasTerminals = [...ctx.registry.devices.values()].some((d) => d.site === ctx.site.id && d.kind === "terminal");
    const judgedAt = hasTerminals ? Math.min(ctx.now, heardUntil ?? Number.NEGATIVE_INFINITY) : ctx.now;
    const lostThisMonth = new Map(lossRows.map((r) => [String(r.subject), -Number(r.points)]));
    const findings: AttendanceFindings = { records: [], deductions: [], judged: [], warnings: [] };
    for (const person of ctx.people) {
      const duty = ctx.onDuty.get(person.id);
      if (duty) findings.records.push(...dutyPoints(ctx, duty, signinRows));
      // A roster of check-ins (chief supervisors) is judged by the site-presence rule instead of per shift.
      if (duty && !duty.roster.checkins)
        judgePerson(ctx, duty, { signinRows, heartbeatRows, judgedAt }, lostThisMonth.get(person.id) ?? 0, findings);
    }
    return findings;
  },
};

/**
 * A `duty` point per shift period of the person that has begun: signed in for it yet (a sign-in from the early
 * sign-in margin on), so the centre sees who is on duty and not signed in before any absence is judged.
 */
function dutyPoints(ctx: DayContext, { person, periods }: OnDuty, signinRows: Row[]) {
  const earlyMs = ctx.settings.earlySigninMinutes * 60_000;
  const ins = signinRows.filter((r) => r.person === person.id && r.direction !== "out").map((r) => r.time.getTime());
  return periods
    .filter((p) => p.start <= ctx.now)
    .map((p) =>
      schemaPoint(
        "duty",
        ns(p.start),
        { ...ctx.place, site_kind: ctx.site.kind, person: person.id, role: person.role, window: person.window ?? "" },
        { period: p.index, signed_in: ins.some((t) => t >= p.start - earlyMs && t <= p.end) ? 1 : 0 },
      ),
    );
}

type AttendanceFindings = Required<Pick<Findings, "records" | "deductions" | "judged" | "warnings">>;

function judgePerson(
  ctx: DayContext,
  { person, roster, periods }: OnDuty,
  { signinRows, heartbeatRows, judgedAt }: { signinRows: Row[]; heartbeatRows: Row[]; judgedAt: number },
  lostBeforeToday: number,
  findings: AttendanceFindings,
): void {
  const { settings, registry } = ctx;
  const signins: Signin[] = signinRows
    .filter((r) => r.person === person.id)
    .map((r) => {
      const ts = r.time.getTime();
      const heartbeats = heartbeatRows.filter((x) => x.device === r.device).map((x) => x.time.getTime());
      const heartbeatWindowMs = 2 * (registry.devices.get(String(r.device))?.heartbeatS ?? 60) * 1000;
      const stamp = { ts, rxTs: Number(r.rx_ts ?? ts), timeSuspect: r.time_suspect === true };
      return {
        ts,
        direction: r.direction === "out" ? "out" : "in",
        // A sign-in made outside the site's radius proves nothing about being there: reviewed, never on time.
        suspect:
          clockSuspect(stamp, heartbeats, settings.clockToleranceMinutes * 60_000, heartbeatWindowMs) ||
          signedInOutside(r, ctx.site.location),
      };
    });
  const judgements = [
    ...judgeAttendance(periods, roster, signins, judgedAt, settings.earlySigninMinutes),
    ...judgeLeftPost(periods, roster, signins),
  ];
  for (const j of judgements) {
    const p = periods[j.period]!;
    findings.records.push(
      schemaPoint(
        "attendance",
        ns(p.start),
        { ...ctx.place, site_kind: ctx.site.kind, person: person.id, role: person.role, window: person.window ?? "", status: j.status },
        // level: 0 on time, 1 a fault or under review, 2 absent (the dashboards colour by it, as cards do).
        { period: j.period, minutes: j.minutes, at: j.at, level: j.status === "on_time" ? 0 : j.status === "absent" ? 2 : 1 },
      ),
    );
  }
  if (person.role === "supervisor") supervisorWarnings(ctx, { person, periods }, judgements, findings);
  const personal = attendanceDeductions(person.id, person.role, judgements, settings.scoring, ctx.text);
  findings.deductions.push(...personal);
  if (person.window && personal.length > 0) {
    const share = proRata(personal, person.window, settings.scoring, periods[0]!.start, lostBeforeToday, person.name, ctx.text);
    if (share) findings.deductions.push(share);
  }
  findings.judged.push({
    card: person.role === "supervisor" ? "supervisor" : "clerk",
    subject: person.id,
    scoredAs: person.role,
    department: person.window ? (registry.windows.get(person.window)?.department ?? "") : "",
    faults: judgements
      .filter((j): j is Judgement & { status: AttendanceFault } => j.status !== "on_time" && j.status !== "review")
      .map((j) => ctx.text.attendanceFault({ status: j.status, halfDay: j.period + 1, at: j.at })),
  });
}

/**
 * A late or absent supervisor raises a warning (one per shift period), so the person responsible is notified;
 * active only on the day it happened (yesterday's, judged again, is not announced again). An absence without any
 * sign-in is only judged once one of the site's terminals has been heard from after the absence deadline (see
 * `judgedAt`): a terminal that could not reach its gateway (poor network on a construction site) delivers its
 * sign-ins late, and the person responsible must not be told of an absence those sign-ins then disprove.
 */
function supervisorWarnings(
  ctx: DayContext,
  { person, periods }: Pick<OnDuty, "person" | "periods">,
  judgements: Judgement[],
  findings: AttendanceFindings,
): void {
  const today = localDate(ctx.now, ctx.site.tz) === ctx.date;
  for (const j of judgements) {
    if (j.status !== "late" && j.status !== "absent") continue;
    const start = periods[j.period]!.start;
    const about = { site: ctx.site.name, name: person.name, start, at: j.at, minutes: j.minutes };
    findings.warnings.push({
      event: {
        ts: start,
        site: ctx.site.id,
        category: "people",
        subjectKind: "supervisor",
        subject: person.id,
        rule: `supervisor_${j.status}`,
        severity: "warning",
        active: today,
        message: j.status === "late" ? ctx.text.supervisorLate(about) : ctx.text.supervisorAbsent(about),
      },
      active: today ? 1 : 0,
      figures: { minutes: j.minutes },
    });
  }
}
