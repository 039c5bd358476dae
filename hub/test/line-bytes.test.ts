import { type CheckedReading, parseReading } from "@supervision/firmware-protocols";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { escapeTagValue, quoteFieldValue } from "../src/influx/line-protocol.ts";
import { fnv1aText, LineBytes } from "../src/ingest/line-bytes.ts";
import { lineDigest } from "../src/ingest/manifest.ts";
import { readingLine } from "../src/ingest/reading-lines.ts";
import { rating, testRegistry } from "./ingest-fixtures.ts";

/** Text a registry or a hostile gateway may hold: plain ids, names needing escapes, Chinese, emoji, a lone surrogate. */
const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.constantFrom("", ",", "=", " ", "a b,c=d", "\\", "x\ny", "\r", '"q"', "窗口一", "税务, 北=1", "😀", "\ud800", "a\udc00b"),
);
type Part = { kind: "text" | "tag" | "quoted"; value: string } | { kind: "number"; value: number };
const part: fc.Arbitrary<Part> = fc.oneof(
  fc.record({ kind: fc.constantFrom("text" as const, "tag" as const, "quoted" as const), value: text }),
  fc.record({
    kind: fc.constant("number" as const),
    value: fc.oneof(
      fc.maxSafeNat(),
      fc.integer({ min: -1e6, max: 1e6 }),
      fc.double({ noNaN: true }),
      fc.constantFrom(0, -0, 1e9, 1e13, 2 ** 53),
    ),
  }),
);

/** The same parts as text, with line-protocol.ts's string functions; undefined where they refuse. */
function expected(parts: readonly Part[]): string | undefined {
  let line = "";
  for (const p of parts) {
    if (p.kind === "number") line += `${p.value}`;
    else if (p.kind === "text") line += p.value;
    else if (p.kind === "quoted") line += quoteFieldValue(p.value);
    else if (p.value !== "") {
      try {
        line += `,t=${escapeTagValue(p.value)}`;
      } catch {
        return undefined;
      }
    }
  }
  return line;
}

function write(out: LineBytes, parts: readonly Part[]): void {
  for (const p of parts) {
    if (p.kind === "number") out.number(p.value);
    else if (p.kind === "text") out.text(p.value);
    else if (p.kind === "quoted") out.quoted(p.value);
    else out.tag(",t=", p.value);
  }
}

const joined = (out: LineBytes) => Buffer.concat(out.chunks().flatMap((c, i) => (i === 0 ? [c] : [Buffer.from("\n"), c])));

