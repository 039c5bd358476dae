import type { KeyObject } from "node:crypto";
import { loadPublicKey, openBatch } from "@supervision/firmware-protocols";
import { type DeadLetter, deadLetterLine, lineMeasurement, summariseReasons } from "../influx/dead-letters.ts";
import type { Registry } from "../registry/schema.ts";
import { encodeBatch, type EncodedBatch } from "./batch-readings.ts";
import { batchChainPoint } from "./chain.ts";
import { type BatchHeader, checkChain, type GapWatch } from "./chain-check.ts";
import { type IntegrityKind, integrityAlertPoint, uplinkBatchPoint } from "./points.ts";
import { Rejection, rejectBatch } from "./rejection.ts";
import { addPoint, type IngestRuntime, storeAlert, withRetry } from "./runtime.ts";
import type { LineGroups } from "./writer.ts";

/** Measurements that hold a device's reading (the others are the hub's own records). */
const READING_MEASUREMENTS: ReadonlySet<string> = new Set(["rating", "signin", "motion", "heartbeat", "item_event", "queue_event"]);

/**
 * One gateway batch, from the wire to its ack: `openBatch` with the registry's public key, the readings encoded,
 * the chain checked against `uplink_batch`, the points written, and only then the `stored` ack.
 */
export class BatchIngest {
  /** Loaded public keys by PEM, so a key is parsed once, and again only when the registry changes it. */
  private readonly keys = new Map<string, KeyObject>();

  constructor(
    private readonly rt: IngestRuntime,
    private readonly gaps: GapWatch,
  ) {}

  private keyFor(registry: Registry) {
    return (gatewayId: string): KeyObject | undefined => {
      const pem = registry.gateways.get(gatewayId)?.publicKey;
      if (!pem) return undefined;
      let key = this.keys.get(pem);
      if (!key) {
        key = loadPublicKey(pem);
        this.keys.set(pem, key);
      }
      return key;
    };
  }

  /**
   * The batch opened and its readings encoded, the Rejection of a batch refused whole, or undefined for a replay of
   * a batch this process stored (acknowledged again here). Synchronous, and a function of its own, so the parsed body is garbage before
   * handle() awaits anything: held across the awaits (an async function keeps its locals), the thousand parsed
   * readings of every batch in flight were copied at every young-generation collection and then promoted, which cost
   * more than parsing them (hub/src/ingest/README.md).
   */
  private open(gatewayId: string, wire: Buffer, registry: Registry): { hash: string; encoded: EncodedBatch } | Rejection | undefined {
    const { rt } = this;
    const opened = openBatch(gatewayId, wire, this.keyFor(registry));
    if (!opened.ok) {
      const code = opened.error.code;
      if (code === "bad_signature" || code === "unknown_gateway") return new Rejection(code, code, opened.error.message);
      return new Rejection("malformed", "malformed", `${code}: ${opened.error.message}`);
    }
    const { hash } = opened.value;
    rt.counters.lastContact.set(gatewayId, rt.ctx.now());
    const batchKey = `${gatewayId}/${opened.value.body.epoch}/${opened.value.body.seq}`;
    if (rt.storedBatches.get(batchKey) === hash) {
      // Stored whole by this process (its write resolved): acknowledged again, nothing rewritten.
      rt.metrics.batches.inc({ result: "replay" });
      rt.counters.replays++;
      const { epoch, seq } = opened.value.body;
      rt.publishAck({ v: 1, gatewayId, epoch, seq, hash, status: "stored" });
      return undefined;
    }
    // The readings become lines before anything is awaited (kept across the chain lookup, thousands of parsed
    // readings survived into the old generation and cost more collecting than parsing). A replay rewrites identical
    // points (same keys and fields), which also repairs a half-finished write.
    const encoded = encodeBatch(opened.value.body, registry, rt.ctx.now(), rt.ctx.logger, rt.seenReadings, { hash, key: rt.auditKey });
    return { hash, encoded };
  }

