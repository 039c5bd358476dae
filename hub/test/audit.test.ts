import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import type { Reading } from "@supervision/firmware-protocols";
import { startInfluxd, type TestInfluxd } from "@supervision/test-support";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { parseEntries, runAudit } from "../src/audit/audit.ts";
import { checkTrails, writeRecorded } from "../src/audit/trail.ts";
import { schemaPoint } from "../src/schema/index.ts";
import { createAuditExtension } from "../src/audit/extension.ts";
import { loadAuditKey } from "../src/audit/key.ts";
import { auditCommand } from "../src/cli/audit.ts";
import { ensureDatabase } from "../src/influx/setup.ts";
import { createIngestExtension } from "../src/ingest/index.ts";
import { lineDigest, manifestTimestamp, partHasher, partPreamble } from "../src/ingest/manifest.ts";
import { readingTimestampNs } from "../src/ingest/points.ts";
import { rating, startMosquitto, TestGateway, testContext, testRegistry, waitFor } from "./ingest-fixtures.ts";

const ROOT = join(import.meta.dirname, "../..");
const TSX = join(ROOT, "node_modules/.bin/tsx");
const run = promisify(execFile);

let influx: TestInfluxd;
let broker: Awaited<ReturnType<typeof startMosquitto>>;
const dir = mkdtempSync(join(tmpdir(), "hub-audit-"));
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  [influx, broker] = await Promise.all([startInfluxd(), startMosquitto()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([influx?.close(), broker?.close()]);
  rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const DAY = 86_400_000;
const keyFile = join(dir, "keys", "audit.key");

async function write(database: string, line: string): Promise<void> {
  const res = await fetch(`${influx.url}/write?db=${database}&rp=raw&precision=ns`, { method: "POST", body: line });
  if (res.status !== 204) throw new Error(`write failed: ${res.status} ${await res.text()}`);
}

/**
 * `hub audit` as a user runs it, against the test influxd and key; with `inDemoFolder`, without --settings in a folder
 * where npm start left its settings (var/demo/hub/hub.yaml).
 */
async function hubAudit(database: string, args: string[], inDemoFolder = false): Promise<{ code: number; stdout: string; stderr: string }> {
  const folder = join(dir, `demo-${database}`);
  const settings = inDemoFolder ? join(folder, "var/demo/hub/hub.yaml") : join(dir, `${database}.yaml`);
  mkdirSync(dirname(settings), { recursive: true });
  writeFileSync(settings, [`influx: { url: "${influx.url}", database: ${database} }`, `audit: { keyFile: "${keyFile}" }`].join("\n"));
  const where = inDemoFolder ? { argv: [], cwd: folder } : { argv: ["--settings", settings], cwd: ROOT };
  try {
    const { stdout, stderr } = await run(TSX, [join(ROOT, "hub/src/cli/main.ts"), "audit", ...where.argv, ...args], { cwd: where.cwd });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe("hub audit: tamper evidence at rest", () => {
  it("reports a reading deleted, altered or added by hand with its device and sequence, and each gateway's chain", async () => {
    const key = loadAuditKey(keyFile, { create: true });
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(loadAuditKey(keyFile, { create: true }).equals(key)).toBe(true); // made once, never replaced
    const fixture = testRegistry();
    const database = "audit_1";
    const ctx = testContext(fixture.registry, influx.url, database);
    await ensureDatabase(ctx.influx, database, ctx.logger);
    const ingest = createIngestExtension({ brokerUrl: broker.url, shareGroup: "", auditKey: key });
    await ingest.start(ctx);
    cleanups.push(() => ingest.stop());
    const gateway = await TestGateway.connect(broker.url, "gw1", fixture.privateKeyPem);
    cleanups.push(() => gateway.close());

    // A minute after a midnight (UTC) at least 20 minutes ago: every reading of the batches is in the past.
    const t = Math.floor((Date.now() - 20 * 60_000) / DAY) * DAY + 60_000;
    const signin = { kind: "signin", v: 1, deviceId: "term1", seq: 7, ts: t, rxTs: t + 9, personId: "p1", method: "card", direction: "in" };
    const motion = {
      kind: "motion",
      v: 1,
      deviceId: "cam1",
      seq: 8,
      ts: t + 5,
      rxTs: t + 6,
      cameraId: "cam1",
      state: "start",
      source: "onvif",
    };
    const b1 = gateway.next([rating(1, t), rating(2, t + 1000, { level: "dissatisfied", key: 3 }), signin, motion] as Reading[], t + 2000);
    // Yesterday's reading (a buffered keypad) makes a batch with two parts; rating 3 arrives a second time.
    const b2 = gateway.next([rating(3, t - DAY / 2), rating(4, t + 3000, { txnId: 'T "quoted", \\ and spaced' })], t + 4000);
    const b3 = gateway.next([rating(4, t + 3000, { txnId: 'T "quoted", \\ and spaced' }), rating(5, t + 5000)], t + 6000);
    for (const b of [b1, b2, b3]) {
      await gateway.send(b.wire);
      await gateway.waitForAck((a) => a.seq === b.body.seq && a.status === "stored");
    }

    const clean = await runAudit({ influx: ctx.influx, database, fromMs: t - DAY, toMs: t, key });
    expect(clean.findings).toEqual([]);
    expect(clean).toMatchObject({ parts: 4, readings: 8, stored: 7 }); // rating 4 is named by two batches
    expect(clean.chains).toEqual([expect.objectContaining({ gateway: "gw1", epoch: gateway.epoch, batches: 3, lastSeq: 3, missing: 0 })]);
    const ok = await hubAudit(database, ["--from", new Date(t - DAY).toISOString().slice(0, 10), "--lang", "en"]);
    expect(ok.stderr).toContain("(1/2)");
    expect(ok.stdout).toContain("nothing deleted, altered or added");
    expect(ok.stdout).toContain(`gateway gw1 chain ${gateway.epoch}: 3 batches stored, last seq 3, 0 missing`);
    expect(ok.code).toBe(0);

    // By hand, in InfluxDB: rating 1 deleted, rating 2 made "satisfied" in its fields, a rating nobody sent added.
    const tags = "clerk=p1,department=tax,device=kp1,level=dissatisfied,outcome=rated,region=r1,scale=four,site=hall1,town=t1,window=w1";
    await influx.query(`DELETE FROM "rating" WHERE "device" = 'kp1' AND time = ${readingTimestampNs(t, 1)}`, database);
    await write(database, `rating,${tags} key=1,negative=0,positive=1 ${readingTimestampNs(t + 1000, 2)}`);
    await write(
      database,
      `rating,${tags.replace("dissatisfied", "very_satisfied")} seq=99,key=1,rated=1,positive=1,negative=0 ${readingTimestampNs(t + 7000, 99)}`,
    );

    const tampered = await hubAudit(database, ["--from", new Date(t).toISOString(), "--to", new Date(t + 1).toISOString(), "--lang", "en"]);
    expect(tampered.code).toBe(3);
    const lines = tampered.stdout.split("\n");
    expect(lines).toContain(`deleted: rating device kp1 seq 1 at ${new Date(t).toISOString()} (batch gw1/${gateway.epoch}/1)`);
    expect(lines).toContain(`altered: rating device kp1 seq 2 at ${new Date(t + 1000).toISOString()} (batch gw1/${gateway.epoch}/1)`);
    expect(lines).toContain(`added: rating device kp1 seq 99 at ${new Date(t + 7000).toISOString()} (no stored batch names it)`);
    expect(lines.filter((l) => /^(deleted|altered|added|does not verify)/.test(l))).toHaveLength(3);
    // The centre reads it in Chinese by default.
    const chinese = await hubAudit(database, ["--from", new Date(t).toISOString().slice(0, 10)]);
    expect(chinese.stdout).toContain("已删除：评价 设备 kp1 序号 1");
    expect(chinese.stdout).toContain("已篡改：评价 设备 kp1 序号 2");
    // Beside `npm start`'s data, without --settings, it reads the demo's settings (as hub report does) and says so.
    const beside = await hubAudit(database, ["--from", new Date(t).toISOString().slice(0, 10)], true);
    expect(beside.stderr).toContain("hub audit: reading the demo's settings var/demo/hub/hub.yaml (npm start)");
    expect([beside.code, beside.stdout]).toEqual([chinese.code, chinese.stdout]);

    // A forger without the key who alters a reading and rewrites its manifest entry to match is still found out.
    const manifest = await influx.query(`SELECT "entries", "hash" FROM "batch_manifest" WHERE "seq" = 3`, database);
    const [, entries, hash] = manifest.results[0]?.series?.[0]?.values?.[0] as [string, string, string];
    const r5 =
      "rating,clerk=p1,department=tax,device=kp1,level=very_satisfied,outcome=rated,region=r1,scale=four,site=hall1,town=t1,window=w1";
    const forgedLine = `${r5} seq=5,rx_ts=${t + 5005},key=2,txn="",rated=1,positive=1,negative=0 ${readingTimestampNs(t + 5000, 5)}`;
    await write(database, forgedLine);
    const forgedEntries = parseEntries(entries)
      .map((e) => `${e.kind[0]}${e.partial ? "p" : ""} ${e.device} ${e.ns} ${e.seq} ${e.seq === 5 ? lineDigest(forgedLine) : e.digest}`)
      .join(";");
    const unkeyed = partHasher(undefined)
      .update(partPreamble({ gatewayId: "gw1", epoch: gateway.epoch, seq: 3, hash, part: 0, entries: forgedEntries }))
      .digest("base64url");
    await write(
      database,
      `batch_manifest,epoch=${gateway.epoch},gateway=gw1 entries="${forgedEntries}",digest="${unkeyed}" ${manifestTimestamp(Math.floor(t / DAY), 3, 0)}`,
    );
    const forged = await runAudit({ influx: ctx.influx, database, fromMs: t, toMs: t, key });
    expect(forged.findings.filter((f) => f.batchSeq === 3)).toEqual([
      {
        kind: "unverified",
        measurement: "rating",
        device: "kp1",
        seq: 4,
        time: new Date(t + 3000).toISOString(),
        gateway: "gw1",
        epoch: gateway.epoch,
        batchSeq: 3,
      },
    ]);
  }, 120_000);

  it("the scheduled audit raises an integrity alert for a reading deleted by hand", async () => {
    const key = loadAuditKey(keyFile, { create: true });
    const fixture = testRegistry();
    const database = "audit_2";
    const ctx = testContext(fixture.registry, influx.url, database);
    await ensureDatabase(ctx.influx, database, ctx.logger);
    const ingest = createIngestExtension({ brokerUrl: broker.url, shareGroup: "", auditKey: key });
    await ingest.start(ctx);
    cleanups.push(() => ingest.stop());
    const gateway = await TestGateway.connect(broker.url, "gw1", fixture.privateKeyPem);
    cleanups.push(() => gateway.close());
    const t = Date.now() - 60_000;
    const b1 = gateway.next([rating(1, t), rating(2, t + 1)]);
    await gateway.send(b1.wire);
    await gateway.waitForAck((a) => a.status === "stored");
    await influx.query(`DELETE FROM "rating" WHERE "device" = 'kp1' AND time = ${readingTimestampNs(t + 1, 2)}`, database);

    const audit = createAuditExtension({ intervalMinutes: 60, days: 2, key, locale: "en", intervalMs: 200 });
    await audit.start(ctx);
    cleanups.push(() => audit.stop());
    const alert = await waitFor(
      async () => {
        const res = await influx.query(`SELECT "detail", "seq" FROM "integrity_alert" WHERE "kind" = 'audit'`, database);
        return res.results[0]?.series?.[0]?.values?.[0];
      },
      30_000,
      "an audit alert",
    );
    expect(alert[1]).toBe(`deleted: rating device kp1 seq 2 at ${new Date(t + 1).toISOString()} (batch gw1/${gateway.epoch}/1)`);
    expect(alert[2]).toBe(1);
    await waitFor(() => ((audit.status().last as { findings?: number } | null)?.findings === 1 ? true : undefined), 10_000, "status");
    expect(await ctx.metrics.getSingleMetricAsString("hub_audit_findings")).toContain('hub_audit_findings{kind="deleted"} 1');
  }, 60_000);

  it("hub audit explains itself, refuses bad arguments with usage, and names a key it cannot read", async () => {
    const help = await hubAudit("audit_cli", ["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: hub audit --from");
    // The same command in this process (each spawned CLI costs seconds on a busy machine).
    const errors: string[] = [];
    const spy = vi.spyOn(console, "error").mockImplementation((text: string) => void errors.push(text));
    try {
      for (const args of [
        [],
        ["--from", "yesterday"],
        ["--from", "2026-12-02", "--to", "2026-12-01"],
        ["--from", "2026-12-01", "--lang", "fr"],
        ["--bogus"],
      ]) {
        errors.length = 0;
        expect(await auditCommand.run(args), args.join(" ")).toBe(2);
        expect(errors.join("\n")).toContain("Usage: hub audit");
      }
      const settings = join(dir, "nokey.yaml");
      writeFileSync(settings, `influx: { url: "${influx.url}" }\ndataDir: ${join(dir, "empty")}\n`);
      errors.length = 0;
      expect(await auditCommand.run(["--settings", settings, "--from", "2026-12-01"])).toBe(1);
      expect(errors.join("\n")).toContain(`cannot read the audit key ${join(dir, "empty", "audit.key")}`);
    } finally {
      spy.mockRestore();
    }
    writeFileSync(join(dir, "bad.key"), "not a key");
    expect(() => loadAuditKey(join(dir, "bad.key"), { create: false })).toThrow(/is not 64 hex digits/);
  }, 60_000);

  it("an item event an approval system posted (recorded in the hub's trail) is not 'added'; one written by hand still is", async () => {
    const key = loadAuditKey(keyFile, { create: true });
    const { registry } = testRegistry();
    const database = "audit_items";
    const ctx = { ...testContext(registry, influx.url, database), auditKey: key };
    await ensureDatabase(ctx.influx, database, ctx.logger);
    const at = Date.now() - 3_600_000;
    const event = (seq: number, app: string) =>
      schemaPoint(
        "item_event",
        readingTimestampNs(at + seq, seq),
        { site: "hall1", department: "tax", item: "tax-01", device: "tax-approvals", type: "accepted" },
        { seq, rx_ts: at + seq, application: app },
      );
    await writeRecorded(ctx, "item_event", event(11, "A-1"), "tax-approvals");
    await writeRecorded(ctx, "item_event", event(12, "A-2"), "tax-approvals");
    await write(
      database,
      `item_event,device=tax-approvals,site=hall1,type=accepted seq=13,rx_ts=${at + 13},application="A-3" ${readingTimestampNs(at + 13, 13)}`,
    );
    const report = await runAudit({ influx: ctx.influx, database, fromMs: at, toMs: at, key });
    expect(report.trails).toEqual([{ book: "item_event", entries: 2, problems: [] }]);
    expect(report.stored).toBe(3);
    expect(report.findings).toEqual([
      { kind: "added", measurement: "item", device: "tax-approvals", seq: 13, time: new Date(at + 13).toISOString() },
    ]);
    // What the supervision office reads.
    const cli = await hubAudit(database, ["--from", new Date(at).toISOString().slice(0, 10), "--lang", "zh-CN"]);
    expect(cli.code).toBe(3);
    expect(cli.stdout).toContain("审批办件（审批系统报送）：2 条记录，链完整");
    expect(cli.stdout.match(/来历不明（新增）/g)).toHaveLength(1);
  }, 60_000);

  it("chains manual entries, decisions and warning handling: a record changed, deleted or re-chained by hand is reported", async () => {
    const key = loadAuditKey(keyFile, { create: true });
    const { registry } = testRegistry();
    const database = "audit_trail";
    const ctx = { ...testContext(registry, influx.url, database), auditKey: key };
    await ensureDatabase(ctx.influx, database, ctx.logger);
    const at = Date.now() - 3_600_000;
    const entry = (n: number) =>
      schemaPoint(
        "deduction",
        `${at + n}000000`,
        { site: "hall1", subject_kind: "clerk", subject: "p1", rule: "thanks" },
        { points: n, reason: "thanks", entered_by: "op" },
      );
    // Concurrent records of one book are chained one after the other.
    await Promise.all([1, 2, 3].map((n) => writeRecorded(ctx, "entry", entry(n), "op")));
    await writeRecorded(
      ctx,
      "decision",
      schemaPoint(
        "dissatisfaction",
        `${at}000000`,
        { site: "hall1", clerk: "p1", state: "verified" },
        { rating_id: "kp1:4", by: "op", fault: "clerk" },
      ),
      "op",
    );
    const intact = await checkTrails(ctx.influx, database, key);
    expect(intact).toEqual([
      { book: "decision", entries: 1, problems: [] },
      { book: "entry", entries: 3, problems: [] },
    ]);

    // By hand: entry 2's points changed, entry 3 deleted, and the decision's trail entry re-chained without the key.
    await write(database, `deduction,rule=thanks,site=hall1,subject=p1,subject_kind=clerk points=50 ${at + 2}000000`);
    await influx.query(`DELETE FROM "deduction" WHERE time = ${at + 3}000000`, database);
    const [row] = await ctx.influx.query<{ time: { getNanoTime(): string }; point: string; prev_hash: string }>(
      `SELECT "point", "prev_hash" FROM "hub_trail" WHERE "book" = 'decision'`,
    );
    const { point, prev_hash: prevHash } = row!;
    const forgedPoint = point.replace('"state":"verified"', '"state":"dismissed"');
    const unkeyed = createHash("sha256").update(`decision\n1\n${prevHash}\n${forgedPoint}`).digest("hex");
    await write(
      database,
      `hub_trail,book=decision hash="${unkeyed}",point="${forgedPoint.replaceAll('"', '\\"')}" ${row!.time.getNanoTime()}`,
    );
    const states = await checkTrails(ctx.influx, database, key);
    expect(states.find((t) => t.book === "decision")?.problems).toEqual(["entry 1 was altered (its digest does not verify)"]);
    const entries = states.find((t) => t.book === "entry")?.problems ?? [];
    expect(entries).toHaveLength(2);
    expect(entries[0]).toMatch(/^entry 2: deduction .* was altered$/);
    expect(entries[1]).toMatch(/^entry 3: deduction .* was deleted$/);
    const cli = await hubAudit(database, ["--from", new Date(at).toISOString().slice(0, 10), "--lang", "en"]);
    expect(cli.code).toBe(3);
    expect(cli.stdout).toContain("entry: 3 records, problems: entry 2: deduction");
  }, 120_000);
});
