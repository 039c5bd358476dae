import { DEFAULT_LOCALE, type Locale } from "@supervision/dashboards";

/**
 * Every text the supervision rules write for a person to read (warning messages, card reasons, deduction
 * reasons), in one catalogue: simplified Chinese by default, English by `supervision.locale: en`. Times are the
 * site's local time (a card that says 01:00 UTC for a 09:00 lateness in Beijing misleads the centre). A missing
 * translation is a type error.
 */
export interface SupervisionTexts {
  readonly locale: Locale;
  /** HH:MM in the site's zone. */
  time(ts: number): string;
  /** YYYY-MM-DD HH:MM in the site's zone. */
  dateTime(ts: number): string;
  unattended(p: { window: string; minutes: number; snapshot?: string }): string;
  unattendedFault(p: { minutes: number; from: number }): string;
  windowWithoutCamera(p: { window: string; from: number; to: number }): string;
  cameraSilent(p: { cameras: string; window: string; from: number; to: number }): string;
  attendance(p: { status: AttendanceFault; minutes: number; halfDay: number }): string;
  attendanceFault(p: { status: AttendanceFault; halfDay: number; at: number }): string;
  proRata(p: { clerk: string; lostToday: number; lostMonth: number }): string;
  dissatisfiedVerified(p: { rating: string; by: string }): string;
  satisfactionLow(p: {
    subjectKind: "clerk" | "window";
    subject: string;
    rate: number;
    rated: number;
    period: "day" | "month";
    below: number;
  }): string;
  gatewaySilent(p: { gateway: string; since: number }): string;
  gatewayBacklog(p: { gateway: string; depth: number; ageS: number }): string;
  deviceSilent(p: { device: string; minutes: number }): string;
  integrityAlert(p: { gateway: string; seq: number; detail: string }): string;
  /** A site supervisor late or absent (attendance): what the person responsible is sent. */
  supervisorLate(p: { site: string; name: string; start: number; at: number; minutes: number }): string;
  supervisorAbsent(p: { site: string; name: string; start: number }): string;
  /** A check-in missed (site-presence): a set time of the day, or the week's tally. */
  missedCheckinWindow(p: { site: string; name: string; from: string; to: string }): string;
  missedCheckinWeek(p: { site: string; name: string; done: number; required: number; missed: number }): string;
  itemReminder(p: ItemText & { left: number; unit: "working" | "calendar" }): string;
  itemOverdue(p: ItemText): string;
  itemRed(p: ItemText & { overdueDays: number; unit: "working" | "calendar" }): string;
  handlerOverdue(p: { handler: string; count: number }): string;
}

/** What every item notification names: the item, the application number, the handler and the deadline (a local date). */
export interface ItemText {
  item: string;
  application: string;
  handler: string;
  due: string;
}

export type AttendanceFault = "late" | "early_leave" | "absent" | "left_post";

type Catalogue = Omit<SupervisionTexts, "locale" | "time" | "dateTime">;

const percent = (rate: number) => `${(rate * 100).toFixed(1)}%`;

