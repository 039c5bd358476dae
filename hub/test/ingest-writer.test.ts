import pino from "pino";
import { describe, expect, it } from "vitest";
import { InfluxWriteError, type LineWriter } from "../src/influx/line-writer.ts";
import { classifyRefusal } from "../src/influx/dead-letters.ts";
import { LineGroups, PointWriter } from "../src/ingest/writer.ts";

/** A LineWriter that answers from a script, recording what it was sent. */
function scripted(answer: (body: string, call: number) => Error | undefined) {
  const calls: string[] = [];
  const write: LineWriter = async (body) => {
    const text = typeof body === "string" ? body : body.join("\n"); // a body in pieces is the pieces, newline-separated
    calls.push(text);
    const e = answer(text, calls.length);
    if (e) throw e;
  };
  return { write, calls };
}

const unit = (...lines: string[]) => {
  const g = new LineGroups({ source: "batch", gatewayId: "gw1", epoch: "e", seq: 1 });
  for (const l of lines) g.add("raw", l);
  return g;
};

describe("PointWriter: unavailable or unwritable", () => {
  it("retries while InfluxDB is unavailable (no answer, 5xx, 401, 404) and reports it down, then up", async () => {
    const failures = [
      new Error("ECONNREFUSED"),
      new InfluxWriteError(500, "timeout"),
      new InfluxWriteError(401, "auth"),
      new InfluxWriteError(404, "database not found"),
    ];
    const { write, calls } = scripted((_b, n) => failures[n - 1]);
    const states: boolean[] = [];
    const writer = new PointWriter({ write, logger: pino({ level: "silent" }), batchPoints: 10, onInfluxState: (up) => states.push(up) });
    try {
      const outcome = await writer.write(unit("m f=1 1000000"));
      expect(outcome.deadLetters).toEqual([]);
      expect(calls).toHaveLength(5);
      expect(states).toEqual([false, true]);
    } finally {
      await writer.stop();
    }
  }, 30_000);

  it("splits a refused write until the refused line is alone; the others are stored once more at most", async () => {
    const poison = 'm f="x" 3000000';
    const { write, calls } = scripted((body) =>
      body.includes(poison) ? new InfluxWriteError(400, 'partial write: field type conflict: input field "f" dropped=1') : undefined,
    );
    const writer = new PointWriter({ write, logger: pino({ level: "silent" }), batchPoints: 100 });
    try {
      const lines = Array.from({ length: 8 }, (_, i) => (i === 2 ? poison : `m f=${i} ${i + 1}000000`));
      const outcome = await writer.write(unit(...lines));
      expect(outcome.deadLetters).toMatchObject([
        { line: poison, reason: "field_type_conflict", policy: "raw", context: { gatewayId: "gw1" } },
      ]);
      // whole, whole again (unit by unit), halves, quarters, the pair, then one dead-letter write
      expect(calls.filter((c) => c.includes(poison)).length).toBeLessThanOrEqual(6);
      expect(calls.at(-1)).toMatch(/^dead_letter,gateway=gw1,measurement=m,reason=field_type_conflict,source=batch /);
    } finally {
      await writer.stop();
    }
  });

  it("dead-letters points beyond a policy's retention before sending them", async () => {
    const { write, calls } = scripted(() => undefined);
    const now = Date.UTC(2026, 0, 1);
    const writer = new PointWriter({
      write,
      logger: pino({ level: "silent" }),
      batchPoints: 100,
      retentionMs: { raw: 86_400_000 },
      now: () => now,
    });
    try {
      const outcome = await writer.write(unit(`m f=1 ${now - 2 * 86_400_000}000000`, `m f=2 ${now - 1000}000000`));
      expect(outcome.deadLetters.map((l) => l.reason)).toEqual(["beyond_retention"]);
      expect(calls[0]).toBe(`m f=2 ${now - 1000}000000`);
    } finally {
      await writer.stop();
    }
  });

  it("names influxd's refusals", () => {
    expect(classifyRefusal(400, "partial write: points beyond retention policy dropped=1")).toBe("beyond_retention");
    expect(classifyRefusal(400, 'partial write: field type conflict: input field "seq" on measurement "r" is type string')).toBe(
      "field_type_conflict",
    );
    expect(classifyRefusal(400, "unable to parse 'bad line': invalid field format")).toBe("unparsable");
    expect(classifyRefusal(413, "Request Entity Too Large")).toBe("too_large");
    expect(classifyRefusal(400, "partial write: max-series-per-database limit exceeded: (1000000) dropped=1")).toBe("limit_exceeded");
    expect(classifyRefusal(400, "something new")).toBe("refused");
  });
});

describe("PointWriter: the chain lane", () => {
  it("writes a batch's chain point after its other points, without holding a write slot; chain points that wait share one write", async () => {
    const log: string[] = [];
    let releaseChain: (() => void) | undefined;
    const chainHeld = new Promise<void>((r) => (releaseChain = r));
    const write: LineWriter = async (body, policy) => {
      const text = typeof body === "string" ? body : body.join("\n");
      log.push(`${policy}: ${text.replace(/\n/g, " | ")}`);
      // The first chain write hangs until released, as a slow request to the central InfluxDB would.
      if (policy === "chain" && log.filter((l) => l.startsWith("chain")).length === 1) await chainHeld;
    };
    const writer = new PointWriter({ write, logger: pino({ level: "silent" }), batchPoints: 1, concurrency: 1, lingerMs: 0 });
    const batch = (seq: number) => {
      const g = new LineGroups({ source: "batch", gatewayId: "gw1", epoch: "e", seq });
      g.add("raw", `rating f=${seq} ${seq}000000`);
      g.add("chain", `batch_chain seq=${seq} ${seq}`);
      return g;
    };
    const settled: number[] = [];
    try {
      const done = [1, 2, 3].map((seq) => writer.write(batch(seq)).then(() => settled.push(seq)));
      // With one write slot, batches 2 and 3 get their readings stored while batch 1's chain write is out.
      await expect.poll(() => log.filter((l) => l.startsWith("raw")).length).toBe(3);
      expect(settled).toEqual([]); // nothing is acknowledged before its chain point is stored
      releaseChain!();
      await Promise.all(done);
      expect(settled).toEqual([1, 2, 3]);
      expect(log).toEqual([
        "raw: rating f=1 1000000",
        "chain: batch_chain seq=1 1",
        "raw: rating f=2 2000000",
        "raw: rating f=3 3000000",
        "chain: batch_chain seq=2 2 | batch_chain seq=3 3",
      ]);
    } finally {
      await writer.stop();
    }
  });
});
