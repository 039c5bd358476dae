import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startInfluxd, type TestInfluxd } from "./influxd.ts";

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
});
