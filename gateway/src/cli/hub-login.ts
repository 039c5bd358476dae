import mqtt from "mqtt";
import type { Settings } from "../settings/settings.ts";
import { type HubTls, HubTlsError, readHubTls } from "../uplink/hub-tls.ts";

/** What a real MQTT CONNECT to the hub with this gateway's credentials gave. */
export type HubLoginResult =
  { ok: true } | { ok: false; reason: "unreachable" | "refused" | "tls" | "no-answer" | "no-password" | "tls-file"; detail: string };

/**
 * Logs in to the hub's broker exactly as the uplink does (username, password, CA, client certificate), then leaves: the proof that the
 * credentials work, not only that the port answers. Its own client id, so a running gateway's session is not taken
 * over; no will, so nothing is published.
 */
export function checkHubLogin(settings: Settings, timeoutMs = 12_000): Promise<HubLoginResult> {
  const username = settings.hub.username ?? settings.gatewayId;
  if (settings.hub.password === undefined)
    return Promise.resolve({
      ok: false,
      reason: "no-password",
      detail: `hub.password is not set (the hub's broker knows gateway "${username}" by its secret)`,
    });
  let tls: HubTls | undefined;
  try {
    tls = readHubTls(settings.hub);
  } catch (error) {
    if (!(error instanceof HubTlsError)) throw error;
    return Promise.resolve({ ok: false, reason: "tls-file", detail: error.message });
  }
  return new Promise((resolve) => {
    const client = mqtt.connect(settings.hub.url, {
      clientId: `gw-${settings.gatewayId}-doctor-${process.pid}`,
      username,
      password: settings.hub.password,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: timeoutMs,
      protocolVersion: 4,
      ...tls,
    });
    let settled = false;
    const finish = (result: HubLoginResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.end(true);
      resolve(result);
    };
    const timer = setTimeout(() => finish({ ok: false, reason: "no-answer", detail: `no CONNACK within ${timeoutMs} ms` }), timeoutMs);
    client.once("connect", () => finish({ ok: true }));
    client.once("error", (error: Error & { code?: string | number }) => {
      const message = error.message;
      if (error.code === 4 || error.code === 5 || /bad user ?name or password|not authori[sz]ed/i.test(message))
        finish({ ok: false, reason: "refused", detail: message });
      else if (
        /certificate|self[- ]signed|SSL|TLS|wrong version number|unable to verify/i.test(message) ||
        String(error.code).startsWith("ERR_TLS") ||
        String(error.code).includes("CERT")
      )
        finish({ ok: false, reason: "tls", detail: message });
      else finish({ ok: false, reason: "unreachable", detail: message });
    });
    client.once("close", () =>
      finish({
        ok: false,
        reason: "no-answer",
        detail: "the hub closed the connection without answering the MQTT CONNECT (plain MQTT to a TLS port, or not an MQTT broker?)",
      }),
    );
  });
}
