/**
 * Black-box: a spawned `hub start` process (settings and registry in a temporary folder, a throw-away influxd), and a
 * gateway's real Ed25519 key and broker password. A validly signed batch carrying another hall's device, a rating
 * crediting another window's clerk, and — after the hub process is restarted — a back-dated, altered, re-signed copy
 * of a stored batch are each refused with an integrity alert, and nothing of them is stored. Anonymous and
 * default-credential access to the broker and to the write API is refused. (The same rules in-process, case by
 * case: ingest-integrity.test.ts.)
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateGatewayKeys, loadPrivateKey, signBatch } from "@supervision/firmware-protocols";
import { freePort, startInfluxd, type TestInfluxd } from "@supervision/test-support";
import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { rating, TestGateway, waitFor } from "./ingest-fixtures.ts";

const ROOT = join(import.meta.dirname, "../..");
const TSX = join(ROOT, "node_modules/.bin/tsx");
const HOUR = 3_600_000;
const keys = generateGatewayKeys();
const password = `gw1-${randomBytes(12).toString("hex")}`;
let dir: string;
let settingsFile: string;
let influx: TestInfluxd;
let brokerUrl: string;
let apiBase: string;
let hub: ChildProcess | undefined;
let hubOutput = "";

/** Two halls: gw1's (windows w1 with clerk p1 and keypad kp1, w2 with clerk p2) and gw2's (window w9, keypad kp9). */
function writeRegistry(at: string): void {
  writeFileSync(
    join(at, "halls.yaml"),
    stringify({
      regions: [{ id: "r1", name: "Region" }],
      towns: [{ id: "t1", name: "Town", region: "r1" }],
      departments: [{ id: "tax", name: "Tax" }],
      sites: [
        { id: "hall1", kind: "hall", name: "Hall 1", town: "t1", tz: "Asia/Shanghai", gateway: "gw1" },
        { id: "hall2", kind: "hall", name: "Hall 2", town: "t1", tz: "Asia/Shanghai", gateway: "gw2" },
      ],
      windows: [
        { id: "w1", site: "hall1", name: "Window 1", department: "tax" },
        { id: "w2", site: "hall1", name: "Window 2", department: "tax" },
        { id: "w9", site: "hall2", name: "Window 9", department: "tax" },
      ],
      rosters: [{ id: "day", shifts: [{ start: "09:00", end: "17:00" }] }],
      people: [
        { id: "p1", name: "Clerk 1", role: "clerk", post: "Tax clerk", site: "hall1", window: "w1", roster: "day" },
        { id: "p2", name: "Clerk 2", role: "clerk", post: "Tax clerk", site: "hall1", window: "w2", roster: "day" },
      ],
      gateways: [
        { id: "gw1", site: "hall1", secret: password, publicKey: keys.publicKeyPem },
        { id: "gw2", site: "hall2", secret: `gw2-${randomBytes(12).toString("hex")}`, publicKey: generateGatewayKeys().publicKeyPem },
      ],
      devices: [
        { id: "kp1", kind: "keypad", site: "hall1", window: "w1" },
        { id: "kp9", kind: "keypad", site: "hall2", window: "w9" },
      ],
    }),
  );
}

async function startHub(): Promise<void> {
  hubOutput = "";
  const child = spawn(TSX, [join(ROOT, "hub/src/cli/main.ts"), "start", "--settings", settingsFile], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  hub = child;
  child.stdout?.on("data", (d: Buffer) => (hubOutput = (hubOutput + d.toString()).slice(-20_000)));
  child.stderr?.on("data", (d: Buffer) => (hubOutput = (hubOutput + d.toString()).slice(-20_000)));
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`the hub exited with ${child.exitCode}: ${hubOutput}`);
      const health = await fetch(`${apiBase}/healthz`).catch(() => undefined);
      if (!health?.ok) return undefined;
      const body = (await health.json()) as { extensions: Record<string, { state: string }> };
      return body.extensions.ingest?.state === "running" ? true : undefined;
    },
    90_000,
    "the hub's /healthz with ingest running",
  );
}

async function stopHub(): Promise<void> {
  const child = hub;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGINT");
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  await exited;
  clearTimeout(timer);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "hub-blackbox-"));
  influx = await startInfluxd();
  const registryDir = join(dir, "registry");
  mkdirSync(registryDir);
  writeRegistry(registryDir);
  const [brokerPort, httpPort] = [await freePort(), await freePort()];
  brokerUrl = `mqtt://127.0.0.1:${brokerPort}`;
  apiBase = `http://127.0.0.1:${httpPort}`;
  settingsFile = join(dir, "hub.yaml");
  writeFileSync(
    settingsFile,
    stringify({
      influx: { url: influx.url },
      broker: { port: brokerPort, host: "127.0.0.1" },
      http: { port: httpPort },
      registry: { dir: registryDir },
      dataDir: join(dir, "var"),
      audit: { intervalMinutes: 0 },
      logLevel: "warn",
    }),
  );
  await startHub();
}, 150_000);

