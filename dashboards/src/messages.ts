/**
 * Every text a person reads on the dashboards, in one catalogue: simplified Chinese (the supervision offices'
 * language, the default) and English. A dashboard takes its titles, descriptions, legends and variable labels
 * from here and nowhere else, so a missing translation is a type error, not an English word on the big screen.
 */

export const LOCALES = ["zh-CN", "en"] as const;
export type Locale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: Locale = "zh-CN";

interface PanelText {
  title: string;
  description?: string;
}

export interface DashboardMessages {
  variables: { region: string; town: string; site: string; window: string };
  links: {
    openHall: string;
    openHallTip: string;
    hall: string;
    hallTip: string;
    fleet: string;
    fleetTip: string;
    centre: string;
    centreTip: string;
    /** The hub's live view page of the hall's cameras (hub/src/live). */
    liveView: string;
    liveViewTip: string;
    /** The centre's detail dashboard: the rows behind the big screen's counts. */
    detail: string;
    detailTip: string;
    /** A warning row's snapshot: the hub's evidence page (hub/src/cameras), checked against the recorded hash. */
    snapshot: string;
    snapshotTip: string;
  };
  /** Column aliases (legends and table headers). Plain words: they are quoted identifiers in InfluxQL. */
  columns: {
    late: string;
    absent: string;
    leftPost: string;
    satisfaction: string;
    positive: string;
    negative: string;
    neutral: string;
    transactions: string;
    waitingMinutes: string;
    serviceMinutes: string;
    halfDays: string;
    absences: string;
    online: string;
    devicesOnline: string;
    devicesTotal: string;
    bufferDepth: string;
    oldestUnsent: string;
    rtt: string;
    rejected: string;
    score: string;
    deductions: string;
    bonuses: string;
    points: string;
    card: string;
    reasons: string;
    outsideRadius: string;
    missedCheckins: string;
    distance: string;
    beyond: string;
    warning: string;
    handling: string;
    handledBy: string;
    overdue: string;
    waiting: string;
    /** The camera and the SHA-256 of a warning's snapshot. */
    snapshotCamera: string;
    snapshotHash: string;
    /** Approval items (item_state). */
    inProgress: string;
    nearLimit: string;
    itemsOverdue: string;
    complained: string;
    application: string;
    handler: string;
    due: string;
    daysLeft: string;
  };
  centre: {
    title: string;
    description: string;
    atPost: PanelText;
    unattended: PanelText;
    ratings: PanelText;
    satisfaction: PanelText;
    lateAbsent: PanelText;
    integrity: PanelText;
    cards: PanelText;
    warningsWaiting: PanelText;
    warnings: PanelText;
    satisfactionByHall: PanelText;
    itemsByDepartment: PanelText;
    itemsNearLimit: PanelText;
  };
  /** The centre's detail dashboard: the lists the big screen counts (kept off the kiosk screen so it fits 1920×1080). */
  centreDetail: { title: string; description: string };
  hall: {
    title: string;
    description: string;
    whoIsThere: PanelText;
    ratingsPerWindow: PanelText;
    transactionsPerWindow: PanelText;
    serviceTimesPerWindow: PanelText;
    attendanceTimeline: PanelText;
    motionPerCamera: PanelText;
    cards: PanelText;
  };
  sites: {
    title: string;
    description: string;
    signinTimeline: PanelText;
    attendanceByStatus: PanelText;
    absencesPerSite: PanelText;
    lateOffline: PanelText;
    presencePerSite: PanelText;
    outsideSignins: PanelText;
  };
  fleet: {
    title: string;
    description: string;
    gateways: PanelText;
    bufferDepth: PanelText;
    oldestUnsent: PanelText;
    roundTrip: PanelText;
    deviceAvailability: PanelText;
    rejected: PanelText;
  };
  assessment: {
    title: string;
    description: string;
    monthly: PanelText;
    byRule: PanelText;
    trend: PanelText;
  };
  annotations: { warningsAndCards: string };
  /** The hub's handling states of a warning (hub/src/supervision/handling.ts), as a person reads them. */
  handlingStates: { open: string; acknowledged: string; handled: string; closed: string };
  /** The big screen's blocks per department, ratings to verify, supervisors not signed in, equipment offline. */
  bigScreen: {
    departments: PanelText;
    toVerify: PanelText;
    notSignedIn: PanelText;
    offlineCount: PanelText;
    offline: PanelText;
    /** Counts on the big screen whose rows are on the detail dashboard. */
    openCards: PanelText;
    toVerifyCount: PanelText;
    notSignedInCount: PanelText;
    /** Column aliases of the counts. */
    supervisors: string;
    ratingsToVerify: string;
    /** A department's block: its worst card today. */
    states: { green: string; yellow: string; red: string };
    allSignedIn: string;
    /** Column aliases. */
    state: string;
    rating: string;
    devices: string;
    gateways: string;
    yellowCards: string;
    redCards: string;
    /** The unattended block's two numbers: windows nobody is at, and windows whose camera is offline (not judged). */
    unattendedNow: string;
    cameraOffline: string;
    /** Values of the state column: offline now, signed in now, not signed in yet. */
    offlineNow: string;
    signedIn: string;
    notYetSignedIn: string;
  };
  /** The "items" dashboard: a department's applications by state, one application's trail (item_state, item_event). */
  items: {
    title: string;
    description: string;
    variables: { department: string; state: string; application: string };
    /** The state filter's choices (see ITEM_STATE_FILTERS in dashboards.ts). */
    filters: { all: string; inProgress: string; nearLimit: string; overdue: string; completed: string; refused: string; suspended: string };
    list: PanelText;
    trail: PanelText;
    columns: {
      accepted: string;
      state: string;
      outcome: string;
      time: string;
      event: string;
      step: string;
      clerk: string;
      result: string;
      reason: string;
      source: string;
    };
    /** The stored English words of item_state.state, item_event's type and outcome, read in the dashboard's language. */
    words: {
      in_progress: string;
      suspended: string;
      completed: string;
      accepted: string;
      step: string;
      resumed: string;
      approved: string;
      refused: string;
    };
  };
  /** Table headers of the tag columns (InfluxDB names them by the tag), and their values that are words. */
  tags: {
    region: string;
    town: string;
    site: string;
    department: string;
    window: string;
    person: string;
    clerk: string;
    subject: string;
    subject_kind: string;
    gateway: string;
    device: string;
    kind: string;
    rule: string;
    severity: string;
    item: string;
  };
  subjectKinds: { clerk: string; supervisor: string; window: string; item: string; device: string; gateway: string };
  /** The data source variable of the per-region dashboards: the central InfluxDB or a region's (influx.regions). */
  datasource: string;
  /** The province dashboard: the regions' rollups gathered into the central database (hub rollup). */
  province: {
    title: string;
    description: string;
    satisfaction: PanelText;
    ratings: PanelText;
    attendance: PanelText;
    cards: PanelText;
    warnings: PanelText;
    items: PanelText;
    trend: PanelText;
    columns: {
      rated: string;
      positive: string;
      negative: string;
      count: string;
      raised: string;
      status: string;
      color: string;
      category: string;
      type: string;
    };
    /** The stored English words of the rollups' tags, read in the dashboard's language. */
    words: {
      status: { on_time: string; late: string; early_leave: string; absent: string; left_post: string; review: string };
      color: { green: string; yellow: string; red: string };
      category: { people: string; equipment: string; items: string };
      type: { accepted: string; step: string; suspended: string; resumed: string; completed: string };
    };
  };
}

