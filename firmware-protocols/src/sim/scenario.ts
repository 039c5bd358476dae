import type { DeviceKind } from "../devices/kinds.ts";
import { localDate, localTimeToUtc } from "../time.ts";

/** A hall or construction site to simulate: what the registry holds about it, plus how its people behave. */
export interface Scenario {
  /** `radiusM` around `lat`/`lon` counts as on site; `contacts` are notified of warnings about the site's people. */
  site: {
    id: string;
    kind: "hall" | "site";
    name: string;
    tz: string;
    lat?: number;
    lon?: number;
    radiusM?: number;
    contacts?: { name: string; phone: string }[];
  };
  region: { id: string; name: string };
  town: { id: string; name: string };
  gatewayId: string;
  departments: { id: string; name: string }[];
  windows: { id: string; name: string; departmentId: string }[];
  /** `pin`: the person's number on the site's ADMS terminals. */
  people: { id: string; name: string; role: "clerk" | "supervisor"; post: string; photoUrl?: string; windowId?: string; pin?: string }[];
  /** `adms`: a ZKTeco terminal that pushes over HTTP (ADMS) instead of speaking MQTT; `serial` is its serial number. */
  devices: {
    id: string;
    kind: DeviceKind;
    windowId?: string;
    cameraId?: string;
    secret: string;
    heartbeatS: number;
    adms?: { serial: string };
  }[];
  roster: { shifts: { start: string; end: string }[]; graceMinutes: number; workingDays: string[] };
  /**
   * Approval items handled at the hall (the registry's catalogue): limits in days of `unit` (working days on
   * `itemCalendar`, or calendar days). With a device of kind `queue`, a share of the transactions accepts an
   * application of an item of the window's department (`behaviour.applicationRate`).
   */
  items?: {
    code: string;
    name: string;
    departmentId: string;
    legalDays: number;
    promisedDays: number;
    unit?: "working" | "calendar";
    handler: { name: string; phone?: string };
    head: { name: string; phone?: string };
  }[];
  /** The office calendar the items' working days run on: working weekdays and public holidays (YYYY-MM-DD). */
  itemCalendar?: { workingDays: string[]; holidays: string[] };
  /** Departments' approval systems that report their items' applications to the hub's API (token named after the id). */
  approvalSystems?: { id: string; name: string; departmentId: string }[];
  behaviour: {
    /** Chance that a person is absent for the day. */
    absentRate: number;
    /** Chance that a person signs in after the grace period. */
    lateRate: number;
    /** Transactions per window per working hour (halls). */
    transactionsPerHour: number;
    /** Of prompted transactions: rated with a key, the rest time out. */
    ratedRate: number;
    /** Of ratings: very satisfied, satisfied, average, dissatisfied (four-level scale). */
    levelWeights: [number, number, number, number];
    /** Chance per working hour that a clerk leaves the window for a while. */
    breakRatePerHour: number;
    /** Of a queue system's transactions at a window whose department has items: those that accept an application. */
    applicationRate?: number;
  };
}

const WORKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const SHIFTS = [
  { start: "09:00", end: "12:00" },
  { start: "13:30", end: "17:30" },
];

const clerks = [
  ["李娜", "tax", "税务受理员"],
  ["王伟", "tax", "税务受理员"],
  ["张敏", "social", "社保受理员"],
  ["刘洋", "social", "社保受理员"],
  ["陈静", "land", "不动产登记受理员"],
  ["杨帆", "land", "不动产登记受理员"],
  ["赵磊", "business", "市场监管受理员"],
  ["黄丽", "business", "市场监管受理员"],
] as const;

const pad = (n: number) => String(n).padStart(2, "0");

