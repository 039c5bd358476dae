import { GENESIS_HASH, type ReceivedBody } from "@supervision/firmware-protocols";
import { Rejection } from "./rejection.ts";
import { type IngestRuntime, storeAlert } from "./runtime.ts";

/** What is kept of a batch body once its readings are encoded: the chain fields and how many readings it held. */
export type BatchHeader = Omit<ReceivedBody, "readings"> & { readings: number };

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Window around a batch's creation time in which its predecessor is looked up first; the gap re-check looks wider. */
export const CHAIN_LOOKUP_MS = 6 * HOUR;
export const GAP_LOOKUP_MS = 30 * DAY;

/** The chain link to the predecessor, when it is known; an unknown predecessor is judged later (GapWatch). */
export function checkChain(body: BatchHeader, prevStored: string | undefined): Rejection | undefined {
  if (body.seq === 1 && body.prevHash !== GENESIS_HASH)
    return new Rejection("altered", "altered", `batch ${body.epoch}/1 must start from the genesis hash`);
  if (prevStored !== undefined && prevStored !== body.prevHash)
    return new Rejection(
      "altered",
      "altered",
      `batch ${body.epoch}/${body.seq} names prevHash ${body.prevHash}; stored ${body.seq - 1} has ${prevStored}`,
    );
  return undefined;
}

/** Batches arrive out of order with several in flight: a gap is only a gap if the predecessor is still missing later. */
export class GapWatch {
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly rt: IngestRuntime,
    private readonly graceMs: number,
  ) {}

  /** Raises a `gap` alert if the batch's predecessor is still not stored after the grace period. */
  schedule(body: BatchHeader): void {
    const { rt } = this;
    const timer = setTimeout(async () => {
      this.timers.delete(timer);
      try {
        const prev = await rt.chain.hashes(body.gatewayId, body.epoch, [body.seq - 1], body.createdAt, GAP_LOOKUP_MS);
        if (prev.has(body.seq - 1)) return;
        await storeAlert(rt, {
          gatewayId: body.gatewayId,
          kind: "gap",
          epoch: body.epoch,
          seq: body.seq,
          detail: `batch ${body.seq - 1} of chain ${body.epoch} is missing before batch ${body.seq}`,
          atMs: body.createdAt,
          discriminator: body.seq,
        });
      } catch (e) {
        if (!rt.stopping()) rt.ctx.logger.warn({ err: (e as Error).message, gateway: body.gatewayId }, "gap check failed");
      }
    }, this.graceMs);
    this.timers.add(timer);
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
