/**
 * Site leases (hub/src/supervision/leases.ts): the winner rule alone, then two copies' lease rounds on one real influxd.
 */
import { startInfluxd, type TestInfluxd } from "@supervision/test-support";
import { InfluxDB } from "influx";
import pino from "pino";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "./ingest-fixtures.ts";
import { loadSettings } from "../src/settings/index.ts";
import { ensureDatabase } from "../src/influx/setup.ts";
import { type ClaimPoint, preferredCopy, resolveLease, SiteLeases } from "../src/supervision/leases.ts";

const p = (copy: string, kind: ClaimPoint["kind"], term: number, at: number, expires: number): ClaimPoint => ({
  site: "s1",
  copy,
  kind,
  term,
  at,
  expires,
});

describe("the lease winner rule", () => {
  it("gives a term to its earliest claim, extends it by the owner's renewals only, and voids claims made while it held", () => {
    expect(resolveLease([])).toBeUndefined();
    // Two copies claim term 1 at once: the earlier wins; the same instant: the smaller copy name.
    expect(resolveLease([p("b", "claim", 1, 100, 1100), p("a", "claim", 1, 101, 1101)])).toMatchObject({ owner: "b", term: 1, since: 100 });
    expect(resolveLease([p("b", "claim", 1, 100, 1100), p("a", "claim", 1, 100, 1100)])).toMatchObject({ owner: "a", expires: 1100 });
    // Renewals by the owner extend; the loser's renewals of its void claim do not.
    const held = [
      p("a", "claim", 1, 100, 1100),
      p("b", "claim", 1, 150, 1150),
      p("a", "renew", 1, 500, 1500),
      p("b", "renew", 1, 600, 9999),
    ];
    expect(resolveLease(held)).toMatchObject({ owner: "a", term: 1, expires: 1500 });
    // A claim of term 2 before the renewed expiry is void; one after it wins.
    expect(resolveLease([...held, p("b", "claim", 2, 1200, 2200)])).toMatchObject({ owner: "a", term: 1, expires: 1500 });
    expect(resolveLease([...held, p("b", "claim", 2, 1600, 2600)])).toMatchObject({ owner: "b", term: 2, since: 1600, expires: 2600 });
    // A renewal made after the lease ran out (a paused copy waking up) does not bring it back...
    expect(resolveLease([...held, p("a", "renew", 1, 1700, 2700), p("b", "claim", 2, 1800, 2800)])).toMatchObject({ owner: "b", term: 2 });
    // ...nor does one made after the next term's claim, even before the old expiry had been seen to pass.
    expect(resolveLease([...held, p("b", "claim", 2, 1600, 2600), p("a", "renew", 1, 1601, 2601)])).toMatchObject({ owner: "b", term: 2 });
    // A renewal written before the claim (seen late) voids the claim: the owner never stopped holding.
    expect(resolveLease([...held, p("a", "renew", 1, 1400, 2400), p("b", "claim", 2, 1600, 2600)])).toMatchObject({
      owner: "a",
      term: 1,
      expires: 2400,
    });
    // A release ends the lease at once: a claim right after it wins.
    expect(resolveLease([...held, p("a", "release", 1, 700, 700), p("b", "claim", 2, 701, 1701)])).toMatchObject({ owner: "b", term: 2 });
    // Only renewals are in the window read (the claim is older): the lowest term stands as its owner's.
    expect(resolveLease([p("a", "renew", 4, 100, 1100), p("a", "renew", 4, 400, 1400)])).toMatchObject({
      owner: "a",
      term: 4,
      expires: 1400,
    });
    // ...even when the loser's claim of that term is still in the window and the winner's is not.
    const cut = [p("b", "claim", 4, 90, 1090), p("a", "renew", 4, 400, 1400), p("a", "renew", 4, 700, 1700)];
    expect(resolveLease(cut)).toMatchObject({ owner: "a", term: 4, expires: 1700 });
  });

  it("prefers copies evenly and the same way every time", () => {
    const sites = Array.from({ length: 300 }, (_, i) => `hall-${i}`);
    const counts = new Map<string, number>();
    for (const s of sites) counts.set(preferredCopy(s, ["a", "b", "c"])!, (counts.get(preferredCopy(s, ["a", "b", "c"])!) ?? 0) + 1);
    expect(Math.min(...counts.values())).toBeGreaterThan(60);
    // A copy leaving moves only its own sites.
    expect(sites.filter((s) => preferredCopy(s, ["a", "b", "c"]) === "a").every((s) => preferredCopy(s, ["a", "b"]) === "a")).toBe(true);
  });
});

