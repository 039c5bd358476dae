import type { DeviceCommand } from "@supervision/firmware-protocols";
import type { ReadingSink } from "../buffer/types.ts";

/**
 * A device adapter: one kind of device link (serial RS-485, ONVIF cameras, ...), in a folder of its own with a
 * README and a sample config, the way Telegraf keeps its input plugins. It turns what devices send into
 * validated readings committed to the sink, acknowledges devices only after the commit, and delivers commands.
 */
export interface DeviceAdapter {
  readonly name: string;
  start(sink: ReadingSink): Promise<void>;
  stop(): Promise<void>;
  /** True when this adapter serves the device (it is on one of its ports or cameras). */
  handles(deviceId: string): boolean;
  /** Delivers a command to one of its devices; rejects with a reason when the device cannot be reached. */
  send(deviceId: string, command: DeviceCommand): Promise<void>;
  /** Devices this adapter currently hears from. */
  online(): string[];
}