afterAll(async () => {
  await stopHub();
  await influx?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const rows = async (q: string) => (await influx.query(q, "supervision")).results[0]?.series?.[0]?.values ?? [];

describe("a spawned hub with a real gateway key", () => {
  it(
    "refuses another hall's device, another window's clerk and a back-dated re-signed copy after a restart; stores none of them",
    { timeout: 300_000 },
    async () => {
      const gateway = await TestGateway.connect(brokerUrl, "gw1", keys.privateKeyPem, { username: "gw1", password });
      const t = Date.now() - 10 * 60_000;
      const b1 = gateway.next([rating(1, t)], t + 1000);
      await gateway.send(b1.wire);
      await gateway.waitForAck((a) => a.seq === b1.body.seq && a.status === "stored", 60_000);

      // Validly signed by gw1, carrying hall2's keypad: the reading is refused, an outside_slice alert raised.
      const otherHall = gateway.next([rating(2, t + 2000, { deviceId: "kp9", windowId: "w9", clerkId: undefined })], t + 3000);
      await gateway.send(otherHall.wire);
      await gateway.waitForAck((a) => a.seq === otherHall.body.seq, 60_000);
      // Window w1's keypad crediting window w2's clerk: refused, a clerk_mismatch alert.
      const otherClerk = gateway.next([rating(3, t + 4000, { clerkId: "p2", level: "dissatisfied", key: 3 })], t + 5000);
      await gateway.send(otherClerk.wire);
      await gateway.waitForAck((a) => a.seq === otherClerk.body.seq, 60_000);
      await gateway.close();

      // The hub process restarts: nothing of its memory is left.
      await stopHub();
      await startHub();
      const forger = await TestGateway.connect(brokerUrl, "gw1", keys.privateKeyPem, { username: "gw1", password });
      try {
        // b1 altered (its very satisfied rating made dissatisfied, its device time moved), re-signed with the real key,
        // created 7 hours earlier: still gw1's (epoch, seq 1), which is stored with another hash.
        const backDated = signBatch(
          {
            v: 1,
            gatewayId: "gw1",
            epoch: gateway.epoch,
            seq: 1,
            prevHash: b1.body.prevHash,
            createdAt: b1.body.createdAt - 7 * HOUR,
            readings: [rating(1, t - 7 * HOUR, { level: "dissatisfied", key: 3 })],
          },
          loadPrivateKey(keys.privateKeyPem),
        );
        await forger.send(backDated.wire);
        const refused = await forger.waitForAck((a) => a.seq === 1 && a.status === "rejected", 60_000);
        expect(refused).toMatchObject({ code: "altered", epoch: gateway.epoch });
      } finally {
        await forger.close();
      }

      // Each raised its alert, from outside the hub process: in InfluxDB.
      const alerts = await waitFor(
        async () => {
          const found = await rows(`SELECT "kind", "gateway", "detail" FROM "integrity_alert"`);
          return found.length >= 3 ? found : undefined;
        },
        60_000,
        "three integrity alerts",
      );
      const byKind = Object.fromEntries(alerts.map((v) => [v[1], String(v[3])]));
      expect(Object.keys(byKind).sort()).toEqual(["altered", "clerk_mismatch", "outside_slice"]);
      expect(alerts.every((v) => v[2] === "gw1")).toBe(true);
      expect(byKind.outside_slice).toMatch(/"kp9" seq 2: device kp9 belongs to site hall2, not to this gateway's site hall1/);
      expect(byKind.clerk_mismatch).toMatch(/"kp1" seq 3: clerk p2 works at window w2, not at window w1/);
      // Nothing of them is stored as a rating: only b1's, as it was signed first.
      const ratings = await rows(`SELECT "device", "seq", "clerk", "window", "level" FROM "rating"`);
      expect(ratings.map((v) => v.slice(1))).toEqual([["kp1", 1, "p1", "w1", "very_satisfied"]]);
      expect(await rows(`SELECT * FROM "rating" WHERE "device" = 'kp9' OR "clerk" = 'p2' OR "level" = 'dissatisfied'`)).toEqual([]);
    },
  );

  it("refuses anonymous and default-credential access to the broker and the write API", { timeout: 60_000 }, async () => {
    for (const credentials of [
      {},
      { username: "hub", password: "change-me-hub-service-secret" },
      { username: "gw-hall-1", password: "lab-gateway-secret" },
      { username: "gw1", password: "" },
    ]) {
      await expect(mqtt.connectAsync(brokerUrl, { ...credentials, reconnectPeriod: 0, connectTimeout: 10_000 })).rejects.toThrow(
        /Bad username or password|Not authorized/,
      );
    }
    const entry = JSON.stringify({ person: "p1", rule: "manual", points: 5, reason: "forged" });
    const attempts: Record<string, string>[] = [
      {},
      { authorization: "Bearer change-me-hub-service-secret" },
      { authorization: `Bearer ${password}` },
    ];
    for (const headers of attempts) {
      const res = await fetch(`${apiBase}/api/entries`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: entry,
      });
      expect(res.status).toBe(401);
    }
    expect(await rows(`SELECT * FROM /.*/ WHERE "reason" = 'forged'`)).toEqual([]);
  });
});
