// Crash-test child: appends readings as fast as it can and prints each one whose append resolved.
// The parent kills it with SIGKILL at a random moment and checks that every printed reading survived.
import { openBuffer } from "../index.ts";

const path = process.argv[2];
if (!path) throw new Error("usage: crash-writer.ts <db path>");
const buffer = openBuffer({ path, capacityBytes: 1024 * 1024 * 1024 });
let seq = 0;
const t0 = Date.now();
async function writer(device: string) {
  for (;;) {
    const s = seq++;
    await buffer.append({
      kind: "rating",
      deviceId: device,
      seq: s,
      ts: t0 + s,
      rxTs: t0 + s,
      windowId: "w1",
      outcome: "rated",
      scale: "four",
      key: 1,
      level: "satisfied",
    });
    process.stdout.write(`${device} ${s}\n`);
  }
}
for (let i = 0; i < 8; i++) void writer(`kp-${i}`);
