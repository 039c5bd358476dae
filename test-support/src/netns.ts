import { spawn } from "node:child_process";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { networkInterfaces } from "node:os";
import type { Socket } from "node:net";
import type { ClientRequest } from "node:http";

/**
 * Loopback-only network namespaces for tests of clients that follow addresses a device hands them (ONVIF cameras,
 * WS-Discovery): the test files (`*.netns.ts`) run in a vitest of their own inside `unshare --net`, where only `lo`
 * exists, so a missed address can never leave the machine; and a guard fails them on any non-loopback connection
 * attempt even where the namespace would have refused it.
 */

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+|localhost)$/;

export const isLoopbackHost = (host: string): boolean => LOOPBACK.test(host.replace(/^\[|\]$/g, ""));

/** Throws unless this process sees no network interface but loopback. */
export function assertInLoopbackNamespace(): void {
  const names = Object.keys(networkInterfaces());
  const others = names.filter((n) => n !== "lo");
  if (others.length > 0 || !names.includes("lo"))
    throw new Error(
      `camera tests must run in a loopback-only network namespace (they see ${names.join(", ") || "no interface"}); run them through npm test, which starts them with unshare --net`,
    );
}

/** Records every HTTP request and socket connection attempt to a non-loopback address made while installed. */
export function installLoopbackGuard(): { violations: string[]; dispose(): void } {
  const violations: string[] = [];
  const onRequest = (message: unknown) => {
    const request = (message as { request: ClientRequest }).request;
    if (!isLoopbackHost(request.host)) violations.push(`http ${request.host}${request.path}`);
  };
  const onSocket = (message: unknown) => {
    const socket = (message as { socket: Socket }).socket;
    socket.on("connectionAttempt", (ip: string, port: number) => {
      if (!isLoopbackHost(ip)) violations.push(`tcp ${ip}:${port}`);
    });
  };
  subscribe("http.client.request.start", onRequest);
  subscribe("net.client.socket", onSocket);
  return {
    violations,
    dispose() {
      unsubscribe("http.client.request.start", onRequest);
      unsubscribe("net.client.socket", onSocket);
    },
  };
}

/**
 * Runs vitest on the given `*.netns.ts` files inside a new network namespace with only loopback up.
 * Needs root (CI and the project's machines run as root); resolves with the exit code and the output.
 */
export function runVitestInLoopbackNamespace(
  files: string[],
  opts: { cwd: string; timeoutMs?: number },
): Promise<{ code: number | null; output: string }> {
  if (process.getuid?.() !== 0)
    return Promise.reject(new Error("loopback namespace tests need root (unshare --net); run npm test as root, as CI does"));
  return new Promise((resolve, reject) => {
    // Multicast on lo too: WS-Discovery probes (239.255.255.250) reach the test's cameras and never leave the namespace.
    const script =
      'ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo && exec node node_modules/vitest/vitest.mjs run --config vitest.netns.config.ts "$@"';
    const child = spawn("unshare", ["--net", "--", "sh", "-c", script, "netns", ...files], {
      cwd: opts.cwd,
      env: { ...process.env, FORCE_COLOR: "0", NO_COLOR: "1", CI: "true" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 240_000);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot start unshare (util-linux) / ip (iproute2): ${error.message}`));
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output: output.replace(/\x1b\[[0-9;]*m/g, "") });
    });
  });
}