  async handle(gatewayId: string, wire: Buffer): Promise<void> {
    const { rt } = this;
    const registry = rt.ctx.registry.current();
    const opened = this.open(gatewayId, wire, registry);
    if (opened === undefined) return;
    if (opened instanceof Rejection) return rejectBatch(rt, gatewayId, wire, opened);
    const { hash, encoded } = opened;
    const { header, groups, refused, alerts, arrivals, kept } = encoded;
    const raised: IntegrityKind[] = [];
    for (const [kind, detail] of alerts) {
      addAlert(groups, header, kind, detail);
      raised.push(kind);
    }

    // The chain by (epoch, seq): the stored copy of this seq and its neighbours, whatever the creation time says.
    const stored = await withRetry(rt, "chain lookup", () =>
      rt.chain.links(gatewayId, header.epoch, [header.seq - 1, header.seq, header.seq + 1]),
    );
    const sameSeq = stored.get(header.seq)?.hash;
    if (sameSeq !== undefined && sameSeq !== hash) {
      return rejectBatch(
        rt,
        gatewayId,
        wire,
        new Rejection("altered", "altered", `batch ${header.epoch}/${header.seq} was stored with hash ${sameSeq}; this copy has ${hash}`),
      );
    }
    const replay = sameSeq === hash;
    if (!replay) {
      const problem = checkChain(header, hash, stored.get(header.seq - 1), stored.get(header.seq + 1));
      if (problem) return rejectBatch(rt, gatewayId, wire, problem);
    }
    if (!replay && header.seq === 1) {
      const restarted = await withRetry(rt, "epoch lookup", () => rt.chain.hadOtherEpoch(gatewayId, header.epoch));
      if (restarted) {
        addAlert(groups, header, "chain_restart", `gateway started chain ${header.epoch}`);
        raised.push("chain_restart");
      }
    }
    // Refused readings kept for review; written with the batch, so a replay rewrites the same points.
    for (const letter of kept) groups.add("raw", deadLetterLine(letter, rt.ctx.now()));
    addPoint(groups, uplinkBatchPoint(header, hash));
    addPoint(groups, batchChainPoint(header, hash)); // policy chain: written last, once the rest is stored

    const { deadLetters } = await rt.writer.write(groups);
    rt.chain.remember(gatewayId, header.epoch, header.seq, { hash, prevHash: header.prevHash });
    rt.storedBatches.set(`${gatewayId}/${header.epoch}/${header.seq}`, hash);
    rt.seenReadings.remember(arrivals);
    const deadReadings = deadLetters.filter((l) => READING_MEASUREMENTS.has(lineMeasurement(l.line))).length;
    const count = header.readings - refused - deadReadings;
    rt.metrics.batches.inc({ result: replay ? "replay" : "stored" });
    if (replay) rt.counters.replays++;
    else {
      rt.counters.batchesStored++;
      rt.counters.batchesByEnvelope[`v${header.v}`] = (rt.counters.batchesByEnvelope[`v${header.v}`] ?? 0) + 1;
      rt.counters.readingsStored += count;
      rt.metrics.readings.inc(count);
      for (const kind of raised) rt.metrics.alerts.inc({ kind });
      for (const letter of kept) {
        rt.counters.deadLettersByReason[letter.reason] = (rt.counters.deadLettersByReason[letter.reason] ?? 0) + 1;
        rt.metrics.deadLetters.inc({ reason: letter.reason, source: "batch" });
      }
      if (deadLetters.length > 0) await alertDeadLetters(rt, header, deadLetters);
    }
    rt.publishAck({ v: 1, gatewayId, epoch: header.epoch, seq: header.seq, hash, status: "stored" });
    rt.ctx.events.emit("stored", { gatewayId, count });
    if (!replay && header.seq > 1 && !stored.has(header.seq - 1)) this.gaps.schedule(header);
  }
}

/** The integrity alert of a batch whose points InfluxDB will never store (they are dead letters now). */
function alertDeadLetters(rt: IngestRuntime, header: BatchHeader, letters: DeadLetter[]): Promise<void> {
  return storeAlert(rt, {
    gatewayId: header.gatewayId,
    kind: "dead_letter",
    epoch: header.epoch,
    seq: header.seq,
    detail: `${letters.length} point(s) of batch ${header.epoch}/${header.seq} can never be stored (${summariseReasons(letters)}); kept as dead letters`,
    atMs: header.createdAt,
    discriminator: header.seq,
  });
}

/** An alert about a batch, written with it: at its creation time and seq, so a replay rewrites the same point. */
function addAlert(groups: LineGroups, header: BatchHeader, kind: IntegrityKind, detail: string): void {
  const { gatewayId, epoch, seq, createdAt } = header;
  addPoint(groups, integrityAlertPoint({ gatewayId, kind, epoch, seq, detail, atMs: createdAt, discriminator: seq }));
}
