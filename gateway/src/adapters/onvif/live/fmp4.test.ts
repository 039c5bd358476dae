import { describe, expect, it } from "vitest";
import { Fmp4Segmenter, h264Codec, MAX_BOX_BYTES, type Fmp4Piece } from "./fmp4.ts";
import { sampleFmp4 } from "./testing.ts";

const box = (type: string, payload: Buffer | string = "") => {
  const body = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + body.length, 0);
  head.write(type, 4, "latin1");
  return Buffer.concat([head, body]);
};

describe("fragmented MP4 segmenter", () => {
  const sample = sampleFmp4();

  it("cuts ffmpeg's output into one init segment and whole media segments, whatever the chunk sizes", () => {
    const whole = new Fmp4Segmenter().push(sample);
    expect(whole[0]!.kind).toBe("init");
    const segments = whole.filter((p) => p.kind === "segment");
    // 2 s with a key frame every second: two fragments, each starting with a moof.
    expect(segments).toHaveLength(2);
    expect(segments.every((s) => s.data.toString("latin1", 4, 8) === "moof")).toBe(true);
    // Every byte but the index ffmpeg appends when it ends (mfra), which a live viewer never needs.
    const cut = Buffer.concat(whole.map((p) => p.data));
    expect(sample.subarray(0, cut.length).equals(cut)).toBe(true);
    expect(cut.length === sample.length || sample.toString("latin1", cut.length + 4, cut.length + 8) === "mfra").toBe(true);
    for (const size of [1, 7, 13, 1000, 4096]) {
      const s = new Fmp4Segmenter();
      const pieces: Fmp4Piece[] = [];
      for (let i = 0; i < sample.length; i += size) pieces.push(...s.push(sample.subarray(i, i + size)));
      expect(pieces.map((p) => [p.kind, p.data.length])).toEqual(whole.map((p) => [p.kind, p.data.length]));
    }
  });

  it("reads the H.264 codec string from the init segment", () => {
    const init = new Fmp4Segmenter().push(sample)[0]!.data;
    // libx264's default profile for yuv420p is High (0x64); the level depends on the size.
    expect(h264Codec(init)).toMatch(/^avc1\.64[0-9a-f]{4}$/);
    expect(h264Codec(box("moov", "no codec here"))).toBeUndefined();
  });

  it("keeps boxes between moof and mdat, drops stray ones between segments", () => {
    const pieces = new Fmp4Segmenter().push(
      Buffer.concat([box("ftyp"), box("free"), box("moov"), box("free"), box("moof"), box("prft"), box("mdat", "x")]),
    );
    expect(pieces.map((p) => [p.kind, p.data.length])).toEqual([
      ["init", 24],
      ["segment", 25],
    ]);
  });

  it("refuses what is not a fragmented MP4 stream, with the reason", () => {
    expect(() => new Fmp4Segmenter().push(Buffer.from("HTTP/1.1 200 OK\r\n\r\n"))).toThrow(/not an MP4 box/);
    expect(() => new Fmp4Segmenter().push(box("mdat"))).toThrow(/mdat without moof/);
    expect(() => new Fmp4Segmenter().push(box("moov"))).toThrow(/moov without ftyp/);
    const zero = box("mdat");
    zero.writeUInt32BE(0, 0);
    expect(() => new Fmp4Segmenter().push(zero)).toThrow(/runs to the end/);
    const tiny = box("moof");
    tiny.writeUInt32BE(4, 0);
    expect(() => new Fmp4Segmenter().push(tiny)).toThrow(/claims 4 bytes/);
    const huge = box("mdat");
    huge.writeUInt32BE(MAX_BOX_BYTES + 1, 0);
    expect(() => new Fmp4Segmenter().push(huge)).toThrow(/larger than/);
    const large = Buffer.concat([box("mdat"), Buffer.alloc(8)]);
    large.writeUInt32BE(1, 0);
    large.writeBigUInt64BE(2n ** 40n, 8);
    expect(() => new Fmp4Segmenter().push(large)).toThrow(/larger than/);
  });

  it("waits for the rest of a box without buffering more than it holds", () => {
    const s = new Fmp4Segmenter();
    const ftyp = box("ftyp", "isom");
    expect(s.push(ftyp.subarray(0, 5))).toEqual([]);
    expect(s.push(Buffer.concat([ftyp.subarray(5), box("moov")]))).toMatchObject([{ kind: "init" }]);
  });
});