function zhCN(t: (ts: number) => string, dt: (ts: number) => string): Catalogue {
  const status = { late: "迟到", early_leave: "早退", absent: "缺勤", left_post: "离岗" } as const;
  const halfDay = (n: number) => (n === 1 ? "上午" : n === 2 ? "下午" : `第${n}个时段`);
  return {
    unattended: ({ window, minutes, snapshot }) =>
      `窗口「${window}」无人值守 ${minutes} 分钟${snapshot ? `（抓拍 SHA-256 ${snapshot}）` : ""}`,
    unattendedFault: ({ minutes, from }) => `${t(from)} 起无人值守 ${minutes} 分钟`,
    windowWithoutCamera: ({ window, from, to }) =>
      `窗口「${window}」未登记摄像机：${t(from)}–${t(to)} 无法判断是否无人值守，请登记其摄像机`,
    cameraSilent: ({ cameras, window, from, to }) =>
      `窗口「${window}」的摄像机 ${cameras} 在 ${t(from)}–${t(to)} 无数据：该时段不判无人值守，请检查摄像机`,
    attendance: ({ status: s, minutes, halfDay: n }) =>
      s === "absent" ? `${halfDay(n)}缺勤` : s === "left_post" ? `离岗 ${minutes} 分钟` : `${status[s]} ${minutes} 分钟`,
    attendanceFault: ({ status: s, halfDay: n, at }) => `${halfDay(n)}${status[s]}（${t(at)}）`,
    proRata: ({ clerk, lostToday, lostMonth }) =>
      `窗口工作人员 ${clerk} 本日扣 ${lostToday} 分，本月累计扣 ${lostMonth} 分，窗口单位连带扣分`,
    dissatisfiedVerified: ({ rating, by }) => `不满意评价 ${rating} 经 ${by} 核实`,
    satisfactionLow: ({ subjectKind, subject, rate, rated, period, below }) =>
      `${subjectKind === "clerk" ? "工作人员" : "窗口"}「${subject}」${period === "day" ? "今日" : "本月"}满意率 ${percent(rate)}（共 ${rated} 次评价），低于 ${(below * 100).toFixed(0)}%`,
    gatewaySilent: ({ gateway, since }) => `网关 ${gateway} 自 ${dt(since)} 起无联系`,
    gatewayBacklog: ({ gateway, depth, ageS }) => `网关 ${gateway} 积压 ${depth} 条未上传数据，最早的已等待 ${ageS} 秒`,
    deviceSilent: ({ device, minutes }) => `设备 ${device} 已 ${minutes} 分钟无心跳`,
    integrityAlert: ({ gateway, seq, detail }) => `网关 ${gateway} 的数据完整性告警（批次 ${seq}）：${detail}`,
    supervisorLate: ({ site, name, start, at, minutes }) =>
      `${site}：监理 ${name} 迟到 ${minutes} 分钟（应 ${t(start)} 到岗，${t(at)} 签到）`,
    supervisorAbsent: ({ site, name, start }) => `${site}：监理 ${name} 缺勤（${t(start)} 开始的班次没有有效签到）`,
    missedCheckinWindow: ({ site, name, from, to }) => `${site}：${name} 未在 ${from}–${to} 到场签到，计为脱岗`,
    missedCheckinWeek: ({ site, name, done, required, missed }) =>
      `${site}：${name} 本周到场签到 ${done} 天，要求 ${required} 天，缺 ${missed} 次，计为脱岗`,
    itemReminder: ({ item, application, handler, due, left, unit }) =>
      `【催办】事项「${item}」申请号 ${application} 剩余 ${left} 个${unit === "working" ? "工作日" : "自然日"}，办理时限 ${due}，承办人 ${handler}`,
    itemOverdue: ({ item, application, handler, due }) =>
      `【预警·黄牌】事项「${item}」申请号 ${application} 已超过承诺时限 ${due} 未办结，承办人 ${handler}`,
    itemRed: ({ item, application, handler, due, overdueDays, unit }) =>
      `【红牌·督办】事项「${item}」申请号 ${application} 超期 ${overdueDays} 个${unit === "working" ? "工作日" : "自然日"}（时限 ${due}），承办人 ${handler}，请部门负责人督办`,
    handlerOverdue: ({ handler, count }) => `承办人 ${handler} 共有 ${count} 件事项超期`,
  };
}