/** The demo service hall: 8 windows, each with a keypad, a camera and a clerk; one sign-in terminal. */
export const demoHallScenario: Scenario = {
  site: { id: "hall-demo", kind: "hall", name: "滨江区政务服务中心", tz: "Asia/Shanghai" },
  region: { id: "east", name: "华东片区" },
  town: { id: "riverside", name: "滨江街道" },
  gatewayId: "gw-hall-demo",
  departments: [
    { id: "tax", name: "税务局" },
    { id: "social", name: "人社局" },
    { id: "land", name: "不动产登记中心" },
    { id: "business", name: "市场监管局" },
  ],
  windows: clerks.map(([, dept], i) => ({ id: `w${pad(i + 1)}`, name: `${i + 1}号窗口`, departmentId: dept })),
  people: clerks.map(([name, , post], i) => ({
    id: `clerk-${pad(i + 1)}`,
    name,
    role: "clerk" as const,
    post,
    photoUrl: `https://photos.example.invalid/clerk-${pad(i + 1)}.jpg`,
    windowId: `w${pad(i + 1)}`,
  })),
  devices: [
    ...clerks.flatMap((_, i) => [
      { id: `kp-w${pad(i + 1)}`, kind: "keypad" as const, windowId: `w${pad(i + 1)}`, secret: `demo-kp-w${pad(i + 1)}`, heartbeatS: 60 },
      {
        id: `cam-w${pad(i + 1)}`,
        kind: "camera" as const,
        windowId: `w${pad(i + 1)}`,
        cameraId: `cam-w${pad(i + 1)}`,
        secret: `demo-cam-w${pad(i + 1)}`,
        heartbeatS: 60,
      },
    ]),
    { id: "term-hall-demo", kind: "terminal", secret: "demo-term-hall-demo", heartbeatS: 60 },
    // The hall's queue and counter system: tickets, calls and services at the windows, and the applications accepted.
    { id: "qs-hall-demo", kind: "queue", secret: "demo-qs-hall-demo", heartbeatS: 60 },
  ],
  roster: { shifts: SHIFTS, graceMinutes: 5, workingDays: WORKDAYS },
  items: [
    ...[
      ["330100-XK-0001", "食品经营许可", "business", 20, 5, "working", "赵办", "钱科长"],
      ["330100-XK-0002", "个体工商户设立登记", "business", 15, 3, "working", "周办", "钱科长"],
      ["330100-DJ-0101", "不动产转移登记", "land", 30, 5, "working", "孙办", "李科长"],
      ["330100-GF-0201", "社会保险参保登记", "social", 15, 7, "calendar", "吴办", "郑科长"],
      ["330100-SW-0301", "税务登记", "tax", 10, 2, "working", "冯办", "陈科长"],
    ].map(([code, name, departmentId, legalDays, promisedDays, unit, handler, head]) => ({
      code: code as string,
      name: name as string,
      departmentId: departmentId as string,
      legalDays: legalDays as number,
      promisedDays: promisedDays as number,
      unit: unit as "working" | "calendar",
      handler: { name: handler as string },
      head: { name: head as string },
    })),
  ],
  // Mondays to Fridays; the public holidays are the demo's (npm start adds one a fortnight before its go-live).
  itemCalendar: { workingDays: ["mon", "tue", "wed", "thu", "fri"], holidays: [] },
  approvalSystems: [
    { id: "business-approvals", name: "市场监管审批系统", departmentId: "business" },
    { id: "land-approvals", name: "不动产登记系统", departmentId: "land" },
    { id: "social-approvals", name: "社保经办系统", departmentId: "social" },
    { id: "tax-approvals", name: "税务征管系统", departmentId: "tax" },
  ],
  behaviour: {
    absentRate: 0.05,
    lateRate: 0.15,
    transactionsPerHour: 6,
    ratedRate: 0.85,
    levelWeights: [0.62, 0.28, 0.06, 0.04],
    breakRatePerHour: 0.15,
    applicationRate: 0.04,
  },
};

/**
 * The demo construction site: four project supervisors signing in at the site's ZKTeco terminal, which pushes over
 * HTTP (ADMS) to the site gateway; played over MQTT (with GPS) when the simulator is not given an ADMS server.
 */
export const demoSiteScenario: Scenario = {
  site: {
    id: "site-demo",
    kind: "site",
    name: "滨江地铁站工地",
    tz: "Asia/Shanghai",
    lat: 31.2304,
    lon: 121.4737,
    radiusM: 300,
    contacts: [{ name: "刘建国（建设单位项目负责人）", phone: "+86 138 0000 0000" }],
  },
  region: { id: "east", name: "华东片区" },
  town: { id: "riverside", name: "滨江街道" },
  gatewayId: "gw-site-demo",
  departments: [],
  windows: [],
  people: [
    ["孙浩", "总监理工程师"],
    ["周强", "安全监理工程师"],
    ["吴涛", "质量监理工程师"],
    ["徐明", "现场监理员"],
  ].map(([name, post], i) => ({ id: `sup-${pad(i + 1)}`, name: name!, role: "supervisor" as const, post: post!, pin: String(i + 1) })),
  devices: [{ id: "term-site-demo", kind: "terminal", secret: "demo-term-site-demo", heartbeatS: 60, adms: { serial: "SITEDEMO0001" } }],
  roster: { shifts: [{ start: "08:00", end: "17:00" }], graceMinutes: 5, workingDays: WORKDAYS },
  behaviour: {
    absentRate: 0.05,
    lateRate: 0.2,
    transactionsPerHour: 0,
    ratedRate: 0,
    levelWeights: [1, 0, 0, 0],
    breakRatePerHour: 0,
  },
};

export const DEMO_SCENARIOS = { hall: demoHallScenario, site: demoSiteScenario } as const;

/**
 * Where live play of `scenario` starts at `now`: a quarter of an hour before the first shift of the latest day whose
 * work has begun, so a whole working day plays (the simulators, and `npm start`'s go-live, use it).
 */
export function liveDayStart(scenario: Pick<Scenario, "site" | "roster">, now: number): number {
  const tz = scenario.site.tz;
  const firstStart = (d: number) => {
    const date = localDate(now + d * 86_400_000, tz);
    return Math.min(...scenario.roster.shifts.map((s) => localTimeToUtc(date, s.start, tz))) - 15 * 60_000;
  };
  return [0, -1, -2].map(firstStart).find((t) => t <= now) ?? now;
}