describe("the hub settings file", () => {
  it("refuses the static partition of old, at its line, naming the lease settings that replaced it", () => {
    const dir = mkdtempSync(join(tmpdir(), "leases-settings-"));
    try {
      const file = join(dir, "hub.yaml");
      writeFileSync(file, "supervision:\n  intervalMs: 60000\n  partition: { index: 0, count: 2 }\n");
      expect(() => loadSettings(file, {})).toThrow(
        `${file}:3: supervision.partition: no longer read: hub copies now share the sites by leases; remove it and set supervision.leases.enabled (true), supervision.leases.seconds and supervision.leases.settleMs if needed (hub/src/supervision/README.md)`,
      );
      writeFileSync(file, "supervision:\n  leases: { enabled: true, seconds: 30, settleMs: 2000 }\n");
      expect(loadSettings(file, {}).supervision.leases).toEqual({ enabled: true, seconds: 30, settleMs: 2000 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

let influxd: TestInfluxd;
let influx: InfluxDB;
beforeAll(async () => {
  influxd = await startInfluxd();
  influx = new InfluxDB({ host: "127.0.0.1", port: influxd.port, database: "leases" });
  await ensureDatabase(influx, "leases", pino({ level: "silent" }));
}, 90_000);
afterAll(() => influxd?.close());

/** The hub tests' waitFor, with a condition that says yes or no. */
const until = (what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 60_000) =>
  waitFor(async () => (await condition()) || undefined, timeoutMs, what);

describe("site leases of two hub copies on one influxd", () => {
  it("share the sites, one holder each; a copy that stops renewing loses its sites to the other, and gets its share back", async () => {
    const sites = Array.from({ length: 12 }, (_, i) => `hall-${i}`);
    const settings = { seconds: 2, settleMs: 300 };
    const copy = (name: string) => new SiteLeases({ influx, copy: name, settings, sites: () => sites, logger: pino({ level: "silent" }) });
    const a = copy("hub-a");
    const b = copy("hub-b");
    a.start();
    b.start();
    const holders = (site: string, copies: SiteLeases[]) => copies.filter((c) => c.holds(site)).map((c) => c.copy);
    const check = (copies: SiteLeases[]) => {
      for (const s of sites) expect(holders(s, copies).length).toBeLessThanOrEqual(1);
    };
    // Every site held by one copy, both copies with a share (fair: 6 each, give or take the settling).
    await until("every site held, both copies working", () => {
      check([a, b]);
      const held = sites.map((s) => holders(s, [a, b]));
      return held.every((h) => h.length === 1) && held.filter((h) => h[0] === "hub-a").length === 6;
    });
    // hub-b stops renewing (as a killed copy does): its sites move to hub-a once its leases run out.
    await b.stop();
    const bHeld = sites.filter((s) => b.holds(s));
    expect(bHeld.length).toBe(6);
    const bTerms = new Map(bHeld.map((s) => [s, b.holds(s)!.term]));
    await until("hub-b's sites taken over by hub-a", () => {
      check([a, b]);
      return sites.every((s) => a.holds(s) !== undefined);
    });
    const table = new Map(a.table().leases.map((l) => [l.site, l]));
    expect(bHeld.map((s) => [table.get(s)?.owner, table.get(s)?.term])).toEqual(bHeld.map((s) => ["hub-a", bTerms.get(s)! + 1]));
    // hub-b comes back (a new process, same name): hub-a gives up the sites hub-b prefers, down to its fair share.
    const b2 = copy("hub-b");
    b2.start();
    await until("hub-b back with its share", () => {
      check([a, b2]);
      const held = sites.map((s) => holders(s, [a, b2]));
      return held.every((h) => h.length === 1) && held.filter((h) => h[0] === "hub-b").length === 6;
    });
    // No flapping: the owners stay put over several more rounds.
    const owners = sites.map((s) => holders(s, [a, b2])[0]);
    let rounds = 0;
    await until("four more lease rounds", async () => {
      await a.tick();
      await b2.tick();
      check([a, b2]);
      return ++rounds >= 4;
    });
    expect(sites.map((s) => holders(s, [a, b2])[0])).toEqual(owners);
    await a.stop(true);
    await b2.stop(true);
  }, 120_000);

  it("end at the fair share when the hashes split the sites unevenly (4 and 2 of 6 for these names)", async () => {
    const sites = Array.from({ length: 6 }, (_, i) => `hall-${i + 1}`);
    expect(sites.filter((x) => preferredCopy(x, ["first", "second"]) === "first").length).toBe(4);
    const settings = { seconds: 1, settleMs: 200 };
    const copy = (name: string) => new SiteLeases({ influx, copy: name, settings, sites: () => sites, logger: pino({ level: "silent" }) });
    const [first, second] = [copy("first"), copy("second")];
    first.start();
    second.start();
    const holders = (site: string) => [first, second].filter((c) => c.holds(site)).map((c) => c.copy);
    await until("three sites each", () => {
      for (const x of sites) expect(holders(x).length).toBeLessThanOrEqual(1);
      const held = sites.map(holders);
      return held.every((h) => h.length === 1) && held.filter((h) => h[0] === "first").length === 3;
    });
    // The second copy holds both sites it prefers: the first gave those up before its own.
    expect(sites.filter((x) => preferredCopy(x, ["first", "second"]) === "second").every((x) => second.holds(x))).toBe(true);
    await first.stop(true);
    await second.stop(true);
  }, 120_000);

  it("a copy paused past its lease (its runner stopped without releasing) may act on nothing when it wakes, not even before its next round", async () => {
    const sites = ["hall-p"];
    const settings = { seconds: 2, settleMs: 300 };
    const copy = (name: string) => new SiteLeases({ influx, copy: name, settings, sites: () => sites, logger: pino({ level: "silent" }) });
    const p = copy("copy-p");
    p.start();
    await until("copy-p holds the hall", () => p.holds("hall-p") !== undefined);
    const term = p.holds("hall-p")!.term;
    await p.stop(); // paused: no renewal, no release
    const q = copy("copy-q");
    q.start();
    await until("copy-q holds the hall", () => q.holds("hall-p") !== undefined);
    expect(q.holds("hall-p")!.term).toBe(term + 1);
    // copy-p wakes up: its own view is stale, yet it neither holds the hall nor confirms its old term.
    expect(p.holds("hall-p")).toBeUndefined();
    expect(await p.confirm("hall-p", term)).toBe(false);
    // Its next rounds leave the hall to copy-q (it is not over its share).
    p.start();
    let rounds = 0;
    await until("three rounds of both", async () => {
      await p.tick();
      await q.tick();
      expect(p.holds("hall-p")).toBeUndefined();
      return ++rounds >= 3;
    });
    expect(q.holds("hall-p")?.term).toBe(term + 1);
    await p.stop(true);
    await q.stop(true);
  }, 60_000);
});
