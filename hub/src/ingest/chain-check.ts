import { GENESIS_HASH, type ReceivedBody } from "@supervision/firmware-protocols";
import type { ChainLink } from "./chain.ts";
import { Rejection } from "./rejection.ts";
import { type IngestRuntime, storeAlert } from "./runtime.ts";

/** What is kept of a batch body once its readings are encoded: the chain fields and how many readings it held. */
export type BatchHeader = Omit<ReceivedBody, "readings"> & { readings: number };

/**
 * The batch's links to its stored neighbours: seq 1 starts from the genesis hash, the stored predecessor's hash is the
 * batch's prevHash, and a stored successor names this batch's hash. A re-signed batch slipped into a gap or ahead of
 * batches stored after it is refused here, whatever its creation time says. An unknown predecessor is judged later
 * (GapWatch).
 */
export function checkChain(
  body: BatchHeader,
  hash: string,
  prev: ChainLink | undefined,
  next: ChainLink | undefined,
): Rejection | undefined {
  if (body.seq === 1 && body.prevHash !== GENESIS_HASH)
    return new Rejection("altered", "altered", `batch ${body.epoch}/1 must start from the genesis hash`);
  if (prev !== undefined && prev.hash !== body.prevHash)
    return new Rejection(
      "altered",
      "altered",
      `batch ${body.epoch}/${body.seq} names prevHash ${body.prevHash}; stored ${body.seq - 1} has ${prev.hash}`,
    );
  if (next !== undefined && next.prevHash !== hash)
    return new Rejection(
      "altered",
      "altered",
      `batch ${body.epoch}/${body.seq} has hash ${hash}; stored ${body.seq + 1} names ${next.prevHash} as its predecessor`,
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
        const prev = await rt.chain.links(body.gatewayId, body.epoch, [body.seq - 1]);
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
