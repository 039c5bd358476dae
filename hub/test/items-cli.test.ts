/** `hub items` as a user runs it (in-process), against a real influxd and a registry with items. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startInfluxd, type TestInfluxd } from "@supervision/test-support";
import { InfluxDB } from "influx";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ensureDatabase } from "../src/influx/setup.ts";
import { displayWidth, itemsCommand, pad } from "../src/items/cli.ts";
import { at, itemReading, itemsRegistry } from "./items-fixtures.ts";
import { writeReadings } from "./supervision-fixtures.ts";

describe("hub items", () => {
  let influxd: TestInfluxd;
  const { registry, dir } = itemsRegistry();
  const settings = join(dir, "..", `${dir.split("/").pop()}-hub.yaml`);

  beforeAll(async () => {
    influxd = await startInfluxd();
    const influx = new InfluxDB({ host: "127.0.0.1", port: influxd.port, database: "supervision" });
    await ensureDatabase(influx, "supervision", pino({ level: "silent" }));
    writeFileSync(settings, `influx: { url: "${influxd.url}", database: supervision }\nregistry: { dir: "${dir}" }\n`);
    const now = Date.now();
    await writeReadings(influx, registry, [
      itemReading("accepted", "OLD-1", now - 12 * 86_400_000, { windowId: "w1" }),
      itemReading("step", "OLD-1", now - 11 * 86_400_000, { step: "审核", handler: "王审", result: "pass" }),
      itemReading("accepted", "NEW-1", now - 60_000),
      itemReading("accepted", "APR-1", at("2026-04-03", "10:30")),
      itemReading("completed", "APR-1", at("2026-04-08", "16:00"), { outcome: "refused", reason: "材料不全" }),
    ]);
  });
  afterAll(() => influxd.close());

  async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    const out: string[] = [];
    const err: string[] = [];
    const log = vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void out.push(a.join(" ")));
    const error = vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => void err.push(a.join(" ")));
    try {
      const code = await itemsCommand.run(args);
      return { code, out: out.join("\n"), err: err.join("\n") };
    } finally {
      log.mockRestore();
      error.mockRestore();
    }
  }

  it("lists overdue open applications with item, handler and days overdue", async () => {
    const { code, out } = await run("--overdue", "--settings", settings);
    expect(code).toBe(0);
    expect(out).toMatch(/^overdue \(1\)/);
    expect(out).toMatch(/OLD-1\s+XK-001 食品经营许可\s+市场监管局\s+王审\s+\d{4}-\d{2}-\d{2}\s+0\s+\d+ working day/);
    expect(out).not.toContain("NEW-1");
  });

  it("shows one application's trail and a month's counts", async () => {
    const trail = await run("trail", "APR-1", "--settings", settings);
    expect(trail.code).toBe(0);
    expect(trail.out).toContain("APR-1: XK-001 食品经营许可, completed, due 2026-04-09, early, handler 张办");
    expect(trail.out).toMatch(/2026-04-03 10:30\s+accepted/);
    expect(trail.out).toMatch(/2026-04-08 16:00\s+completed refused\s+材料不全\s+qs-1/);
    const month = await run("month", "2026-04", "--settings", settings);
    expect(month.code).toBe(0);
    expect(month.out).toMatch(/hall-1\s+市场监管局\s+1\s+1\s+1\s+0\s+0\s+0\s+0\s+1\s+5\.2/);
  });

  it("explains itself and says what is wrong with bad arguments, an unknown application or an unreachable InfluxDB", async () => {
    const help = await run("--help");
    expect(help.code).toBe(0);
    expect(help.out).toContain("Usage: hub items");
    expect((await run("month", "April", "--settings", settings)).err).toContain('"April" is not a month');
    expect((await run("trail", "--settings", settings)).code).toBe(2);
    expect((await run("frobnicate")).code).toBe(2);
    expect((await run("--bogus")).err).toContain("Unknown option");
    expect((await run("--department", "nobody", "--settings", settings)).err).toContain('no department "nobody"');
    const missing = await run("trail", "NOPE-9", "--settings", settings);
    expect([missing.code, missing.err]).toEqual([1, expect.stringContaining('no events of application "NOPE-9"')]);
    const down = join(dir, "..", `${dir.split("/").pop()}-down.yaml`);
    writeFileSync(down, `influx: { url: "http://127.0.0.1:9", database: supervision }\nregistry: { dir: "${dir}" }\n`);
    expect((await run("--settings", down)).err).toMatch(/cannot query InfluxDB at http:\/\/127\.0\.0\.1:9/);
    // A managed InfluxDB whose hub never started here: no password yet. Said plainly, exit 1, no stack trace.
    const managed = join(dir, "..", `${dir.split("/").pop()}-managed.yaml`);
    const dataDir = join(dir, "..", `${dir.split("/").pop()}-data`);
    writeFileSync(managed, `influx: { managedPort: 9 }\nregistry: { dir: "${dir}" }\ndataDir: "${dataDir}"\n`);
    const fresh = await run("--settings", managed);
    expect([fresh.code, fresh.err]).toEqual([
      1,
      expect.stringMatching(/^hub items: .*influxdb-admin\.secret is missing: .*run "hub start" once$/),
    ]);
  });
});

describe("hub items tables line up in a terminal", () => {
  it("counts a Chinese character as two columns", () => {
    expect(displayWidth("税务局")).toBe(6);
    expect(displayWidth("w1 窗口一")).toBe(9);
    expect(displayWidth("ＡＢ")).toBe(4);
    expect(displayWidth("abc")).toBe(3);
  });

  it("pads mixed Chinese and ASCII cells so the next column starts at the same place on every row", () => {
    const text = pad([
      ["办件编号", "事项", "剩余"],
      ["A-1", "不动产登记", "2 天"],
      ["B-22222", "x", "超期"],
    ]);
    const starts = text.split("\n").map((line) => {
      const cells = line.split(/ {2,}/);
      return displayWidth(line.slice(0, line.lastIndexOf(cells[cells.length - 1]!)));
    });
    expect(new Set(starts).size).toBe(1);
  });
});
