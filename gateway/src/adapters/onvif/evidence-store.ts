import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { sha256Hex } from "./snapshot.ts";

/**
 * Snapshots kept on the gateway as evidence: one file per snapshot, `<ts>-<deviceId>-<sha256>.jpg`, so the name
 * records the hash that went into the signed reading. Bounded twice: files older than `retentionMs` (30 days) go,
 * and while the folder holds more than `maxBytes` the oldest go first. Reading a snapshot back recomputes its hash:
 * a file whose bytes no longer match its recorded hash is reported as tampered.
 */
export interface StoredSnapshot {
  deviceId: string;
  ts: number;
  sha256: string;
  bytes: number;
}

export interface FetchedSnapshot extends StoredSnapshot {
  data: Buffer;
  /** The hash of the bytes as read now. */
  actualSha256: string;
  tampered: boolean;
}

const NAME = /^(\d{1,15})-([a-z0-9_.-]{1,64})-([0-9a-f]{64})\.jpg$/;
export const THIRTY_DAYS_MS = 30 * 86_400_000;

export class EvidenceStore {
  /** Oldest first. */
  private entries: (StoredSnapshot & { file: string })[] = [];
  private readonly bySha = new Map<string, StoredSnapshot & { file: string }>();
  private total = 0;

  constructor(
    private readonly dir: string,
    private readonly opts: { maxBytes: number; retentionMs?: number; now?: () => number },
  ) {
    mkdirSync(dir, { recursive: true });
    for (const file of readdirSync(dir)) {
      const m = NAME.exec(file);
      if (!m) continue; // temporary files of an interrupted write, or foreign files: left alone
      const entry = { file, ts: Number(m[1]), deviceId: m[2]!, sha256: m[3]!, bytes: statSync(join(dir, file)).size };
      this.entries.push(entry);
    }
    this.entries.sort((a, b) => a.ts - b.ts);
    for (const e of this.entries) {
      this.bySha.set(e.sha256, e);
      this.total += e.bytes;
    }
    this.enforce();
  }

  /** Bytes kept. */
  bytes(): number {
    return this.total;
  }

  list(): StoredSnapshot[] {
    return this.entries.map(({ file: _file, ...e }) => e);
  }

  /** Keeps a snapshot durably (written, fsynced, renamed into place) and returns its SHA-256, hex. */
  put(deviceId: string, ts: number, jpeg: Buffer): string {
    const sha256 = sha256Hex(jpeg);
    const file = `${ts}-${deviceId}-${sha256}.jpg`;
    if (!NAME.test(file)) throw new Error(`cannot keep a snapshot for device id ${JSON.stringify(deviceId)} at ${ts}`);
    const tmp = join(this.dir, `.${file}.tmp`);
    const fd = openSync(tmp, "w");
    try {
      writeSync(fd, jpeg);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(this.dir, file));
    const entry = { file, ts, deviceId, sha256, bytes: jpeg.length };
    let at = this.entries.length;
    while (at > 0 && this.entries[at - 1]!.ts > ts) at--;
    this.entries.splice(at, 0, entry);
    this.bySha.set(sha256, entry);
    this.total += jpeg.length;
    this.enforce();
    return sha256;
  }

  /** The snapshot recorded with this hash, read back and checked; undefined when it is not (or no longer) kept. */
  get(sha256: string): FetchedSnapshot | undefined {
    const e = this.bySha.get(sha256);
    if (!e) return undefined;
    let data: Buffer;
    try {
      data = readFileSync(join(this.dir, e.file));
    } catch {
      return undefined;
    }
    const actualSha256 = sha256Hex(data);
    return {
      deviceId: e.deviceId,
      ts: e.ts,
      sha256: e.sha256,
      bytes: data.length,
      data,
      actualSha256,
      tampered: actualSha256 !== e.sha256,
    };
  }

  /** Drops what is past retention, then the oldest while over the bound. */
  enforce(): void {
    const now = (this.opts.now ?? Date.now)();
    const retention = this.opts.retentionMs ?? THIRTY_DAYS_MS;
    while (this.entries.length > 0) {
      const oldest = this.entries[0]!;
      if (oldest.ts >= now - retention && this.total <= this.opts.maxBytes) break;
      this.entries.shift();
      this.total -= oldest.bytes;
      if (this.bySha.get(oldest.sha256) === oldest) this.bySha.delete(oldest.sha256);
      try {
        unlinkSync(join(this.dir, oldest.file));
      } catch {
        // already gone
      }
    }
  }
}