function en(t: (ts: number) => string, dt: (ts: number) => string): Catalogue {
  const words = { late: "late", early_leave: "early leave", absent: "absent", left_post: "left the post" } as const;
  return {
    unattended: ({ window, minutes, snapshot }) =>
      `window ${window} unattended for ${minutes} min${snapshot ? ` (snapshot sha256 ${snapshot})` : ""}`,
    unattendedFault: ({ minutes, from }) => `unattended ${minutes} min from ${t(from)}`,
    windowWithoutCamera: ({ window, from, to }) =>
      `window ${window} has no camera: it cannot be judged unattended from ${t(from)} to ${t(to)}; register its camera`,
    cameraSilent: ({ cameras, window, from, to }) =>
      `camera ${cameras} of window ${window} sent nothing from ${t(from)} to ${t(to)}: the window is not judged unattended then; check the camera`,
    attendance: ({ status, minutes, halfDay }) =>
      status === "absent"
        ? `absent for half day ${halfDay}`
        : status === "left_post"
          ? `left the post for ${minutes} min`
          : `${words[status]} by ${minutes} min`,
    attendanceFault: ({ status, halfDay, at }) => `${words[status]} (half day ${halfDay}, ${t(at)})`,
    proRata: ({ clerk, lostToday, lostMonth }) => `clerk ${clerk} lost ${lostToday} points today, ${lostMonth} this month`,
    dissatisfiedVerified: ({ rating, by }) => `dissatisfied rating ${rating} verified by ${by}`,
    satisfactionLow: ({ subjectKind, subject, rate, rated, period, below }) =>
      `${subjectKind} ${subject}: ${percent(rate)} satisfied of ${rated} ratings ${period === "day" ? "today" : "this month"}, below ${(below * 100).toFixed(0)}%`,
    gatewaySilent: ({ gateway, since }) => `gateway ${gateway} silent since ${dt(since)}`,
    gatewayBacklog: ({ gateway, depth, ageS }) => `gateway ${gateway} holds ${depth} unsent readings, the oldest ${ageS} s old`,
    deviceSilent: ({ device, minutes }) => `device ${device} silent for ${minutes} min`,
    integrityAlert: ({ gateway, seq, detail }) => `integrity alert from ${gateway} (batch ${seq}): ${detail}`,
    supervisorLate: ({ site, name, start, at, minutes }) =>
      `${site}: supervisor ${name} late by ${minutes} min (due ${t(start)}, signed in ${t(at)})`,
    supervisorAbsent: ({ site, name, start }) => `${site}: supervisor ${name} absent (no valid sign-in for the shift from ${t(start)})`,
    missedCheckinWindow: ({ site, name, from, to }) =>
      `${site}: ${name} did not check in on site between ${from} and ${to}; counted as missing from post`,
    missedCheckinWeek: ({ site, name, done, required, missed }) =>
      `${site}: ${name} checked in on ${done} day(s) this week of ${required} required; ${missed} missed, counted as missing from post`,
    itemReminder: ({ item, application, handler, due, left, unit }) =>
      `reminder: item ${item}, application ${application}: ${left} ${unit} day(s) left, due ${due}, handler ${handler}`,
    itemOverdue: ({ item, application, handler, due }) =>
      `overdue (yellow card): item ${item}, application ${application} not completed by ${due}, handler ${handler}`,
    itemRed: ({ item, application, handler, due, overdueDays, unit }) =>
      `red card: item ${item}, application ${application} ${overdueDays} ${unit} day(s) overdue (due ${due}), handler ${handler}; escalated to the department head`,
    handlerOverdue: ({ handler, count }) => `handler ${handler} has ${count} overdue items`,
  };
}

const formats = new Map<string, Intl.DateTimeFormat>();
function format(tz: string, withDate: boolean): Intl.DateTimeFormat {
  const key = `${tz}/${withDate}`;
  let f = formats.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat("en-CA", {
      timeZone: tz,
      hourCycle: "h23",
      hour: "2-digit",
      minute: "2-digit",
      ...(withDate ? { year: "numeric", month: "2-digit", day: "2-digit" } : {}),
    });
    formats.set(key, f);
  }
  return f;
}

function localTime(tz: string, ts: number, withDate: boolean): string {
  if (!Number.isFinite(ts)) return "?";
  const parts = Object.fromEntries(
    format(tz, withDate)
      .formatToParts(new Date(ts))
      .map((p) => [p.type, p.value]),
  );
  const hm = `${parts.hour}:${parts.minute}`;
  return withDate ? `${parts.year}-${parts.month}-${parts.day} ${hm}` : hm;
}

