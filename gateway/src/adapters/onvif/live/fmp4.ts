/**
 * Fragmented MP4 as ffmpeg writes it for live view (`-movflags +frag_keyframe+empty_moov+default_base_moof`): an
 * init segment (`ftyp` + `moov`), then media segments (`moof` + `mdat`), each starting with a key frame. The relay
 * cuts the byte stream at these boxes so a viewer who joins late gets the init segment and then whole segments from
 * the next key frame on, and a slow viewer can skip whole segments without breaking its decoder.
 */

/** A box larger than this is refused: one second of a 4K camera is far below it. */
export const MAX_BOX_BYTES = 32 << 20;

export type Fmp4Piece = { kind: "init"; data: Buffer } | { kind: "segment"; data: Buffer };

/** Splits a byte stream into top-level MP4 boxes and groups them into init and media segments. */
export class Fmp4Segmenter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Boxes of the piece being assembled (ftyp … moov, or moof … mdat). */
  private piece: Buffer[] = [];
  private pieceKind: Fmp4Piece["kind"] | undefined;

  /** Feeds bytes; returns the pieces completed by them. Throws on a stream that is not fragmented MP4. */
  push(chunk: Buffer): Fmp4Piece[] {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const out: Fmp4Piece[] = [];
    for (;;) {
      if (this.pendingBytes < 8) return out;
      const head = this.peek(16);
      let size = head.readUInt32BE(0);
      const type = head.toString("latin1", 4, 8);
      if (!/^[a-zA-Z0-9 ]{4}$/.test(type)) throw new Error(`not an MP4 box: type bytes ${head.subarray(4, 8).toString("hex")}`);
      if (size === 1) {
        if (this.pendingBytes < 16) return out;
        const large = head.readBigUInt64BE(8);
        if (large > BigInt(MAX_BOX_BYTES)) throw new Error(`MP4 box ${type} of ${large} bytes is larger than ${MAX_BOX_BYTES}`);
        size = Number(large);
      } else if (size === 0) {
        throw new Error(`MP4 box ${type} runs to the end of the stream: not a fragmented MP4`);
      }
      if (size < 8) throw new Error(`MP4 box ${type} claims ${size} bytes`);
      if (size > MAX_BOX_BYTES) throw new Error(`MP4 box ${type} of ${size} bytes is larger than ${MAX_BOX_BYTES}`);
      if (this.pendingBytes < size) return out;
      const box = this.take(size);
      const done = this.onBox(type, box);
      if (done) out.push(done);
    }
  }

  private onBox(type: string, box: Buffer): Fmp4Piece | undefined {
    if (type === "ftyp") {
      this.piece = [box];
      this.pieceKind = "init";
      return undefined;
    }
    if (type === "moov") {
      if (this.pieceKind !== "init") throw new Error("MP4 moov without ftyp");
      return this.finish([...this.piece, box], "init");
    }
    if (type === "moof") {
      this.piece = [box];
      this.pieceKind = "segment";
      return undefined;
    }
    if (type === "mdat") {
      if (this.pieceKind !== "segment") throw new Error("MP4 mdat without moof");
      return this.finish([...this.piece, box], "segment");
    }
    // styp, sidx, prft, free, mfra ...: carried with the piece they arrive in, dropped between pieces.
    if (this.pieceKind !== undefined) this.piece.push(box);
    return undefined;
  }

  private finish(boxes: Buffer[], kind: Fmp4Piece["kind"]): Fmp4Piece {
    this.piece = [];
    this.pieceKind = undefined;
    return { kind, data: Buffer.concat(boxes) };
  }

  private peek(n: number): Buffer {
    if (this.pending[0]!.length >= n || this.pending.length === 1) return this.pending[0]!.subarray(0, n);
    const all = Buffer.concat(this.pending);
    this.pending = [all];
    return all.subarray(0, n);
  }

  private take(n: number): Buffer {
    const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    const box = Buffer.from(all.subarray(0, n));
    const rest = all.subarray(n);
    this.pending = rest.length > 0 ? [rest] : [];
    this.pendingBytes = rest.length;
    return box;
  }
}

/**
 * The MSE codec string of an init segment's H.264 track ("avc1.42c01e" for Constrained Baseline 3.0), from its avcC
 * box; undefined when the track is not H.264 (the browser could not play it passed through).
 */
export function h264Codec(init: Buffer): string | undefined {
  const at = init.indexOf("avcC", 0, "latin1");
  if (at < 4 || at + 8 > init.length) return undefined;
  return `avc1.${init.subarray(at + 5, at + 8).toString("hex")}`;
}
