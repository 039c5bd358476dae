import { type BatchAck, sha256Hex, splitBatch } from "@supervision/firmware-protocols";
import type { IntegrityKind } from "./points.ts";
import { type IngestRuntime, storeAlert } from "./runtime.ts";

export type RejectCode = NonNullable<BatchAck["code"]>;

/** Why a whole batch is refused: the code its ack carries and the kind of integrity alert it raises. */
export class Rejection extends Error {
  constructor(
    readonly code: RejectCode,
    readonly kind: IntegrityKind,
    message: string,
  ) {
    super(message);
  }
}

/** Refuses a batch: an integrity alert, then a `rejected` ack the gateway can match to its batch. */
export async function rejectBatch(rt: IngestRuntime, gatewayId: string, wire: Buffer, rejection: Rejection): Promise<void> {
  rt.counters.countRejection(rejection.code);
  rt.metrics.batches.inc({ result: rejection.code });
  // The body is not trusted here; it is only peeked at so the gateway can match the ack to its batch.
  const parts = splitBatch(wire);
  const bodyBytes = parts.ok ? parts.value.bodyBytes : wire.subarray(0, Math.min(wire.length, 1024));
  const peek = peekIdentity(bodyBytes);
  await storeAlert(rt, {
    gatewayId,
    kind: rejection.kind,
    epoch: peek.epoch,
    seq: peek.seq,
    detail: rejection.message,
    atMs: rt.ctx.now(),
    discriminator: rt.counters.nextRejection(),
  });
  rt.publishAck({
    v: 1,
    gatewayId,
    epoch: peek.epoch,
    seq: peek.seq,
    hash: sha256Hex(bodyBytes),
    status: "rejected",
    code: rejection.code,
    reason: rejection.message.slice(0, 512),
  });
}

/** epoch and seq of an untrusted body, for the ack of a rejected batch; defaults when they cannot be read. */
function peekIdentity(bodyBytes: Buffer): { epoch: string; seq: number } {
  try {
    const json = JSON.parse(bodyBytes.toString("utf8")) as { epoch?: unknown; seq?: unknown };
    const epoch = typeof json.epoch === "string" && /^[0-9a-f]{16}$/.test(json.epoch) ? json.epoch : "";
    const seq = Number.isSafeInteger(json.seq) && (json.seq as number) >= 1 ? (json.seq as number) : 1;
    return { epoch, seq };
  } catch {
    return { epoch: "", seq: 1 };
  }
}
