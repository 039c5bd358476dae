import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Sequence numbers for devices that send none (ONVIF cameras, Frigate): every reading needs a stable identity
 * (device id + sequence number) that never repeats, across restarts too. Numbers are reserved on disk in blocks
 * (one fsync per block, not per reading); after a restart numbering resumes above the last reservation, so a
 * crash leaves a gap, never a repeat.
 */
export class SequenceStore {
  private readonly reserved = new Map<string, number>();
  private readonly next = new Map<string, number>();

  constructor(
    private readonly file: string,
    private readonly block = 64,
  ) {
    let saved: unknown = {};
    try {
      saved = JSON.parse(readFileSync(file, "utf8"));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT")
        throw new Error(
          `sequence file ${file} is unreadable (${(error as Error).message}); move it away only if you accept that numbering restarts`,
        );
    }
    if (typeof saved !== "object" || saved === null || Array.isArray(saved))
      throw new Error(`sequence file ${file} does not hold an object`);
    for (const [id, value] of Object.entries(saved)) {
      if (!Number.isSafeInteger(value) || (value as number) < 0)
        throw new Error(`sequence file ${file}: ${id} has ${JSON.stringify(value)}, not a sequence number`);
      this.reserved.set(id, value as number);
      this.next.set(id, (value as number) + 1);
    }
  }

  /** The next sequence number for a device (1 for a device never numbered). */
  take(deviceId: string): number {
    const seq = this.next.get(deviceId) ?? 1;
    if (seq > (this.reserved.get(deviceId) ?? 0)) {
      this.reserved.set(deviceId, Math.min(seq + this.block - 1, 0xffffffff));
      this.save();
    }
    this.next.set(deviceId, seq + 1);
    return seq;
  }

  private save(): void {
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, "w");
    try {
      writeSync(fd, JSON.stringify(Object.fromEntries(this.reserved)));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
  }
}
