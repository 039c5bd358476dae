import { defaultGoMaxProcs, ManagedInfluxd } from "@supervision/influxd";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startInfluxd, type TestInfluxd } from "./influxd.ts";
import { environOf } from "./proc.ts";

describe("throw-away influxd", () => {
  let influx: TestInfluxd;
  beforeAll(async () => {
    influx = await startInfluxd();
  }, 60_000);
  afterAll(async () => influx?.close());

  it("accepts line protocol and answers InfluxQL", async () => {
    await influx.query("CREATE DATABASE t");
    const res = await fetch(`${influx.url}/write?db=t&precision=ms`, {
      method: "POST",
      body: "m,k=a v=1i 1700000000000\nm,k=b v=2i 1700000000001",
    });
    expect(res.status).toBe(204);
    const out = await influx.query("SELECT sum(v) FROM m", "t");
    expect(out.results[0]?.series?.[0]?.values[0]?.[1]).toBe(3);
  });

  it("runs with the hub's default GOMAXPROCS (a core left for the hub)", () => {
    expect(environOf(influx.server.pid as number, "GOMAXPROCS")).toBe(String(defaultGoMaxProcs()));
  });
});

describe("influxd's GOMAXPROCS", () => {
  it("defaults to the machine's cores less one, at least one", () => {
    expect([1, 2, 4, 8].map((cores) => defaultGoMaxProcs(cores))).toEqual([1, 1, 3, 7]);
  });

  it("refuses a count that is not a whole number of threads, with what it got", () => {
    for (const goMaxProcs of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])
      expect(() => new ManagedInfluxd({ dataDir: "/nonexistent", httpPort: 1, rpcPort: 2, goMaxProcs })).toThrow(
        new RangeError(`goMaxProcs must be a whole number of threads, at least 1 (got ${goMaxProcs})`),
      );
  });
});
