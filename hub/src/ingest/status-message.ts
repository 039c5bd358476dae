import { GatewayStatus } from "@supervision/firmware-protocols";
import { summariseReasons } from "../influx/dead-letters.ts";
import { gatewayHealthPoint } from "./points.ts";
import { addPoint, type IngestRuntime, storeAlert } from "./runtime.ts";
import { LineGroups } from "./writer.ts";

/** A gateway's status message as its `gateway_health` point; malformed, foreign or unknown ones are counted and ignored. */
export async function handleGatewayStatus(rt: IngestRuntime, gatewayId: string, payload: Buffer): Promise<void> {
  let json: unknown;
  try {
    json = JSON.parse(payload.toString("utf8"));
  } catch {
    json = undefined;
  }
  const status = GatewayStatus.safeParse(json);
  if (!status.success || status.data.gatewayId !== gatewayId || !rt.ctx.registry.current().gateways.has(gatewayId)) {
    rt.counters.countRejection("status");
    rt.ctx.logger.warn(
      { gateway: gatewayId, bytes: payload.length },
      "gateway status ignored: malformed, unknown gateway, or another gateway's topic",
    );
    return;
  }
  rt.counters.lastContact.set(gatewayId, rt.ctx.now());
  rt.ctx.events.emit("gatewayStatus", { gatewayId, state: status.data.state, configVersion: status.data.configVersion });
  const groups = new LineGroups({ source: "status", gatewayId });
  addPoint(groups, gatewayHealthPoint(status.data, rt.ctx.registry.current(), rt.ctx.now()));
  const { deadLetters } = await rt.writer.write(groups);
  if (deadLetters.length > 0)
    await storeAlert(rt, {
      gatewayId,
      kind: "dead_letter",
      epoch: "",
      seq: 0,
      detail: `gateway status can never be stored (${summariseReasons(deadLetters)}); kept as a dead letter`,
      atMs: rt.ctx.now(),
      discriminator: rt.counters.nextRejection(),
    });
}
