// The gateway side of the drain benchmark, in its own process as on a real gateway box: drains the buffer at
// argv[2] to the hub at argv[3], signing with the key in argv[4]; prints progress lines and "drained <ms> <cpu s>".
import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import { loadPrivateKey } from "@supervision/firmware-protocols";
import pino from "pino";
import { openBuffer, Uplink } from "@supervision/gateway";

const [path, hubUrl, keyFile, batch, inFlight] = process.argv.slice(2);
if (!path || !hubUrl || !keyFile) throw new Error("usage: drain-gateway.ts <buffer.db> <hub url> <key.pem> <batch> <in flight>");
const buffer = openBuffer({ path, capacityBytes: 4 * 1024 * 1024 * 1024 });
const total = buffer.stats().depth;
const uplink = new Uplink({
  outbox: buffer,
  hubUrl,
  gatewayId: "gw1",
  privateKey: loadPrivateKey(readFileSync(keyFile, "utf8")),
  batchMaxReadings: Number(batch),
  maxInFlight: Number(inFlight),
  dataDir: dirname(path),
  logger: pino({ level: "silent" }),
});
const started = performance.now();
const cpu = process.cpuUsage();
uplink.start();
while (buffer.stats().depth > 0) {
  await new Promise((r) => setTimeout(r, 500));
  console.log(`progress ${total - buffer.stats().depth} ${total}`);
}
const used = process.cpuUsage(cpu);
console.log(`drained ${Math.round(performance.now() - started)} ${(used.user + used.system) / 1e6}`);
await uplink.stop();
buffer.close();