/** The rules' texts in `locale`, with times in the zone `tz` (a site's IANA zone). */
export function supervisionTexts(locale: Locale = DEFAULT_LOCALE, tz = "UTC"): SupervisionTexts {
  const time = (ts: number) => localTime(tz, ts, false);
  const dateTime = (ts: number) => localTime(tz, ts, true);
  const catalogue = locale === "en" ? en(time, dateTime) : zhCN(time, dateTime);
  return { locale, time, dateTime, ...catalogue };
}

/** The monthly bulletin's words (report.ts), in the same two languages. */
export interface ReportTexts {
  lang: string;
  /** The approval items table: its title and columns (department, the counts of hub/src/items/counts.ts, satisfaction). */
  items: { title: string; columns: readonly string[] };
  /** Satisfaction with each approval item, most complained about first. */
  itemSatisfaction: { title: string; columns: readonly string[] };
  title(month: string): string;
  intro: string;
  departmentOnly(name: string): string;
  sections: {
    commended: string;
    calledIn: string;
    clerkRanking: string;
    unitRanking: string;
    departmentRanking: string;
    chart: string;
    clerks: string;
    units: string;
    rates: string;
    sitePresence: string;
    byRule: string;
  };
  columns: {
    rank: string;
    clerk: string;
    window: string;
    department: string;
    site: string;
    ratings: string;
    satisfied: string;
    dissatisfied: string;
    rate: string;
    onTime: string;
    late: string;
    earlyLeave: string;
    absent: string;
    unattended: string;
    deductions: string;
    bonuses: string;
    score: string;
    awards: string;
    clerks: string;
    units: string;
    clerkAverage: string;
    unitAverage: string;
    level: string;
    name: string;
    rule: string;
    cases: string;
    points: string;
    why: string;
    outsideRadius: string;
    missedCheckins: string;
  };
  levels: { window: string; department: string; site: string };
  /** The scoring rules' names (`deduction.rule`); a rule not listed shows its id. */
  rules: Record<string, string>;
  noAward: string;
  commendWhy(top: number): string;
  calledInBelow(score: number): string;
  calledInBottom(n: number): string;
  none: string;
}

const ZH_REPORT: ReportTexts = {
  lang: "zh-CN",
  items: {
    title: "审批事项办理情况（按部门）",
    columns: [
      "大厅",
      "部门",
      "受理",
      "办结",
      "提前办结",
      "按时办结",
      "超期办结",
      "在办",
      "超期",
      "不予许可",
      "平均办理天数",
      "平均等候分钟",
      "满意率",
    ],
  },
  itemSatisfaction: {
    title: "各审批事项满意度（不满意多者在前）",
    columns: ["大厅", "部门", "事项", "评价", "满意", "不满意", "满意率"],
  },
  title: (month) => `电子监察月度考核通报（${month.replace("-", " 年 ")} 月）`,
  intro: "得分以基准分为起点，按扣分和加分规则增减；不满意评价经核实后方计扣分。本通报发至各部门。",
  departmentOnly: (name) => `本件发：${name}（各部门排名为全体公开）`,
  sections: {
    commended: "通报表扬",
    calledIn: "约谈名单",
    clerkRanking: "窗口工作人员排名",
    unitRanking: "窗口单位排名",
    departmentRanking: "部门排名",
    chart: "工作人员得分",
    clerks: "工作人员明细",
    units: "窗口单位明细",
    rates: "满意率（窗口、部门、大厅）",
    sitePresence: "工地考勤：范围外签到与漏签",
    byRule: "扣分与加分（按规则）",
  },
  columns: {
    rank: "名次",
    clerk: "工作人员",
    window: "窗口",
    department: "部门",
    site: "大厅 / 工地",
    ratings: "评价数",
    satisfied: "满意数",
    dissatisfied: "不满意",
    rate: "满意率",
    onTime: "准时",
    late: "迟到",
    earlyLeave: "早退",
    absent: "缺勤（半天）",
    unattended: "无人值守",
    deductions: "扣分",
    bonuses: "加分",
    score: "得分",
    awards: "评优",
    clerks: "人数",
    units: "窗口数",
    clerkAverage: "人员平均分",
    unitAverage: "窗口平均分",
    level: "层级",
    name: "名称",
    rule: "规则",
    cases: "次数",
    points: "分值",
    why: "原因",
    outsideRadius: "范围外签到",
    missedCheckins: "漏签次数",
  },
  levels: { window: "窗口", department: "部门", site: "大厅 / 工地" },
  rules: {
    late: "迟到",
    early_leave: "早退",
    absent: "缺勤（半天）",
    left_post: "离岗",
    pro_rata: "窗口连带扣分",
    unattended: "窗口无人值守",
    dissatisfied_clerk: "不满意评价（工作人员）",
    dissatisfied_unit: "不满意评价（窗口单位）",
    thanks: "群众表扬",
    complaint: "投诉",
    missed_checkin: "未到场签到（脱岗）",
    item_overdue: "审批事项超期",
  },
  noAward: "取消评优资格：22 个工作日内两次投诉，或年内超期办件 3 件以上、单件超期 3 天以上",
  commendWhy: (top) => `排名前 ${top}`,
  calledInBelow: (score) => `得分低于 ${score} 分`,
  calledInBottom: (n) => `排名后 ${n} 位`,
  none: "无",
};

