import type { BatchSummary, BufferState } from "./state.ts";
import type { Statements } from "./statements.ts";

/**
 * How many delivered readings are kept to refuse late duplicates: acknowledged readings stay in the table (their
 * identity index is the one that refuses duplicates of waiting readings too) until this many ids lie between them
 * and the oldest waiting reading.
 */
export const DELIVERED_MEMORY = 200_000;

/** Delivered readings as the buffer's memory of what it already sent, trimmed at the low end of the table. */
export class DeliveredMemory {
  constructor(
    private readonly q: Statements,
    private readonly state: BufferState,
    private readonly size: number,
  ) {}

  /**
   * A batch is done (stored or refused by the hub): it stops waiting, its readings stay as delivered ones, and
   * delivered readings more than `size` ids below the oldest waiting reading are trimmed, about as many per batch
   * as it held, so no single transaction deletes a backlog's worth.
   */
  batchDone(seq: number, range: Pick<BatchSummary, "count" | "bytes">): void {
    const { q, state } = this;
    q.deleteBatch.run(seq);
    state.batches.delete(seq);
    state.depth -= range.count;
    state.bytes -= range.bytes;
    const lowestWaiting = (q.lowestBatch.get() as number | null) ?? state.sealedTo + 1;
    q.trim.run(lowestWaiting - this.size);
  }
}