describe("LineBytes", () => {
  it("writes integers below 2^31 with their digits (every count of digits, padded to a width) as String() does", () => {
    const edges = Array.from({ length: 10 }, (_, k) => [10 ** k - 1, 10 ** k, 10 ** k + 1]).flat();
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.constantFrom(0, ...edges)),
        fc.integer({ min: 0, max: 12 }),
        (n, width) => {
          const out = new LineBytes();
          out.begin();
          out.digits(n, width);
          out.text(" ");
          out.number(n * 1e4 + 7);
          out.end();
          expect(out.lastText()).toBe(`${String(n).padStart(width, "0")} ${n * 1e4 + 7}`);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("writes the bytes the string functions give, refuses what they refuse, and keeps every line whole", () => {
    fc.assert(
      fc.property(fc.array(fc.array(part, { maxLength: 12 }), { minLength: 1, maxLength: 30 }), (lines) => {
        const out = new LineBytes();
        const written: string[] = [];
        for (const parts of lines) {
          const want = expected(parts);
          out.begin();
          if (want === undefined) {
            expect(() => write(out, parts)).toThrow(/cannot be written as a name or tag value/);
            out.abort();
            continue;
          }
          write(out, parts);
          const last = out.end();
          written.push(want);
          const bytes = Buffer.from(want, "utf8");
          expect(last.chunk.subarray(last.start, last.end)).toEqual(bytes);
          // The digest is lineDigest's for the line's text (as stored: a lone surrogate is stored as U+FFFD).
          expect(last.digest).toBe(fnv1aText(bytes.toString("utf8")));
          expect(last.space).toBe(last.start + (bytes.lastIndexOf(32) < 0 ? -1 : bytes.lastIndexOf(32)));
        }
        expect(joined(out)).toEqual(Buffer.from(written.join("\n"), "utf8"));
      }),
      { numRuns: 300 },
    );
  });

  it("digests an ASCII or Chinese line as lineDigest does", () => {
    for (const line of ["rating,device=kp1 seq=1 1700000000000000001", 'signin,person=张三,site=大厅 note="签到" 1']) {
      const out = new LineBytes();
      expect(out.line(line).digest.toString(16).padStart(8, "0")).toBe(lineDigest(line));
    }
  });

  it("fills chunks with whole lines, gives a long line a chunk of its own, and never moves a line's bytes", () => {
    const out = new LineBytes();
    const lines = Array.from({ length: 3000 }, (_, i) => `m,k=v${i} f=${i} ${i}`);
    lines.splice(1500, 0, `long f="${"x".repeat(200_000)}" 1`);
    const places = lines.map((line) => {
      const last = out.line(line);
      return { chunk: last.chunk, start: last.start, end: last.end };
    });
    expect(out.chunks().length).toBeGreaterThanOrEqual(2);
    for (const chunk of out.chunks()) {
      expect(chunk[0]).not.toBe(10);
      expect(chunk[chunk.length - 1]).not.toBe(10);
    }
    expect(joined(out).toString("utf8")).toBe(lines.join("\n"));
    places.forEach((p, i) => expect(p.chunk.toString("utf8", p.start, p.end)).toBe(lines[i]));
  });

  it("drops an aborted line, its newline too, even when it had started a new chunk", () => {
    const out = new LineBytes();
    out.line("first 1");
    out.begin();
    out.text("y".repeat(100_000)); // moves the line begun into a chunk of its own
    out.abort();
    out.line("second 2");
    expect(joined(out).toString("utf8")).toBe("first 1\nsecond 2");
  });

  it("continues a copied prefix's digest: the same bytes and digest as the line written whole", () => {
    const prefix = LineBytes.prefixOf((out) => {
      out.text("rating");
      out.tag(",department=", "税务, 北=1");
      out.tag(",window=", "w1");
    });
    const ascii = LineBytes.prefixOf((out) => out.text("rating,window=w1"));
    for (const p of [prefix, ascii]) {
      const out = new LineBytes();
      out.begin();
      out.prefix(p);
      out.text(" seq=");
      out.number(1_700_000_000_123);
      out.text(" 5");
      const last = out.end();
      const whole = new LineBytes().line(last.chunk.toString("utf8", last.start, last.end));
      expect(last.digest).toBe(whole.digest);
      expect(last.space - last.start).toBe(whole.space - whole.start);
    }
  });
});

describe("reading lines: kept tags follow the registry", () => {
  const check = (r: unknown) => (parseReading(r) as { value: CheckedReading }).value;

  it("writes a window's new department once the registry entry is replaced, and a new registry's names", () => {
    const { registry } = testRegistry();
    const r = check(rating(1, Date.UTC(2026, 11, 1, 2)));
    const before = readingLine(r, registry);
    expect(before).toContain(",department=tax,");
    const window = registry.windows.get("w1")!;
    registry.windows.set("w1", { ...window, department: "land" });
    expect(readingLine(r, registry)).toContain(",department=land,");
    registry.sites.set("hall1", { ...registry.sites.get("hall1")!, town: "t9" });
    registry.towns.set("t9", { id: "t9", name: "T9", region: "r9" });
    expect(readingLine(r, registry)).toMatch(/,region=r9,.*,town=t9,/);
    const fresh = testRegistry().registry;
    expect(readingLine(r, fresh)).toBe(before);
  });

  it("stays bounded and right with endless made-up device ids", () => {
    const { registry } = testRegistry();
    for (let i = 0; i < 60_000; i += 997) {
      const line = readingLine(check(rating(i, Date.UTC(2026, 11, 1, 2) + i, { deviceId: `made-up-${i}` })), registry);
      expect(line).toContain(`,device=made-up-${i},`);
    }
  });
});
