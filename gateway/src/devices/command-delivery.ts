import { type DeviceCommand, parseTopic } from "@supervision/firmware-protocols";
import type { DeviceAdapter } from "../adapters/adapter.ts";
import type { Outgoing } from "./commands.ts";

/** Delivers a planned device command over the link that serves the device. */
export function deliverCommand(message: Outgoing, serving: (deviceId: string) => DeviceAdapter | undefined): Promise<void> {
  const topic = parseTopic(message.topic);
  if (!topic.ok || topic.value.scope !== "dev" || topic.value.type !== "cmd") {
    return Promise.reject(new Error(`not a device command topic: ${message.topic}`));
  }
  const { deviceId, name } = topic.value;
  const adapter = serving(deviceId);
  if (!adapter) return Promise.reject(new Error(`no device link of this gateway serves device "${deviceId}"`));
  // The planner built the payload from the v1 command schemas.
  return adapter.send(deviceId, { name, payload: JSON.parse(message.payload) } as DeviceCommand);
}