const EN_REPORT: ReportTexts = {
  lang: "en",
  items: {
    title: "Approval items by department",
    columns: [
      "Hall",
      "Department",
      "Accepted",
      "Completed",
      "Early",
      "On time",
      "Late",
      "In progress",
      "Overdue",
      "Refused",
      "Mean days",
      "Mean wait (min)",
      "Satisfaction",
    ],
  },
  itemSatisfaction: {
    title: "Satisfaction per approval item (most complained about first)",
    columns: ["Hall", "Department", "Item", "Ratings", "Satisfied", "Dissatisfied", "Satisfaction"],
  },
  title: (month) => `Electronic supervision: monthly assessment bulletin, ${month}`,
  intro:
    "Scores start at the baseline and move by deductions and bonuses (district rules). Dissatisfied ratings count only once verified. This bulletin goes to every department.",
  departmentOnly: (name) => `Copy for ${name} (the rankings of all departments are public)`,
  sections: {
    commended: "Commended",
    calledIn: "Called in",
    clerkRanking: "Clerk ranking",
    unitRanking: "Window unit ranking",
    departmentRanking: "Department ranking",
    chart: "Clerk scores",
    clerks: "Clerks",
    units: "Window units",
    rates: "Satisfaction by window, department and hall",
    sitePresence: "Site presence: sign-ins outside the site, missed check-ins",
    byRule: "Deductions and bonuses by rule",
  },
  columns: {
    rank: "Rank",
    clerk: "Clerk",
    window: "Window",
    department: "Department",
    site: "Hall / site",
    ratings: "Ratings",
    satisfied: "Satisfied",
    dissatisfied: "Dissatisfied",
    rate: "Rate",
    onTime: "On time",
    late: "Late",
    earlyLeave: "Early leave",
    absent: "Absent (half days)",
    unattended: "Unattended",
    deductions: "Deductions",
    bonuses: "Bonuses",
    score: "Score",
    awards: "Awards",
    clerks: "Clerks",
    units: "Windows",
    clerkAverage: "Clerk average",
    unitAverage: "Window average",
    level: "Level",
    name: "Name",
    rule: "Rule",
    cases: "Cases",
    points: "Points",
    why: "Why",
    outsideRadius: "Sign-ins outside the radius",
    missedCheckins: "Missed check-ins",
  },
  levels: { window: "window", department: "department", site: "hall / site" },
  rules: {},
  noAward: "excluded: two complaints within 22 working days, or overdue approval items (3 in a year, or one over 3 days)",
  commendWhy: (top) => `in the top ${top}`,
  calledInBelow: (score) => `score below ${score}`,
  calledInBottom: (n) => `in the bottom ${n}`,
  none: "none",
};

export const reportTexts = (locale: Locale = DEFAULT_LOCALE): ReportTexts => (locale === "en" ? EN_REPORT : ZH_REPORT);
