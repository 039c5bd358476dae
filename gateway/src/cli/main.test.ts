import { createServer } from "node:net";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { freePort } from "@supervision/test-support";
import { Registry } from "prom-client";
import { Aedes, type AuthenticateError } from "aedes";
import { describe, expect, it } from "vitest";
import { startHttpApi } from "../http/server.ts";

const run = promisify(execFile);
const main = new URL("./main.ts", import.meta.url).pathname;
/**
 * An upper bound, not an expectation: each call is a fresh process compiling the CLI through tsx, which takes a
 * few seconds of CPU and, on a busy shared machine, far longer on the clock.
 */
const CLI_TIMEOUT_MS = 120_000;
const TEST_TIMEOUT_MS = 4 * CLI_TIMEOUT_MS;

async function cli(args: string[], cwd?: string): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await run("npx", ["tsx", main, ...args], { timeout: CLI_TIMEOUT_MS, cwd });
    return { code: 0, out: stdout, err: stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

function settingsFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), "gw-cli-")), "gateway.yaml");
  writeFileSync(file, text);
  return file;
}

describe("gateway CLI", () => {
  it(
    "prints help, and help per command",
    async () => {
      expect((await cli(["--help"])).out).toMatch(/Commands:/);
      expect((await cli(["doctor", "--help"])).out).toMatch(/gateway doctor/);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "explains a bad settings file, an unknown command and an unknown option",
    async () => {
      const bad = await cli(["doctor", "--settings", settingsFile("gatewayId: gw-1\nbroker:\n  port: -1\n")]);
      expect(bad.code).toBe(2);
      expect(bad.err).toMatch(/gateway\.yaml:3: broker\.port/);
      const file = settingsFile("gatewayId: gw-1\n");
      expect((await cli(["frobnicate", "--settings", file])).err).toMatch(/unknown command "frobnicate"/);
      expect((await cli(["status", "--bogus"])).code).toBe(2);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "start refuses to run without hub.password, naming the setting and how to get it, before making anything",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "gw-cli-"));
      const file = join(dir, "gateway.yaml");
      writeFileSync(
        file,
        `gatewayId: gw-hall-9\ndataDir: ${join(dir, "data")}\nhttp:\n  port: ${await freePort()}\nbroker:\n  port: ${await freePort()}\n`,
      );
      const res = await cli(["start", "--settings", file]);
      expect(res.code).toBe(2);
      expect(res.err).toContain(`error: hub.password is not set in ${file}`);
      expect(res.err).toContain("GATEWAY_HUB_PASSWORD");
      expect(res.err).toContain("gateways[gw-hall-9].secretHash");
      expect(res.err).toContain("hub hash-secret <password>");
      expect(res.err).not.toMatch(/\n\s+at /); // a message, not a stack trace
      expect(existsSync(join(dir, "data"))).toBe(false);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "beside npm start without gateway.yaml, names the --settings of each demo gateway",
    async () => {
      // A folder where npm start has run (under the repository's git-ignored var/, so tsx resolves).
      mkdirSync("var", { recursive: true });
      const dir = mkdtempSync(join(resolve("var"), "gw-cli-demo-"));
      try {
        mkdirSync(join(dir, "var/demo/registry"), { recursive: true });
        for (const id of ["gw-hall-demo", "gw-site-demo"]) writeFileSync(join(dir, `var/demo/${id}.yaml`), `gatewayId: ${id}\n`);
        const result = await cli(["status"], dir);
        expect(result.code).toBe(2);
        expect(result.err).toContain(
          "no gateway.yaml here; npm start's gateways have theirs: give --settings var/demo/gw-hall-demo.yaml or --settings var/demo/gw-site-demo.yaml",
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "lists devices from a running gateway's HTTP API and says what to do when none runs",
    async () => {
      const port = await freePort();
      const file = settingsFile(`gatewayId: gw-1\nhttp:\n  port: ${port}\n`);
      expect((await cli(["devices", "--settings", file])).err).toMatch(/is it running\?/);
      const api = await startHttpApi({
        host: "127.0.0.1",
        port,
        registry: new Registry(),
        probe: {
          brokerListening: () => true,
          bufferWritable: () => true,
          devices: () => [{ deviceId: "kp-1", online: true, connected: false, lastSeen: null }],
          details: () => ({ gatewayId: "gw-1" }),
          deadLetters: () => [],
        },
      });
      try {
        const devices = await cli(["devices", "--settings", file]);
        expect(devices.out).toMatch(/kp-1\s+online\s+disconnected never seen/);
        expect((await cli(["status", "--settings", file])).out).toMatch(/gateway +gw-1 +healthy/);
      } finally {
        await api.close();
      }
    },
    TEST_TIMEOUT_MS,
  );

  it("lists ADMS terminals and refused unknown serials from a running gateway", async () => {
    const port = await freePort();
    const file = settingsFile(`gatewayId: gw-1\nhttp:\n  port: ${port}\n`);
    expect((await cli(["terminals", "--help"])).out).toMatch(/gateway terminals .*\n.*serial, device id, model and firmware/);
    const now = Date.now();
    const api = await startHttpApi({
      host: "127.0.0.1",
      port,
      registry: new Registry(),
      probe: {
        brokerListening: () => true,
        bufferWritable: () => true,
        devices: () => [
          {
            deviceId: "adms:XYZ0000001",
            online: false,
            connected: false,
            lastSeen: now,
            requests: 12,
            refused: "unknown ADMS terminal serial XYZ0000001: refused",
          },
        ],
        adapterRoute: (path: string) =>
          path === "/api/adms/terminals"
            ? {
                status: 200,
                body: [
                  {
                    serial: "BOCK200961014",
                    deviceId: "term-site-1",
                    model: "SpeedFace-V5L",
                    firmware: "ZAM180-NF-Ver1.1.17",
                    lastContact: now - 5_000,
                    online: true,
                    punchesToday: 3,
                    pendingCommands: ["DATA UPDATE USERINFO PIN=4 Name=李四 Pri=0"],
                    failedCommands: [
                      {
                        id: 7,
                        command: "DATA UPDATE USERINFO PIN=9 Name=X Pri=0",
                        state: "refused",
                        returnCode: -1002,
                        meaning: "command syntax refused by the terminal",
                      },
                    ],
                    clockOffsetS: -21600,
                    clockFlagged: true,
                    unknownPins: ["777"],
                  },
                ],
              }
            : undefined,
        details: () => ({ gatewayId: "gw-1" }),
        deadLetters: () => [],
      },
    });
    try {
      const out = (await cli(["terminals", "--settings", file])).out;
      expect(out).toMatch(/BOCK200961014 +term-site-1 +online  last contact \d+ (s|min) ago/);
      expect(out).toContain("model SpeedFace-V5L, firmware ZAM180-NF-Ver1.1.17; punches today 3; clock -21600 s FLAGGED");
      expect(out).toContain("commands waiting: 1 (DATA UPDATE USERINFO PIN=4 Name=李四 Pri=0)");
      expect(out).toContain("REFUSED #7 DATA UPDATE USERINFO PIN=9 Name=X Pri=0: Return=-1002, command syntax refused by the terminal");
      expect(out).toContain("PINs the registry does not know (kept for review): 777");
      expect((await cli(["devices", "--settings", file])).out).toMatch(
        /adms:XYZ0000001 +REFUSED 12 requests, last .*unknown ADMS terminal serial XYZ0000001/,
      );
    } finally {
      await api.close();
    }
  }, 180_000);

  it(
    "doctor reports ports, disk, clock and the hub (a real MQTT CONNECT with this gateway's credentials), and says what to fix",
    async () => {
      // A broker that knows gateway gw-1 by its secret, as the hub's does.
      const broker = await Aedes.createBroker({
        authenticate: (_client, username, password, done) => {
          const ok = username === "gw-1" && password?.toString() === "the-right-gateway-secret";
          done(ok ? null : (Object.assign(new Error("bad user name or password"), { returnCode: 4 }) as AuthenticateError), ok);
        },
      });
      const hub = createServer(broker.handle).listen(0, "127.0.0.1");
      await new Promise((r) => hub.once("listening", r));
      const hubPort = (hub.address() as { port: number }).port;
      const withPassword = async (password: string | undefined) =>
        settingsFile(
          `gatewayId: gw-1\nhttp:\n  port: ${await freePort()}\nbroker:\n  port: ${await freePort()}\nhub:\n  url: mqtt://127.0.0.1:${hubPort}\n${password === undefined ? "" : `  password: ${password}\n`}`,
        );
      try {
        const res = await cli(["doctor", "--settings", await withPassword("the-right-gateway-secret")]);
        expect(res.code).toBe(0);
        expect(res.out).toMatch(/ok {3}disk/);
        expect(res.out).toMatch(/ok {3}clock/);
        expect(res.out).toMatch(/ok {3}hub mqtt:\/\/127\.0\.0\.1:\d+ accepts gateway "gw-1" and its password \(MQTT CONNECT\)/);
        // The port answers, but the password is wrong: doctor says so (it used to say "ok").
        const wrong = await cli(["doctor", "--settings", await withPassword("a-wrong-secret")]);
        expect(wrong.code).toBe(1);
        expect(wrong.out).toMatch(/FIX {2}the hub at mqtt:\/\/127\.0\.0\.1:\d+ refuses gateway "gw-1": .*set hub\.password/);
        expect(wrong.out).not.toContain("a-wrong-secret");
        const none = await cli(["doctor", "--settings", await withPassword(undefined)]);
        expect(none.code).toBe(1);
        expect(none.out).toMatch(/FIX {2}.*hub\.password is not set/);
      } finally {
        hub.close();
        await new Promise<void>((r) => broker.close(() => r()));
      }
      // Something answers on the port that is not an MQTT broker.
      const notMqtt = createServer((socket) => socket.end()).listen(0, "127.0.0.1");
      await new Promise((r) => notMqtt.once("listening", r));
      try {
        const res = await cli([
          "doctor",
          "--settings",
          settingsFile(`gatewayId: gw-1\nhub:\n  url: mqtt://127.0.0.1:${(notMqtt.address() as { port: number }).port}\n  password: x\n`),
        ]);
        expect(res.code).toBe(1);
        expect(res.out).toMatch(/FIX {2}the hub at .* answers but not as an MQTT broker/);
      } finally {
        notMqtt.close();
      }
      const unreachable = await cli([
        "doctor",
        "--settings",
        settingsFile(`gatewayId: gw-1\nhub:\n  url: mqtt://127.0.0.1:${await freePort()}\n`),
      ]);
      expect(unreachable.code).toBe(1);
      expect(unreachable.out).toMatch(/FIX {2}cannot connect to the hub .*check hub\.url/);
    },
    TEST_TIMEOUT_MS,
  );
});
