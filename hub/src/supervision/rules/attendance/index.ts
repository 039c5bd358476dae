import { ns, type Row } from "../../../influx/query.ts";
import { schemaPoint } from "../../../schema/index.ts";
import type { DayContext, DayRule, Findings, OnDuty } from "../rule.ts";
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
  replaces: [{ measurement: "attendance", span: "working" }],
  async judge(ctx) {
    const [signinRows, heartbeatRows, lossRows] = await Promise.all([
      ctx.readings.signins(),
      ctx.readings.terminalHeartbeats(),
      ctx.readings.lossesBefore(PERSONAL_ATTENDANCE_RULES, ctx.span.monthFrom, ctx.span.dayFrom),
    ]);
    const lostThisMonth = new Map(lossRows.map((r) => [String(r.subject), -Number(r.points)]));
    const findings: Required<Pick<Findings, "records" | "deductions" | "judged">> = { records: [], deductions: [], judged: [] };
    for (const person of ctx.people) {
      const duty = ctx.onDuty.get(person.id);
      if (duty) judgePerson(ctx, duty, signinRows, heartbeatRows, lostThisMonth.get(person.id) ?? 0, findings);
    }
    return findings;
  },
};

function judgePerson(
  ctx: DayContext,
  { person, roster, periods }: OnDuty,
  signinRows: Row[],
  heartbeatRows: Row[],
  lostBeforeToday: number,
  findings: Required<Pick<Findings, "records" | "deductions" | "judged">>,
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
        suspect: clockSuspect(stamp, heartbeats, settings.clockToleranceMinutes * 60_000, heartbeatWindowMs),
      };
    });
  const judgements = [
    ...judgeAttendance(periods, roster, signins, ctx.now, settings.earlySigninMinutes),
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
