import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GatewayConfig, Reading } from "@supervision/firmware-protocols";
import { AdmsTerminalSimulator } from "@supervision/firmware-protocols/sim";
import { freePort } from "@supervision/test-support";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { openBuffer } from "../../buffer/index.ts";
import { AdmsAdapter } from "./index.ts";

const config: GatewayConfig = {
  v: 1,
  gatewayId: "gw-site-1",
  version: 1,
  site: { id: "site-1", name: "工地", kind: "site", tz: "Asia/Shanghai" },
  devices: [{ id: "term-site-1", kind: "terminal", heartbeatS: 60, adms: { serialNumber: "SIM0000001" } }],
  windows: [],
  people: [
    { id: "sup-01", name: "孙浩", post: "总监", pin: "1" },
    { id: "sup-02", name: "周强", post: "安全监理", pin: "2" },
  ],
};

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function until(pred: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function gateway(port: number, dir: string) {
  const buffer = openBuffer({ path: join(dir, "buffer.db"), capacityBytes: 64 * 1024 * 1024 });
  const stored: Reading[] = [];
  const adapter = new AdmsAdapter({
    config,
    logger: pino({ level: "silent" }),
    host: "127.0.0.1",
    port,
    statePath: join(dir, "adms.json"),
  });
  await adapter.start({
    async append(r) {
      const result = await buffer.append(r);
      if (result === "stored") stored.push(r);
      return result;
    },
    deadLetter: (e) => buffer.deadLetter(e),
  });
  return {
    adapter,
    stored,
    close: async () => {
      await adapter.stop();
      buffer.close();
    },
  };
}

describe("ADMS terminal simulator against the adapter", () => {
  it("gets the site's people in GBK, uploads sign-ins stored once, keeps punches while the gateway is down, and has its clock set", async () => {
    const dir = mkdtempSync(join(tmpdir(), "adms-sim-"));
    const port = await freePort();
    let gw = await gateway(port, dir);
    const terminal = new AdmsTerminalSimulator({
      url: `http://127.0.0.1:${port}`,
      serial: "SIM0000001",
      tz: "Asia/Shanghai",
      pins: new Map([
        ["sup-01", "1"],
        ["sup-02", "2"],
      ]),
      pollMs: 50,
      gbk: true,
      clockOffsetMs: -6 * 3600_000,
    });
    cleanup.push(() => terminal.stop());
    await terminal.start();
    await until(() => terminal.users.size === 2, "the people to reach the terminal");
    expect(terminal.users.get("1")).toBe("孙浩");

    // The terminal's clock is 6 hours behind: the first live punch is kept with that time and the clock is set.
    const t0 = Date.now();
    await terminal.publish("signin", { personId: "sup-01", ts: t0, method: "face", direction: "in" });
    await until(() => terminal.clockOffsetMs() === 0, "the clock to be set");
    const first = gw.stored.find((r) => r.kind === "signin")!;
    expect(first).toMatchObject({ personId: "sup-01", method: "face", direction: "in", ts: Math.floor((t0 - 6 * 3600_000) / 1000) * 1000 });
    expect(first.clockOffsetS).toBeLessThan(-6 * 3600 + 60);
    await until(() => gw.adapter.terminals()[0]!.model === "SimFace-ADMS", "INFO");

    // The gateway goes down: the punch waits in the terminal's log, and arrives once the gateway is back.
    await gw.close();
    const t1 = Date.now();
    const acked = terminal.publish("signin", { personId: "sup-02", ts: t1, method: "card", direction: "out" });
    await until(() => terminal.counts.failedRequests > 0, "the upload to fail");
    expect(terminal.pending()).toBe(1);
    gw = await gateway(port, dir);
    cleanup.push(() => gw.close());
    await acked;
    await until(() => gw.stored.some((r) => r.kind === "signin"), "the kept punch");
    expect(gw.stored.filter((r) => r.kind === "signin")).toEqual([
      expect.objectContaining({ personId: "sup-02", method: "card", direction: "out", ts: Math.floor(t1 / 1000) * 1000 }),
    ]);
    expect(gw.stored.find((r) => r.kind === "signin")!.clockOffsetS).toBeUndefined();
  });

  it("plays a terminal catching up on the past as offline: its past punches, sent after it reconnects, keep their time unflagged", async () => {
    const dir = mkdtempSync(join(tmpdir(), "adms-sim-"));
    const port = await freePort();
    const gw = await gateway(port, dir);
    cleanup.push(() => gw.close());
    const terminal = new AdmsTerminalSimulator({
      url: `http://127.0.0.1:${port}`,
      serial: "SIM0000001",
      tz: "Asia/Shanghai",
      pins: new Map([
        ["sup-01", "1"],
        ["sup-02", "2"],
      ]),
      pollMs: 50,
      offlineBeforeMs: 2 * 60_000,
      caughtUpAfterMs: 300,
    });
    cleanup.push(() => terminal.stop());
    const started = terminal.start();
    const signins = () => gw.stored.filter((r) => r.kind === "signin");
    const second = (ms: number) => Math.floor(ms / 1000) * 1000;

    // The morning, played back five hours late: kept offline, then the terminal connects and hands it over.
    const morning = Date.now() - 5 * 3600_000;
    await terminal.publish("signin", { personId: "sup-01", ts: morning, method: "face", direction: "in" });
    await started;
    expect(signins()).toEqual([expect.objectContaining({ personId: "sup-01", ts: second(morning) })]);
    // It polls (live now: a punch made now would be judged against the gateway's clock) ...
    const polls = terminal.counts.polls;
    await until(() => terminal.counts.polls >= polls + 3, "three polls");

    // ... when the player, still catching up, makes the noon punch three hours old: the terminal goes offline with it
    // and reconnects once the player is quiet; the punch keeps its time and no clock is judged wrong.
    const noon = Date.now() - 3 * 3600_000;
    await terminal.publish("signin", { personId: "sup-02", ts: noon, method: "card", direction: "out" });
    expect(signins()[1]).toMatchObject({ personId: "sup-02", ts: second(noon) });
    expect(signins().map((r) => r.clockOffsetS)).toEqual([undefined, undefined]);
    expect(gw.adapter.terminals()[0]).toMatchObject({ clockFlagged: false });

    // Caught up: a punch made now goes at once, unflagged (the clock is right).
    const now = Date.now();
    await terminal.publish("signin", { personId: "sup-01", ts: now, method: "face", direction: "out" });
    expect(signins()[2]).toMatchObject({ personId: "sup-01", ts: second(now) });
    expect(signins()[2]!.clockOffsetS).toBeUndefined();
    expect(gw.adapter.terminals()[0]).toMatchObject({ clockFlagged: false });
  });
});