const zh: DashboardMessages = {
  variables: { region: "区域", town: "乡镇", site: "大厅 / 工地", window: "窗口" },
  links: {
    openHall: "打开该大厅",
    openHallTip: "查看该行所属大厅的看板",
    hall: "大厅",
    hallTip: "单个大厅的各个窗口",
    fleet: "网关运行",
    fleetTip: "网关与设备状态",
    centre: "监察中心",
    centreTip: "返回全部大厅",
    liveView: "实时视频",
    liveViewTip: "该大厅各窗口摄像机的实时画面（需要 API 令牌）",
    detail: "监察中心明细",
    detailTip: "大屏各项数字背后的逐条明细：警示牌、预警及处置、待核实评价、未签到监理、离线设备、临近时限事项",
    snapshot: "查看现场截图",
    snapshotTip: "预警时摄像机拍下的截图，从网关取回并与记录的 SHA-256 核对（需要 API 令牌）",
  },
  columns: {
    late: "迟到",
    absent: "缺勤",
    leftPost: "早退或离岗",
    satisfaction: "满意率",
    positive: "满意",
    negative: "不满意",
    neutral: "一般",
    transactions: "办件数",
    waitingMinutes: "平均等候（分钟）",
    serviceMinutes: "平均办理（分钟）",
    halfDays: "半天数",
    absences: "缺勤次数",
    online: "在线",
    devicesOnline: "在线设备",
    devicesTotal: "设备总数",
    bufferDepth: "待发读数",
    oldestUnsent: "最早未发（秒）",
    rtt: "上行往返（毫秒）",
    rejected: "拒收次数",
    score: "得分",
    deductions: "扣分",
    bonuses: "加分",
    points: "分值",
    card: "警示牌",
    reasons: "原因",
    outsideRadius: "范围外签到",
    missedCheckins: "未到场签到",
    distance: "距离（米）",
    beyond: "超出（米）",
    warning: "预警内容",
    handling: "处置状态",
    handledBy: "处置人",
    overdue: "逾期未处置",
    waiting: "待处置",
    snapshotCamera: "截图摄像机",
    snapshotHash: "现场截图",
    inProgress: "在办",
    nearLimit: "临近时限",
    itemsOverdue: "超期",
    complained: "被投诉",
    application: "申请号",
    handler: "承办人",
    due: "办理时限",
    daysLeft: "剩余天数",
  },
  centre: {
    title: "电子监察中心",
    description: "全部大厅和工地一屏总览，供监察中心大屏（kiosk 模式）使用。",
    atPost: { title: "在岗窗口", description: "今天摄像头最后一次状态为“有人”的窗口数。" },
    unattended: {
      title: "当前无人窗口",
      description:
        "今天摄像头最后一次状态为“无人”的窗口数，包括早已离开、长时间无人的窗口；另计摄像机现在离线的窗口（无画面，不判无人值守，需检修摄像机）。",
    },
    ratings: { title: "今日评价数" },
    satisfaction: { title: "今日满意率" },
    lateAbsent: { title: "今日迟到、缺勤、早退离岗人数", description: "按人计，不按半天计。" },
    integrity: { title: "今日数据完整性告警", description: "网关上传批次的缺号、篡改或签名错误。" },
    cards: { title: "今日黄牌和红牌", description: "每个对象今天的警示牌：谁、在哪里、为什么。" },
    warningsWaiting: { title: "今日待处置预警", description: "尚未处置的预警条数，以及超过处置时限的条数。" },
    warnings: { title: "今日预警及处置", description: "今天的预警：内容、处置状态、处置人；已办结的不再显示。" },
    satisfactionByHall: { title: "今日各大厅满意率" },
    itemsByDepartment: {
      title: "各部门审批事项",
      description: "在办事项数、临近承诺时限（催办中）和已超期的件数，以及在办事项被投诉（与其关联的不满意评价）的次数，按部门。",
    },
    itemsNearLimit: { title: "临近时限与超期的事项", description: "在办事项中剩余天数最少的，含承办人与办理时限；剩余 0 天即已超期。" },
  },
  centreDetail: {
    title: "监察中心明细",
    description: "大屏各项数字背后的逐条明细（谁、在哪里、为什么），由大屏各面板的链接进入。",
  },
  hall: {
    title: "大厅",
    description: "单个大厅的各个窗口：谁在岗、评价、考勤、摄像头动态和警示牌。",
    whoIsThere: {
      title: "各窗口当前签到人员",
      description: "每个窗口现在已签到的工作人员（今天最后一次打卡是签到，不是签退）及签到时间。",
    },
    ratingsPerWindow: { title: "各窗口和工作人员的评价" },
    transactionsPerWindow: {
      title: "各窗口办件数",
      description: "所选时段（默认今天）内各窗口办结的业务笔数，以排队叫号系统的“办结”记录计。",
    },
    serviceTimesPerWindow: {
      title: "各窗口等候与办理时长",
      description: "所选时段内各窗口办结业务的平均等候时长（取号到首次叫号）和平均办理时长（开始办理到办结），单位分钟。",
    },
    attendanceTimeline: { title: "考勤时间线" },
    motionPerCamera: { title: "各摄像头动态" },
    cards: { title: "警示牌及原因" },
  },
  sites: {
    title: "建设工地",
    description: "监理人员在各工地的签到、准时率、缺勤和离线终端迟到上传的签到。",
    signinTimeline: { title: "监理签到时间线" },
    attendanceByStatus: { title: "监理考勤情况", description: "准时与迟到、早退、缺勤的半天数。" },
    absencesPerSite: { title: "各工地缺勤次数" },
    lateOffline: { title: "离线终端迟到上传的签到", description: "签到后超过 5 分钟才到达中心的记录。" },
    presencePerSite: {
      title: "各工地范围外签到和未到场签到",
      description: "GPS 位置在工地登记半径之外的签到次数，以及按签到要求（每周几天或每天几个时段）缺少的到场签到次数。",
    },
    outsideSignins: { title: "范围外签到明细", description: "谁在什么时候、离工地多远签到（已扣除定位误差）。" },
  },
  fleet: {
    title: "网关运行",
    description: "供现场工程师使用：各网关的联系、设备、缓存、上行和拒收读数。",
    gateways: { title: "网关", description: "最近联系、在线设备、缓存深度、最早未发读数和上行往返时间。" },
    bufferDepth: { title: "缓存深度" },
    oldestUnsent: { title: "最早未发读数" },
    roundTrip: { title: "上行往返时间" },
    deviceAvailability: {
      title: "设备每小时在线率（%）",
      description: "由设备心跳或网关的在线摘要算出，精确到一个心跳间隔；离线超过 2.5 个心跳间隔即计为离线。",
    },
    rejected: { title: "按原因统计的拒收", description: "各网关按类型统计的完整性告警（缺号、篡改、签名错误、格式错误等）。" },
  },
  assessment: {
    title: "绩效考核",
    description: "工作人员和窗口单位的月度得分、按规则统计的扣分、各月趋势。",
    monthly: { title: "月度得分" },
    byRule: { title: "按规则统计的扣分" },
    trend: { title: "各月得分趋势" },
  },
  annotations: { warningsAndCards: "监察预警和警示牌" },
  handlingStates: { open: "待处理", acknowledged: "已知悉", handled: "已处置", closed: "已办结" },
  bigScreen: {
    departments: { title: "各部门状态", description: "各部门今天最重的警示牌：绿色正常，黄色有黄牌，红色有红牌。" },
    toVerify: {
      title: "待核实的不满意评价",
      description: "近 31 天尚未核实或撤销的不满意评价。评价编号即“设备:序号”，核实用 hub verify 编号，撤销用 hub dismiss 编号。",
    },
    notSignedIn: { title: "今日尚未签到的工地监理", description: "今天的班次已开始、至今没有任何签到的监理。" },
    offlineCount: { title: "离线设备和网关", description: "当前离线（心跳或网关状态超时未到）的设备数和网关数。" },
    offline: { title: "离线设备和网关明细", description: "从最后一次联系的时间算起，至今没有恢复的设备和网关。" },
    openCards: { title: "今日黄牌红牌数", description: "今天亮黄牌、红牌的对象数（人员、窗口、事项）。明细见“监察中心明细”。" },
    toVerifyCount: { title: "待核实的不满意评价数", description: "近 31 天尚未核实或撤销的不满意评价条数。明细见“监察中心明细”。" },
    notSignedInCount: {
      title: "今日未签到的监理人数",
      description: "今天的班次已开始、至今没有任何签到的监理人数。明细见“监察中心明细”。",
    },
    supervisors: "监理",
    ratingsToVerify: "待核实",
    states: { green: "正常", yellow: "黄牌", red: "红牌" },
    allSignedIn: "全部已签到",
    state: "状态",
    rating: "评价编号",
    devices: "设备",
    gateways: "网关",
    yellowCards: "黄牌",
    redCards: "红牌",
    unattendedNow: "无人",
    cameraOffline: "摄像机离线",
    offlineNow: "离线",
    signedIn: "已签到",
    notYetSignedIn: "未签到",
  },
  items: {
    title: "审批事项",
    description: "一个部门的审批事项办件：按状态筛选的办件列表，以及一个办件的全部办理过程（每一步、谁、何时）。",
    variables: { department: "部门", state: "状态", application: "申请号" },
    filters: {
      all: "全部",
      inProgress: "在办",
      nearLimit: "即将到期",
      overdue: "已超期",
      completed: "已办结",
      refused: "不予许可",
      suspended: "暂停计时",
    },
    list: {
      title: "部门办件",
      description:
        "所选部门近 400 天受理的办件，按所选状态筛选：受理时间、事项、申请号、承办人、办理时限、状态。在办含暂停计时的；已办结含不予许可的。",
    },
    trail: {
      title: "办件过程",
      description:
        "所选申请号的每一个事件：时间、事件、环节、承办人、办理意见。大厅排队系统和部门审批系统都报送的同一事件显示两行，来源不同。",
    },
    columns: {
      accepted: "受理时间",
      state: "状态",
      outcome: "办理结果",
      time: "时间",
      event: "事件",
      step: "环节",
      clerk: "窗口人员",
      result: "办理意见",
      reason: "理由",
      source: "来源",
    },
    words: {
      in_progress: "在办",
      suspended: "暂停计时",
      completed: "已办结",
      accepted: "受理",
      step: "办理环节",
      resumed: "恢复计时",
      approved: "准予许可",
      refused: "不予许可",
    },
  },
  tags: {
    region: "区域",
    town: "乡镇",
    site: "大厅 / 工地",
    department: "部门",
    window: "窗口",
    person: "人员",
    clerk: "工作人员",
    subject: "对象",
    subject_kind: "类型",
    gateway: "网关",
    device: "设备",
    kind: "类型",
    rule: "规则",
    severity: "级别",
    item: "审批事项",
  },
  subjectKinds: { clerk: "工作人员", supervisor: "监理", window: "窗口", item: "审批事项", device: "设备", gateway: "网关" },
  datasource: "数据源（地区）",
  province: {
    title: "全省汇总",
    description:
      "各地区的日、月统计，由 hub rollup 从各地区的 InfluxDB 汇总到中心库：满意率、评价数、考勤、警示牌、预警和审批事项。所选时间范围内的合计。",
    satisfaction: { title: "各地区满意率", description: "所选时间内满意的评价占全部评价的比例。" },
    ratings: { title: "各地区评价数" },
    attendance: { title: "各地区考勤结果", description: "每人每半天一次考勤判定，按结果统计。" },
    cards: { title: "各地区警示牌", description: "对象每天的警示牌颜色，按颜色统计（人天）。" },
    warnings: { title: "各地区预警数", description: "所选时间内发出的预警，按类别统计。" },
    items: { title: "各部门审批事项", description: "审批事项的事件数，按部门和事件统计。" },
    trend: { title: "各地区每月满意率" },
    columns: {
      rated: "评价数",
      positive: "满意",
      negative: "不满意",
      count: "数量",
      raised: "预警数",
      status: "考勤结果",
      color: "警示牌",
      category: "类别",
      type: "事件",
    },
    words: {
      status: { on_time: "正常", late: "迟到", early_leave: "早退", absent: "缺勤", left_post: "脱岗", review: "待复核" },
      color: { green: "绿牌", yellow: "黄牌", red: "红牌" },
      category: { people: "人员", equipment: "设备", items: "审批事项" },
      type: { accepted: "受理", step: "办理", suspended: "中止", resumed: "恢复", completed: "办结" },
    },
  },
};

