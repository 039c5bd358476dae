/** The rules' texts: Chinese by default, English by setting, times in the site's zone. */
import { describe, expect, it } from "vitest";
import { supervisionTexts } from "../src/supervision/messages.ts";
import { SupervisionSettings } from "../src/supervision/index.ts";

const NINE_OH_SEVEN_BEIJING = Date.UTC(2026, 10, 18, 1, 7); // 09:07 in Shanghai, 01:07 UTC

describe("supervision texts", () => {
  it("are simplified Chinese by default, with the site's local time", () => {
    expect(SupervisionSettings.parse({}).locale).toBe("zh-CN");
    const zh = supervisionTexts(undefined, "Asia/Shanghai");
    expect(zh.attendanceFault({ status: "late", halfDay: 1, at: NINE_OH_SEVEN_BEIJING })).toBe("上午迟到（09:07）");
    expect(zh.attendance({ status: "late", minutes: 7, halfDay: 1 })).toBe("迟到 7 分钟");
    expect(zh.attendance({ status: "absent", minutes: 0, halfDay: 2 })).toBe("下午缺勤");
    expect(zh.unattendedFault({ minutes: 40, from: NINE_OH_SEVEN_BEIJING })).toBe("09:07 起无人值守 40 分钟");
    expect(zh.gatewaySilent({ gateway: "gw-1", since: NINE_OH_SEVEN_BEIJING })).toBe("网关 gw-1 自 2026-11-18 09:07 起无联系");
  });

  it("are English with `locale: en`, still in the site's zone, never UTC for a Beijing hall", () => {
    expect(SupervisionSettings.parse({ locale: "en" }).locale).toBe("en");
    const en = supervisionTexts("en", "Asia/Shanghai");
    expect(en.attendanceFault({ status: "early_leave", halfDay: 2, at: NINE_OH_SEVEN_BEIJING })).toBe("early leave (half day 2, 09:07)");
    expect(en.unattendedFault({ minutes: 40, from: NINE_OH_SEVEN_BEIJING })).toBe("unattended 40 min from 09:07");
    expect(supervisionTexts("en", "UTC").time(NINE_OH_SEVEN_BEIJING)).toBe("01:07");
  });

  it("refuses an unknown language with the choices, and writes '?' for a time it does not have", () => {
    expect(() => SupervisionSettings.parse({ locale: "fr" })).toThrow(/zh-CN|en/);
    expect(supervisionTexts("zh-CN", "Asia/Shanghai").time(Number.NaN)).toBe("?");
  });
});
