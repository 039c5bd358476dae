import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseAttlogLine, punchDirection, punchMethod, punchSeq, terminalTimeToUtc, utcToTerminalTime, zkEncodedTime } from "./attlog.ts";
import { commandText, parseConfirmations, type AdmsCommand } from "./commands.ts";
import { decodeBody, deviceInfo, parseOperlogLine } from "./text.ts";

describe("ATTLOG lines", () => {
  it("parses the recorded line shape: tabs, empty work code, trailing tab", () => {
    expect(parseAttlogLine("1\t2024-07-28 01:25:24\t0\t1\t\t0\t0\t")).toEqual({
      ok: true,
      punch: { pin: "1", local: "2024-07-28 01:25:24", status: 0, verify: 1 },
    });
  });

  it("refuses malformed lines with a reason", () => {
    const cases: [string, RegExp][] = [
      ["1 2024-07-28 01:25:24 0 1", /at least 4 tab-separated fields/],
      ["\t2024-07-28 01:25:24\t0\t1", /PIN "" is not/],
      ["1\t2024/07/28 01:25:24\t0\t1", /is not "YYYY-MM-DD hh:mm:ss"/],
      ["1\t2024-02-30 01:25:24\t0\t1", /not a real date/],
      ["1\t2024-07-28 01:25:24\t-1\t1", /status/],
      ["1\t2024-07-28 01:25:24\t0\t999", /verify mode/],
      ["1;DROP\t2024-07-28 01:25:24\t0\t1", /PIN/],
    ];
    for (const [line, reason] of cases) {
      const r = parseAttlogLine(line);
      expect(r.ok, line).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(reason);
    }
  });

  it("never throws on any input", () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), (line) => typeof parseAttlogLine(line).ok === "boolean"));
  });

  it("gives each (PIN, status) its own sequence number, the same every time, within 32 bits", () => {
    expect(punchSeq("1", 0)).toBe(16);
    expect(punchSeq("1", 1)).toBe(17);
    expect(punchSeq("99999999", 255)).toBe(99_999_999 * 16 + 15);
    const seen = new Map<number, string>();
    for (const pin of ["0", "1", "2", "10", "99999999", "100000000", "A1", "a1", "123456789012"]) {
      for (const status of [0, 1, 2, 3, 4, 5, 15, 255]) {
        const seq = punchSeq(pin, status);
        expect(seq).toBeGreaterThanOrEqual(0);
        expect(seq).toBeLessThanOrEqual(0xffffffff);
        expect(seen.get(seq), `${pin}/${status}`).toBeUndefined();
        seen.set(seq, `${pin}/${status}`);
        expect(punchSeq(pin, status)).toBe(seq);
      }
    }
  });

  it("maps status to direction and verify mode to method", () => {
    expect([0, 1, 2, 3, 4, 5, 255].map(punchDirection)).toEqual(["in", "out", "out", "in", "in", "out", "in"]);
    expect([0, 1, 3, 4, 15, 25, 2, 9].map(punchMethod)).toEqual([
      "pin",
      "fingerprint",
      "pin",
      "card",
      "face",
      "face",
      "card",
      "fingerprint",
    ]);
  });

  it("reads terminal times in the terminal's zone, across a DST change", () => {
    expect(terminalTimeToUtc("2024-07-28 01:25:24", "Asia/Shanghai")).toBe(Date.UTC(2024, 6, 27, 17, 25, 24));
    expect(terminalTimeToUtc("2024-03-31 03:30:00", "Europe/Berlin")).toBe(Date.UTC(2024, 2, 31, 1, 30));
    expect(terminalTimeToUtc("2024-01-15 12:00:00", "Europe/Berlin")).toBe(Date.UTC(2024, 0, 15, 11));
    expect(utcToTerminalTime(Date.UTC(2024, 6, 27, 17, 25, 24, 900), "Asia/Shanghai")).toBe("2024-07-28 01:25:24");
  });

  it("encodes the clock as ZKTeco firmware reads SET OPTION DateTime", () => {
    // ((24×12 + 6)×31 + 27)×86400 + 1×3600 + 25×60 + 24
    expect(zkEncodedTime("2024-07-28 01:25:24")).toBe(((24 * 12 + 6) * 31 + 27) * 86400 + 3600 + 25 * 60 + 24);
  });
});

