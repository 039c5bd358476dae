import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SequenceStore } from "./sequences.ts";

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "seq-"));
  dirs.push(d);
  return d;
};
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

describe("SequenceStore", () => {
  it("numbers each device from 1 and never repeats a number after a restart", () => {
    const file = join(tmp(), "cameras", "sequences.json");
    const a = new SequenceStore(file, 4);
    expect([a.take("cam-1"), a.take("cam-1"), a.take("cam-2"), a.take("cam-1")]).toEqual([1, 2, 1, 3]);
    // Reserved on disk in blocks of 4: one write for cam-1's 1..4, one for cam-2's 1..4.
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ "cam-1": 4, "cam-2": 4 });
    const b = new SequenceStore(file, 4);
    expect(b.take("cam-1")).toBe(5);
    expect(b.take("cam-2")).toBe(5);
    expect(b.take("cam-3")).toBe(1);
  });

  it("refuses a damaged file with what to do instead of restarting numbering silently", () => {
    const file = join(tmp(), "sequences.json");
    for (const [content, reason] of [
      ["{not json", /unreadable/],
      ["[1,2]", /does not hold an object/],
      ['{"cam-1":-3}', /cam-1 has -3/],
      ['{"cam-1":"7"}', /not a sequence number/],
    ] as const) {
      writeFileSync(file, content);
      expect(() => new SequenceStore(file)).toThrow(reason);
    }
  });
});