const en: DashboardMessages = {
  variables: { region: "Region", town: "Town", site: "Hall / site", window: "Window" },
  links: {
    openHall: "Open this hall",
    openHallTip: "The hall dashboard for this row's site",
    hall: "Hall",
    hallTip: "One hall's windows",
    fleet: "Gateway fleet",
    fleetTip: "Gateways and devices",
    centre: "Supervision centre",
    centreTip: "Back to all halls",
    liveView: "Live video",
    liveViewTip: "The hall's window cameras live (needs an API token)",
    detail: "Centre details",
    detailTip:
      "The rows behind the big screen's numbers: cards, warnings and their handling, ratings to verify, supervisors not signed in, offline devices, items at their limit",
    snapshot: "Open the snapshot",
    snapshotTip:
      "The camera's snapshot taken for the warning, fetched from the gateway and checked against its recorded SHA-256 (needs an API token)",
  },
  columns: {
    late: "late",
    absent: "absent",
    leftPost: "left early or left post",
    satisfaction: "satisfaction",
    positive: "positive",
    negative: "negative",
    neutral: "neutral",
    transactions: "transactions",
    waitingMinutes: "mean waiting min",
    serviceMinutes: "mean service min",
    halfDays: "half days",
    absences: "absences",
    online: "online",
    devicesOnline: "devices online",
    devicesTotal: "devices total",
    bufferDepth: "buffer depth",
    oldestUnsent: "oldest unsent s",
    rtt: "rtt ms",
    rejected: "rejected",
    score: "score",
    deductions: "deductions",
    bonuses: "bonuses",
    points: "points",
    card: "card",
    reasons: "reasons",
    outsideRadius: "outside radius",
    missedCheckins: "missed check-ins",
    distance: "distance m",
    beyond: "beyond m",
    warning: "warning",
    handling: "handling",
    handledBy: "handled by",
    overdue: "overdue",
    waiting: "waiting",
    snapshotCamera: "snapshot camera",
    snapshotHash: "snapshot",
    inProgress: "in progress",
    nearLimit: "at the limit",
    itemsOverdue: "overdue",
    complained: "complained about",
    application: "application",
    handler: "handler",
    due: "due",
    daysLeft: "days left",
  },
  centre: {
    title: "Supervision centre",
    description: "All halls and sites at a glance, for the big screen (kiosk mode).",
    atPost: { title: "Clerks at their post now", description: "Windows whose camera's last state today is presence." },
    unattended: {
      title: "Unattended windows now",
      description:
        "Windows whose camera's last state today is 'nobody there', including the long-empty ones; and apart, windows whose camera is offline now (no picture: not judged unattended, the camera needs fixing).",
    },
    ratings: { title: "Ratings today" },
    satisfaction: { title: "Satisfaction rate today" },
    lateAbsent: { title: "Late, absent, left early or left post today", description: "People, not half days." },
    integrity: { title: "Integrity alerts today", description: "Gaps, altered or badly signed batches from gateways." },
    cards: { title: "Yellow and red cards today", description: "Each subject's card today: who, where and why." },
    warningsWaiting: {
      title: "Warnings waiting for handling today",
      description: "Warnings not yet handled, and those past their handling limit.",
    },
    warnings: {
      title: "Warnings today and their handling",
      description: "Today's warnings: what, handling state, who handled it; closed ones drop off.",
    },
    satisfactionByHall: { title: "Satisfaction by hall today" },
    itemsByDepartment: {
      title: "Approval items by department",
      description:
        "Open applications, those at their promised limit and those overdue, and the dissatisfied ratings tied to open applications (complained about), per department.",
    },
    itemsNearLimit: {
      title: "Items at or past their limit",
      description: "Open applications with the fewest days left, with handler and deadline; 0 days left is overdue.",
    },
  },
  centreDetail: {
    title: "Centre details",
    description: "The rows behind the big screen's numbers (who, where, why), reached by the big screen's panel links.",
  },
  hall: {
    title: "Hall",
    description: "One hall's windows: who is there, ratings, attendance, motion and cards.",
    whoIsThere: {
      title: "Who is signed in at each window",
      description: "The clerks signed in now at each window (their last punch today is a sign-in, not a sign-out), since when.",
    },
    ratingsPerWindow: { title: "Ratings per window and clerk" },
    transactionsPerWindow: {
      title: "Transactions per window",
      description:
        "Transactions finished at each window in the chosen range (today by default), counted from the queue system's finished events.",
    },
    serviceTimesPerWindow: {
      title: "Waiting and service time per window",
      description:
        "Mean waiting (ticket taken to first call) and mean service time (service started to finished) of the transactions finished at each window in the chosen range, in minutes.",
    },
    attendanceTimeline: { title: "Attendance timeline" },
    motionPerCamera: { title: "Motion per camera" },
    cards: { title: "Cards and reasons" },
  },
  sites: {
    title: "Construction sites",
    description: "Supervisors' sign-ins per site, on-time rate, absences and late-arriving offline sign-ins.",
    signinTimeline: { title: "Supervisors' sign-in timeline" },
    attendanceByStatus: {
      title: "Supervisor attendance by status",
      description: "On time against late, early leave and absent half days.",
    },
    absencesPerSite: { title: "Absences per site" },
    lateOffline: {
      title: "Late sign-ins from offline terminals",
      description: "Sign-ins that reached the hub more than 5 minutes after they happened.",
    },
    presencePerSite: {
      title: "Sign-ins outside the site and missed check-ins per site",
      description:
        "Sign-ins whose GPS fix lies outside the site's registered radius, and check-ins missed against the roster's rule (days a week or set times a day).",
    },
    outsideSignins: {
      title: "Sign-ins outside the site",
      description: "Who signed in when, and how far from the site (after the fix's own error).",
    },
  },
  fleet: {
    title: "Gateway fleet",
    description: "For field engineers: each gateway's contact, devices, buffer, uplink and rejected readings.",
    gateways: {
      title: "Gateways",
      description: "Last contact, devices online, buffer depth, oldest unsent reading and uplink round trip.",
    },
    bufferDepth: { title: "Buffer depth" },
    oldestUnsent: { title: "Oldest unsent reading" },
    roundTrip: { title: "Uplink round trip" },
    deviceAvailability: {
      title: "Device availability per hour (%)",
      description:
        "From the devices' heartbeats or their gateways' presence summaries, exact to the heartbeat interval: silent past 2.5 intervals counts as offline.",
    },
    rejected: {
      title: "Rejected readings by reason",
      description: "Integrity alerts per gateway and kind (gap, altered, bad signature, malformed, ...).",
    },
  },
  assessment: {
    title: "Assessment",
    description: "Monthly scores per clerk and window unit, deductions by rule, trends across months.",
    monthly: { title: "Monthly scores" },
    byRule: { title: "Deductions by rule" },
    trend: { title: "Score trend across months" },
  },
  annotations: { warningsAndCards: "Supervision warnings and cards" },
  handlingStates: { open: "open", acknowledged: "acknowledged", handled: "handled", closed: "closed" },
  bigScreen: {
    departments: {
      title: "Departments now",
      description: "Each department's worst card today: green all well, yellow a yellow card, red a red card.",
    },
    toVerify: {
      title: "Dissatisfied ratings to verify",
      description:
        "Dissatisfied ratings of the last 31 days not yet verified or dismissed. The rating is device:seq: hub verify <rating>, hub dismiss <rating>.",
    },
    notSignedIn: {
      title: "Site supervisors not signed in today",
      description: "Supervisors whose shift today has begun and who have not signed in at all.",
    },
    offlineCount: { title: "Devices and gateways offline", description: "Devices and gateways offline now (heartbeat or status overdue)." },
    offline: { title: "Offline devices and gateways", description: "Devices and gateways not back since their last contact." },
    openCards: {
      title: "Cards today",
      description: "Subjects (people, windows, items) with a yellow or red card today. The rows: Centre details.",
    },
    toVerifyCount: {
      title: "Ratings to verify",
      description: "Dissatisfied ratings of the last 31 days not yet verified or dismissed. The rows: Centre details.",
    },
    notSignedInCount: {
      title: "Supervisors not signed in",
      description: "Supervisors whose shift today has begun and who have not signed in at all. The rows: Centre details.",
    },
    supervisors: "supervisors",
    ratingsToVerify: "to verify",
    states: { green: "all well", yellow: "yellow card", red: "red card" },
    allSignedIn: "all signed in",
    state: "state",
    rating: "rating",
    devices: "devices",
    gateways: "gateways",
    yellowCards: "yellow",
    redCards: "red",
    unattendedNow: "unattended",
    cameraOffline: "camera offline",
    offlineNow: "offline",
    signedIn: "signed in",
    notYetSignedIn: "not signed in",
  },
  items: {
    title: "Approval items",
    description: "A department's applications: the list filtered by state, and one application's trail (every step, who, when).",
    variables: { department: "Department", state: "State", application: "Application" },
    filters: {
      all: "All",
      inProgress: "In progress",
      nearLimit: "About to expire",
      overdue: "Overdue",
      completed: "Completed",
      refused: "Refused",
      suspended: "Suspended",
    },
    list: {
      title: "Department's applications",
      description:
        "The department's applications accepted in the last 400 days, filtered by state: accepted, item, application, handler, deadline, state. In progress includes the suspended ones; completed includes the refused ones.",
    },
    trail: {
      title: "Application trail",
      description:
        "Every event of the chosen application: time, event, step, handler, result. An event reported by both the hall's queue system and the department's approval system shows twice, with its two sources.",
    },
    columns: {
      accepted: "Accepted",
      state: "State",
      outcome: "Outcome",
      time: "Time",
      event: "Event",
      step: "Step",
      clerk: "Clerk",
      result: "Result",
      reason: "Reason",
      source: "Source",
    },
    words: {
      in_progress: "in progress",
      suspended: "suspended",
      completed: "completed",
      accepted: "accepted",
      step: "step",
      resumed: "resumed",
      approved: "approved",
      refused: "refused",
    },
  },
  tags: {
    region: "region",
    town: "town",
    site: "hall / site",
    department: "department",
    window: "window",
    person: "person",
    clerk: "clerk",
    subject: "subject",
    subject_kind: "kind",
    gateway: "gateway",
    device: "device",
    kind: "kind",
    rule: "rule",
    severity: "severity",
    item: "approval item",
  },
  subjectKinds: { clerk: "clerk", supervisor: "supervisor", window: "window", item: "approval item", device: "device", gateway: "gateway" },
  datasource: "Data source (region)",
  province: {
    title: "Province",
    description:
      "Each region's day and month counts, gathered by hub rollup from the regions' InfluxDB into the central one: satisfaction, ratings, attendance, cards, warnings and approval items. Totals over the time range chosen.",
    satisfaction: { title: "Satisfaction by region", description: "Satisfied ratings of all ratings in the time range." },
    ratings: { title: "Ratings by region" },
    attendance: { title: "Attendance by region", description: "One judgement per person and half day, counted by result." },
    cards: { title: "Cards by region", description: "Each subject's card of the day, counted by colour (subject-days)." },
    warnings: { title: "Warnings by region", description: "Warnings raised in the time range, by category." },
    items: { title: "Approval items by department", description: "Approval item events, by department and event." },
    trend: { title: "Satisfaction by region and month" },
    columns: {
      rated: "rated",
      positive: "satisfied",
      negative: "dissatisfied",
      count: "count",
      raised: "warnings",
      status: "result",
      color: "card",
      category: "category",
      type: "event",
    },
    words: {
      status: {
        on_time: "on time",
        late: "late",
        early_leave: "left early",
        absent: "absent",
        left_post: "left post",
        review: "to review",
      },
      color: { green: "green", yellow: "yellow", red: "red" },
      category: { people: "people", equipment: "equipment", items: "approval items" },
      type: { accepted: "accepted", step: "step", suspended: "suspended", resumed: "resumed", completed: "completed" },
    },
  },
};

const CATALOGUE: Record<Locale, DashboardMessages> = { "zh-CN": zh, en };

export function dashboardMessages(locale: Locale = DEFAULT_LOCALE): DashboardMessages {
  return CATALOGUE[locale];
}