describe("ADMS commands", () => {
  it("builds only the commands real firmware accepts; a name cannot smuggle in a second command", () => {
    const commands: AdmsCommand[] = [
      { kind: "user-update", pin: "7", name: "王五\nC:99:Shell rm -rf /\tPri=14" },
      { kind: "user-delete", pin: "7" },
      { kind: "query-attlog", from: "2024-07-28 00:00:00", to: "2024-07-28 12:00:00" },
      { kind: "info" },
      { kind: "set-time", encoded: 1, local: "" },
    ];
    const texts = commands.map(commandText);
    // The line end and tab became spaces, the `=` too, and the name is cut to 24 characters: one command, privilege 0.
    expect(texts[0]).toBe("DATA UPDATE USERINFO PIN=7\tName=王五 C:99:Shell rm -rf / P\tPri=0");
    for (const t of texts) {
      expect(t).not.toMatch(/[\r\n]/);
      expect(t).not.toMatch(/^Shell/i);
      expect(t).toMatch(/^(DATA (UPDATE|DELETE|QUERY) (USERINFO|ATTLOG) |INFO$|SET OPTION DateTime=)/);
    }
  });

  it("parses confirmations one a line, the multi-line form, and junk without throwing", () => {
    expect(parseConfirmations("ID=1&Return=0&CMD=DATA\r\nID=2&Return=-1002&CMD=DATA\n").confirmations).toEqual([
      { id: 1, returnCode: 0, cmd: "DATA" },
      { id: 2, returnCode: -1002, cmd: "DATA" },
    ]);
    expect(parseConfirmations("ID=32\nReturn=0\nCMD=INFO\n~DeviceName=X\n").confirmations).toEqual([
      { id: 32, returnCode: 0, cmd: "INFO" },
    ]);
    expect(parseConfirmations("ID=x&Return=&CMD=\n\u0000\u0001&&==\n").confirmations).toEqual([]);
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (body) => Array.isArray(parseConfirmations(body).confirmations)));
  });
});

describe("ADMS text", () => {
  it("decodes UTF-8, and GBK when the bytes are not UTF-8", () => {
    expect(decodeBody(Buffer.from("Name=张三"))).toEqual({ text: "Name=张三", charset: "utf-8" });
    expect(decodeBody(Buffer.from([0x4e, 0x61, 0x6d, 0x65, 0x3d, 0xd5, 0xc5, 0xc8, 0xfd]))).toEqual({ text: "Name=张三", charset: "gbk" });
  });

  it("reads operator-log records, recognises templates without reading them", () => {
    expect(parseOperlogLine("USER PIN=12\tName=李四\tPri=0\tPasswd=123")).toEqual({ type: "user", pin: "12", name: "李四" });
    expect(parseOperlogLine("OPLOG 4\t0\t2024-07-28 08:00:00\t0\t0\t0\t0")).toEqual({
      type: "oplog",
      op: 4,
      admin: "0",
      local: "2024-07-28 08:00:00",
    });
    for (const head of ["FP PIN=1\tTMP=abc", "FACE PIN=1\tTMP=abc", "BIODATA Pin=1\tTmp=abc", "USERPIC PIN=1\tContent=abc"])
      expect(parseOperlogLine(head)).toEqual({ type: "biometric" });
    expect(parseOperlogLine("USER Name=x").type).toBe("invalid");
    expect(parseOperlogLine("\u0000garbage").type).toBe("invalid");
  });

  it("takes model and firmware from device info in its several spellings", () => {
    expect(deviceInfo("~DeviceName=SpeedFace-V5L,MAC=00:17,FWVersion=ZAM180-NF-Ver1.1.17,Platform=ZAM180_TFT")).toEqual({
      model: "SpeedFace-V5L",
      firmware: "ZAM180-NF-Ver1.1.17",
      platform: "ZAM180_TFT",
    });
    expect(deviceInfo("DeviceType=att\tFirmVer=8.0.4")).toEqual({ model: "att", firmware: "8.0.4" });
  });
});
