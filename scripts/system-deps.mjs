#!/usr/bin/env node
// Makes sure the Debian packages a command needs are present: installs them with apt-get when
// running as root, otherwise stops with the exact command to run. Usage: system-deps.mjs start|test|bench|faults|cluster
import { spawnSync } from "node:child_process";

const NEEDS = {
  // binary -> Debian package
  // ffmpeg: the gateway's live view; python3-gi and GStreamer: the demo camera's RTSP stream (system up, started
  // without npm start, runs without them and says so).
  start: {
    influxd: "influxdb",
    ffmpeg: "ffmpeg",
    "/usr/lib/python3/dist-packages/gi/__init__.py": "python3-gi",
    "/usr/lib/x86_64-linux-gnu/girepository-1.0/GstRtspServer-1.0.typelib": "gir1.2-gst-rtsp-server-1.0",
    "/usr/lib/x86_64-linux-gnu/gstreamer-1.0/libgstvideotestsrc.so": "gstreamer1.0-plugins-base",
    "/usr/lib/x86_64-linux-gnu/gstreamer-1.0/libgstrtp.so": "gstreamer1.0-plugins-good",
    "/usr/lib/x86_64-linux-gnu/gstreamer-1.0/libgstx264.so": "gstreamer1.0-plugins-ugly",
  },
  test: {
    influxd: "influxdb",
    socat: "socat",
    mosquitto_pub: "mosquitto-clients",
    mosquitto: "mosquitto",
    openssl: "openssl",
    ip: "iproute2",
    unshare: "util-linux",
    chromium: "chromium",
    // The bulletin and the pages are Chinese: without a CJK font Chromium prints boxes.
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc": "fonts-wqy-microhei",
    // the fault matrix's CI run: libfaketime steps the gateway's clock
    faketime: "faketime",
    // docker/make-env.sh (scrypt from hashlib), run by the Docker stack's test
    python3: "python3",
    // camera live view: ffmpeg passes H.264 through; the RTSP test source is GStreamer's RTSP server driven by python3-gi
    ffmpeg: "ffmpeg",
    "/usr/lib/python3/dist-packages/gi/__init__.py": "python3-gi",
    "/usr/lib/x86_64-linux-gnu/girepository-1.0/GstRtspServer-1.0.typelib": "gir1.2-gst-rtsp-server-1.0",
    "/usr/lib/x86_64-linux-gnu/gstreamer-1.0/libgstvideotestsrc.so": "gstreamer1.0-plugins-base",
    "/usr/lib/x86_64-linux-gnu/gstreamer-1.0/libgstrtp.so": "gstreamer1.0-plugins-good",
    "/usr/lib/x86_64-linux-gnu/gstreamer-1.0/libgstx264.so": "gstreamer1.0-plugins-ugly",
    // the RabbitMQ cluster of system/cluster (hub copies sharing a quorum queue)
    "/usr/lib/rabbitmq/bin/rabbitmq-server": "rabbitmq-server",
  },
  // the scale bench's two-copies phase runs on a three-node RabbitMQ cluster
  bench: {
    influxd: "influxdb",
    mosquitto_pub: "mosquitto-clients",
    mosquitto: "mosquitto",
    ffmpeg: "ffmpeg",
    "/usr/lib/rabbitmq/bin/rabbitmq-server": "rabbitmq-server",
  },
  // npm run cluster: a RabbitMQ cluster on loopback (system/cluster)
  cluster: { "/usr/lib/rabbitmq/bin/rabbitmq-server": "rabbitmq-server" },
  // npm run faults / soak: libfaketime steps the gateway's clock (the faketime package pulls in libfaketime).
  faults: { influxd: "influxdb", mosquitto_pub: "mosquitto-clients", mosquitto: "mosquitto", faketime: "faketime" },
};

const purpose = process.argv[2] ?? "test";
const needs = NEEDS[purpose];
if (!needs) {
  console.error(`usage: system-deps.mjs ${Object.keys(NEEDS).join("|")}`);
  process.exit(2);
}

// A binary on the usual paths, or a file named by its absolute path (a font).
const has = (bin) =>
  bin.startsWith("/")
    ? spawnSync("test", ["-e", bin]).status === 0
    : ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/bin", "/sbin"].some((d) => spawnSync("test", ["-x", `${d}/${bin}`]).status === 0);
const missing = [
  ...new Set(
    Object.entries(needs)
      .filter(([bin]) => !has(bin))
      .map(([, pkg]) => pkg),
  ),
];
if (missing.length === 0) process.exit(0);

const command = `apt-get update && apt-get install -y --no-install-recommends ${missing.join(" ")}`;
if (process.getuid?.() !== 0) {
  console.error(`Missing system packages for "npm ${purpose}": ${missing.join(", ")}.\nInstall them with:\n\n  sudo sh -c '${command}'\n`);
  process.exit(1);
}
console.log(`Installing system packages: ${missing.join(", ")} ...`);
const run = (cmd) => spawnSync("sh", ["-c", cmd], { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
if (run(command).status !== 0) {
  console.error(`Installing ${missing.join(", ")} failed; see the apt-get output above and run:\n\n  ${command}\n`);
  process.exit(1);
}
// Debian's packages start their services; the project runs its own instances on its own ports.
run("(systemctl disable --now influxdb mosquitto || service influxdb stop || service mosquitto stop) >/dev/null 2>&1 || true");
// rabbitmq-server also leaves an epmd on 4369; this project's clusters run their own on their own ports.
run(
  "(systemctl disable --now rabbitmq-server || (service rabbitmq-server stop; update-rc.d rabbitmq-server disable)) >/dev/null 2>&1 || true",
);
