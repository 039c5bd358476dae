/**
 * Where the hub's CPU goes per reading, stage by stage, in one process (no MQTT, no HTTP, no influxd): the bench's
 * 1,000-reading rating batches opened, checked and encoded as the ingest does, and beside each stage the way it was
 * done before (README: "Why the hub ratio ...", hub/src/ingest/README.md). No pass/fail; run it to steer.
 *
 * Uplink v2 (rows, PROTOCOL.md 4.2): openBatch is compared in this process; the whole batch is measured for the
 * envelope `--envelope` names, so compare two processes (`--envelope 1`, `--envelope 2`): a process that sees both
 * v1 and v2 readings (whose fields come in another order) runs every reading function on two shapes, slower for both.
 *
 *   npx tsx hub/bench/ingest-cpu.ts [--batches 60] [--envelope 1|2|3] [--help]
 */
import { parseArgs } from "node:util";
import {
  type CheckedReading,
  loadPrivateKey,
  loadPublicKey,
  openBatch,
  parseJsonObject,
  parseReading,
  parseReadingWithZod,
  type Reading,
  readingRow,
  signBatch,
  splitBatch,
} from "@supervision/firmware-protocols";
import { verify } from "node:crypto";
import { encodePoint, type Point } from "../src/influx/line-protocol.ts";
import { ReadingMemory } from "../src/ingest/arrivals.ts";
import { encodeBatch } from "../src/ingest/batch-readings.ts";
import { readingToPoint } from "../src/ingest/points.ts";
import { readingLine } from "../src/ingest/reading-lines.ts";
import { rating, testRegistry } from "../test/ingest-fixtures.ts";
import pino from "pino";

const { values: args } = parseArgs({
  options: {
    batches: { type: "string", default: "60" },
    envelope: { type: "string", default: "1" },
    help: { type: "boolean", default: false },
  },
});
if (args.help) {
  console.log(
    "usage: npx tsx hub/bench/ingest-cpu.ts [--batches N] [--envelope 1|2|3]   (CPU µs per reading of each ingest stage, in this process)",
  );
  process.exit(0);
}
const BATCHES = Number(args.batches);
const ENVELOPE = args.envelope === "3" ? 3 : args.envelope === "2" ? 2 : 1;
const PER_BATCH = 1000;
const ROUNDS = 5;

const { registry, privateKeyPem } = testRegistry();
for (let d = 0; d < 50; d++)
  registry.devices.set(`kp${d}`, { id: `kp${d}`, kind: "keypad", site: "hall1", window: "w1", heartbeatS: 60, scale: "four" });
const key = loadPublicKey(registry.gateways.get("gw1")?.publicKey as string);
const signingKey = loadPrivateKey(privateKeyPem);
const T0 = Date.now() - 86_400_000;
/** The bench's batch number `b` signed as uplink v1 (one object per reading), v2 (rows) or v3 (rows signed over their digest). */
function batchWire(b: number, envelope: 1 | 2 | 3): Buffer {
  const readings: Reading[] = Array.from({ length: PER_BATCH }, (_, i) =>
    rating(b * PER_BATCH + i, T0 + b * PER_BATCH + i, { deviceId: `kp${i % 50}` }),
  );
  const header = { gatewayId: "gw1", epoch: "0123456789abcdef", seq: b + 1, prevHash: "0".repeat(64), createdAt: T0 };
  if (envelope === 1) return signBatch({ v: 1, ...header, readings }, signingKey).wire;
  return signBatch({ v: envelope, ...header, layout: 1, readings: readings.map((r) => readingRow(r)!) }, signingKey).wire;
}
const wires = Array.from({ length: BATCHES }, (_, b) => batchWire(b, 1));
const wiresV2 = Array.from({ length: BATCHES }, (_, b) => batchWire(b, 2));
const open = (w: Buffer) => {
  const o = openBatch("gw1", w, () => key);
  if (!o.ok) throw new Error(o.error.message);
  return o.value.body;
};
const opened = wires.map(open);
const bodyBytes = wires.map((w) => {
  const parts = splitBatch(w);
  if (!parts.ok) throw new Error(parts.error.message);
  return parts.value;
});
// With --envelope 2 no v1 reading meets a reading function before the whole batch (see the head of this file).
const checked = ENVELOPE === 1 ? opened.map((b) => b.readings.map((r) => (parseReading(r) as { value: CheckedReading }).value)) : [];
const logger = pino({ level: "silent" });
const seen = new ReadingMemory(1_000_000);

