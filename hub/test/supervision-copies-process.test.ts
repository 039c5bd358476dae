/**
 * Two `hub start` processes (node itself with tsx's loader, not the tsx wrapper: kill -9 must reach the hub) with site leases on one real influxd: each site held by one copy; one copy killed with
 * kill -9 loses its sites to the other after the lease; a copy started again gets the sites it prefers back.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startInfluxd, type TestInfluxd } from "@supervision/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { preferredCopy } from "../src/supervision/index.ts";
import { copyExampleRegistry } from "./example-registry.ts";
import { waitFor } from "./ingest-fixtures.ts";

const ROOT = join(import.meta.dirname, "../..");
const dir = mkdtempSync(join(tmpdir(), "hub-copies-"));
const registryDir = join(dir, "registry");
const SITES = ["hall-1", "hall-2", "hall-3", "hall-4", "hall-5", "hall-6"];
let influxd: TestInfluxd;
const hubs: ChildProcess[] = [];

beforeAll(async () => {
  influxd = await startInfluxd();
  mkdirSync(registryDir);
  copyExampleRegistry(registryDir);
  // Five more halls in the example's town, each with a gateway of its own (the same key: the leases care only about sites).
  const key = "MCowBQYDK2VwAyEAuFbSdY4NtFuN0izIvbSKHQILeCducn4lqj54vLnHxIA=";
  const hash = "scrypt$16384$8$1$W11SiF5aWBqX1mYeaigFpA==$gceWriNl7lTATwx408M64p+Ft/QFB+qQAc7fHbhJ7LQ=";
  const more = SITES.slice(1);
  writeFileSync(
    join(registryDir, "more-halls.yaml"),
    [
      "sites:",
      ...more.map((s) => `  - { id: ${s}, kind: hall, name: ${s}, town: riverside, tz: Asia/Shanghai, gateway: gw-${s} }`),
      "gateways:",
      ...more.flatMap((s) => [
        `  - id: gw-${s}`,
        `    site: ${s}`,
        `    secretHash: "${hash}"`,
        "    publicKey: |",
        "      -----BEGIN PUBLIC KEY-----",
        `      ${key}`,
        "      -----END PUBLIC KEY-----",
      ]),
    ].join("\n"),
  );
}, 60_000);

afterAll(async () => {
  for (const hub of hubs) if (hub.exitCode === null && hub.signalCode === null) hub.kill("SIGKILL");
  await influxd?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Leases {
  copy: string;
  copies: string[];
  sites: { site: string; owner: string; term: number; expires: string }[];
}

async function startHub(name: string): Promise<{ hub: ChildProcess; leases: () => Promise<Leases | undefined>; output: () => string }> {
  const [brokerPort, httpPort] = [await freePort(), await freePort()];
  const settingsFile = join(dir, `${name}.yaml`);
  writeFileSync(
    settingsFile,
    [
      `influx: { url: ${influxd.url} }`,
      `broker: { port: ${brokerPort}, host: 127.0.0.1 }`,
      `http: { port: ${httpPort} }`,
      `registry: { dir: ${registryDir} }`,
      `dataDir: ${join(dir, name)}`,
      "supervision: { intervalMs: 1000, leases: { enabled: true, seconds: 3, settleMs: 300 } }",
      "logLevel: warn",
    ].join("\n"),
  );
  let output = "";
  const hub = spawn(process.execPath, ["--import", "tsx", join(ROOT, "hub/src/cli/main.ts"), "start", "--settings", settingsFile], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  hubs.push(hub);
  hub.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  hub.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  const leases = async () => {
    if (hub.exitCode !== null) throw new Error(`hub ${name} exited ${hub.exitCode}: ${output}`);
    const res = await fetch(`http://127.0.0.1:${httpPort}/healthz`).catch(() => undefined);
    if (!res) return undefined;
    const body = (await res.json()) as { extensions?: { supervision?: { detail?: { leases?: Leases } } } };
    return body.extensions?.supervision?.detail?.leases;
  };
  return { hub, leases, output: () => output };
}

/** Owner of every site by the copy's table, when each site has one and the table agrees with `expected`. */
async function ownersAre(
  leases: () => Promise<Leases | undefined>,
  expected: (l: Leases) => Map<string, string>,
): Promise<Leases | undefined> {
  const l = await leases();
  if (!l || l.sites.length !== SITES.length) return undefined;
  const want = expected(l);
  return l.sites.every((s) => new Date(s.expires).getTime() > Date.now() && want.get(s.site) === s.owner) ? l : undefined;
}

/** Every site held and unexpired, by the counts `want` gives per copy (given the copy's view of the live copies). */
async function counts(
  leases: () => Promise<Leases | undefined>,
  want: (l: Leases) => Record<string, number> | undefined,
): Promise<Leases | undefined> {
  const l = await leases();
  const expected = l && want(l);
  if (!l || !expected || l.sites.length !== SITES.length || l.sites.some((s) => new Date(s.expires).getTime() <= Date.now()))
    return undefined;
  const got: Record<string, number> = {};
  for (const s of l.sites) got[s.owner] = (got[s.owner] ?? 0) + 1;
  return JSON.stringify(Object.entries(got).sort()) === JSON.stringify(Object.entries(expected).sort()) ? l : undefined;
}

describe("hub copies as processes, with site leases", () => {
  it(
    "hold each site once; a copy killed with kill -9 loses its sites to the other, and one started again gets its share",
    { timeout: 180_000 },
    async () => {
      const a = await startHub("a");
      const b = await startHub("b");
      // Both running, each site held, by the fair share: ceil(6 / 2) each at most, so 3 and 3, however the copies'
      // names (host-pid) hash.
      const both = await waitFor(
        () => counts(a.leases, (l) => (l.copies.length === 2 ? Object.fromEntries(l.copies.map((x) => [x, 3])) : undefined)),
        90_000,
        "both copies holding three sites",
      );
      const [copyA] = [both.copy];
      const copyB = both.copies.find((c) => c !== copyA)!;
      const ofA = both.sites.filter((s) => s.owner === copyA);
      // The other copy's table says the same (once its round has read them).
      await waitFor(() => ownersAre(b.leases, () => new Map(both.sites.map((x) => [x.site, x.owner]))), 30_000, "the other copy agreeing");
      // kill -9 the first copy: the second holds every site after the lease, each of the dead copy's at the next term.
      a.hub.kill("SIGKILL");
      const after = await waitFor(
        () => ownersAre(b.leases, () => new Map(SITES.map((s) => [s, copyB]))),
        60_000,
        "every site held by the survivor",
      );
      for (const s of ofA) expect(after.sites.find((x) => x.site === s.site)?.term).toBe(s.term + 1);
      expect(after.copies).toEqual([copyB]);

      // A copy started again (a new process, a new name, so its hashes differ): the survivor, over its share, gives up
      // the excess, first the sites the new copy prefers, so each ends with its fair share whatever the hashes say.
      const c = await startHub("c");
      const again = await waitFor(
        () => counts(c.leases, (l) => (l.copies.length === 2 ? { [l.copy]: 3, [copyB]: 3 } : undefined)),
        90_000,
        "the new copy holding its fair share",
      );
      // Of the sites it prefers, it holds as many as its share allows.
      const prefers = SITES.filter((x) => preferredCopy(x, again.copies) === again.copy);
      expect(again.sites.filter((x) => x.owner === again.copy && prefers.includes(x.site)).length).toBe(Math.min(3, prefers.length));
      expect(again.copies).toContain(copyB);
      b.hub.kill("SIGINT");
      c.hub.kill("SIGINT");
    },
  );
});
