import type { InfluxDB } from "influx";
import { describe, expect, it } from "vitest";
import { ChainStore } from "../src/ingest/chain.ts";

type Row = { gateway: string; epoch: string; seq: number; hash: string | null; prev_hash: string | null };

/** An InfluxDB stand-in for the chain store's queries (logic only; ingest-integrity.test.ts runs it on influxd). */
function fakeInflux(rows: Row[]) {
  const queries: string[] = [];
  const influx = {
    query: async (q: string) => {
      queries.push(q);
      return rows;
    },
  } as unknown as InfluxDB;
  return { influx, queries };
}

describe("ChainStore", () => {
  it("lookups that arrive within the linger share one query, each gets its own gateway's links", async () => {
    const { influx, queries } = fakeInflux([
      { gateway: "gw1", epoch: "e1", seq: 4, hash: "h4", prev_hash: "h3" },
      { gateway: "gw2", epoch: "e2", seq: 7, hash: "h7", prev_hash: "h6" },
      { gateway: "gw2", epoch: "e2", seq: 8, hash: "h8", prev_hash: "h7" },
    ]);
    const store = new ChainStore(influx, "db", 100, 20);
    const first = store.links("gw1", "e1", [3, 4, 5]);
    await new Promise((r) => setTimeout(r, 2));
    const second = store.links("gw2", "e2", [7, 8, 9]);
    expect(await first).toEqual(new Map([[4, { hash: "h4", prevHash: "h3" }]]));
    expect(await second).toEqual(
      new Map([
        [7, { hash: "h7", prevHash: "h6" }],
        [8, { hash: "h8", prevHash: "h7" }],
      ]),
    );
    expect(queries).toHaveLength(1);
    // Stored links are remembered: asking again costs no query.
    expect(await store.links("gw2", "e2", [8])).toEqual(new Map([[8, { hash: "h8", prevHash: "h7" }]]));
    expect(queries).toHaveLength(1);
  });

  it("a row seen without its hash or predecessor (another copy's write half done) is no link, and is not remembered", async () => {
    const { influx, queries } = fakeInflux([
      { gateway: "gw1", epoch: "e1", seq: 22, hash: null, prev_hash: "h21" },
      { gateway: "gw1", epoch: "e1", seq: 23, hash: "h23", prev_hash: null },
    ]);
    const store = new ChainStore(influx, "db", 100, 0);
    expect(await store.links("gw1", "e1", [22, 23, 24])).toEqual(new Map());
    await store.links("gw1", "e1", [22]);
    expect(queries).toHaveLength(2);
  });
});