/** CPU µs per reading of `fn` run once per batch, after a warm-up. */
function measure(fn: (batch: number) => unknown): number {
  for (let b = 0; b < BATCHES; b++) fn(b);
  const start = process.cpuUsage();
  for (let round = 0; round < ROUNDS; round++) for (let b = 0; b < BATCHES; b++) fn(b);
  const used = process.cpuUsage(start);
  return Number(((used.user + used.system) / (ROUNDS * BATCHES * PER_BATCH)).toFixed(2));
}

/**
 * What the hub does with a batch before its write, as it does it: opened, encoded with its manifest (keyed), its
 * bodies made, its new identities remembered (a memory as large as the hub's), 40 batches' bodies kept waiting for
 * InfluxDB (4 gateways × 10 in flight). As many batches as the other stages run, all different, so the memory fills as
 * in a run.
 */
function wholeBatches(envelope: 1 | 2 | 3): number {
  const count = ROUNDS * BATCHES;
  const batches = Array.from({ length: count }, (_, b) => batchWire(b, envelope));
  const memory = new ReadingMemory(1_000_000);
  const auditKey = Buffer.alloc(32, 7);
  const waiting: unknown[] = [];
  const start = process.cpuUsage();
  for (const wire of batches) {
    const o = openBatch("gw1", wire, () => key);
    if (!o.ok) throw new Error(o.error.message);
    const encoded = encodeBatch(o.value.body, registry, Date.now(), logger, memory, { hash: o.value.hash, key: auditKey });
    waiting.push(encoded.groups.bodies());
    if (waiting.length > 40) waiting.shift();
    memory.remember(encoded.arrivals);
  }
  const used = process.cpuUsage(start);
  return Number(((used.user + used.system) / (count * PER_BATCH)).toFixed(2));
}

const v1Stages = () => [
  { stage: "signature (Ed25519 over the body)", now: measure((b) => verify(null, bodyBytes[b]!.bodyBytes, key, bodyBytes[b]!.signature)) },
  {
    stage: "body JSON: in pieces (now) | whole (before)",
    now: measure((b) => openBatch("gw1", wires[b]!, () => key)),
    before: measure((b) => parseJsonObject(bodyBytes[b]!.bodyBytes, 8 << 20)),
    note: "now: openBatch in full (signature, hash, JSON, envelope); before: the JSON parse alone",
  },
  {
    stage: "reading checks: compiled (now) | zod (before)",
    now: measure((b) => opened[b]!.readings.forEach(parseReading)),
    before: measure((b) => opened[b]!.readings.forEach(parseReadingWithZod)),
  },
  {
    stage: "reading → line: readingLine (now) | readingToPoint + encodePoint (before)",
    now: measure((b) => checked[b]!.map((r) => readingLine(r, registry))),
    before: measure((b) => checked[b]!.map((r) => encodePoint(readingToPoint(r, registry) as Point))),
  },
  {
    stage: "lines → write body: pieces (now) | one string (before)",
    now: measure((b) => {
      const lines = checked[b]!.map((r) => `${readingLine(r, registry)}\n`);
      const pieces: string[] = [];
      for (let i = 0; i < lines.length; i += 250) pieces.push(lines.slice(i, i + 250).join(""));
      for (const p of pieces) Buffer.from(p);
    }),
    before: measure((b) => Buffer.from(checked[b]!.map((r) => readingLine(r, registry)).join("\n"))),
    note: "both include readingLine",
  },
  {
    stage: "encodeBatch (checks, slice, time, lines, pieces)",
    now: measure((b) => encodeBatch(opened[b]!, registry, Date.now(), logger, seen)),
  },
];
const rows = [
  ...(ENVELOPE === 1 ? v1Stages() : []),
  {
    stage: "openBatch: uplink v2, rows (now) | v1 (before)",
    now: measure((b) => openBatch("gw1", wiresV2[b]!, () => key)),
    before: measure((b) => openBatch("gw1", wires[b]!, () => key)),
    note: `a batch of ${wiresV2[0]!.length} bytes | ${wires[0]!.length}`,
  },
  {
    stage: `a whole batch (uplink v${ENVELOPE}): openBatch, encodeBatch, bodies; identities remembered, 40 batches waiting`,
    now: wholeBatches(ENVELOPE),
  },
];
console.log(`CPU µs per reading, ${BATCHES} batches of ${PER_BATCH} ratings, ${ROUNDS} rounds:`);
console.table(rows);
