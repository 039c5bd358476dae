import {
  COMMANDS,
  decodeEventFrame,
  type DeviceCommand,
  encodeCommandFrame,
  encodeFrame,
  type Frame,
  FrameDecoder,
  type GatewayDevice,
  NACK_REASONS,
  type SerialDecodeResult,
} from "@supervision/firmware-protocols";
import { SerialPort } from "serialport";
import type { ReadingSink } from "../../buffer/types.ts";
import type { SerialAdapterOptions } from "./serial-adapter.ts";

/** Polls after this many unanswered polls are spaced out; the device counts as offline. */
const OFFLINE_AFTER_MISSES = 3;
const COMMAND_RETRIES = 3;

interface BusDevice {
  id: string;
  address: number;
  misses: number;
  commands: { command: DeviceCommand; resolve: () => void; reject: (e: Error) => void; tries: number }[];
}

/**
 * One RS-485 port with the gateway as bus master: polls each address in turn, commits an event before its ACK frame,
 * and sends queued commands in place of the next poll of their address.
 */
export class Bus {
  private readonly port: SerialPort;
  private readonly decoder = new FrameDecoder();
  private readonly devices: BusDevice[];
  private waiting: ((result: SerialDecodeResult | "timeout") => void) | undefined;
  private gapTimer: NodeJS.Timeout | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  private linkSeq = 0;

  constructor(
    private readonly path: string,
    devices: GatewayDevice[],
    private readonly sink: ReadingSink,
    private readonly opts: SerialAdapterOptions,
  ) {
    this.devices = devices.map((d) => ({ id: d.id, address: d.serial!.address, misses: 0, commands: [] }));
    this.port = new SerialPort({ path, baudRate: opts.portBaudRates?.[path]?.baudRate ?? opts.baudRate ?? 19200, autoOpen: false });
    this.port.on("data", (chunk: Buffer) => {
      this.deliver(this.decoder.push(chunk));
      clearTimeout(this.gapTimer);
      this.gapTimer = setTimeout(() => this.deliver(this.decoder.end()), opts.gapMs ?? 5);
    });
    this.port.on("error", (error) => opts.logger.warn({ port: path, err: error.message }, "serial port error"));
  }

  device(id: string): BusDevice | undefined {
    return this.devices.find((d) => d.id === id);
  }

  online(): string[] {
    return this.devices.filter((d) => d.misses < OFFLINE_AFTER_MISSES).map((d) => d.id);
  }

  async open(): Promise<void> {
    await new Promise<void>((resolve, reject) =>
      this.port.open((error) =>
        error
          ? reject(
              new Error(
                `cannot open serial port ${this.path}: ${error.message}; check the device path in the registry and that the gateway's user is in group dialout`,
              ),
            )
          : resolve(),
      ),
    );
    this.running = true;
    this.loop = this.run();
  }

  async close(): Promise<void> {
    this.running = false;
    this.waiting?.("timeout");
    await this.loop;
    clearTimeout(this.gapTimer);
    await new Promise<void>((resolve) => (this.port.isOpen ? this.port.close(() => resolve()) : resolve()));
    for (const d of this.devices) for (const c of d.commands.splice(0)) c.reject(new Error("serial adapter stopped"));
  }

  send(deviceId: string, command: DeviceCommand): Promise<void> {
    return new Promise((resolve, reject) => this.device(deviceId)!.commands.push({ command, resolve, reject, tries: 0 }));
  }

  private deliver(results: SerialDecodeResult[]): void {
    for (const r of results) {
      if (r.ok || r.error.code === "bad_crc" || r.error.code === "unknown_command") this.waiting?.(r);
      // bad_start / truncated between frames is line noise: the poll times out and is repeated.
    }
  }

  private nextSeq(): number {
    this.linkSeq = (this.linkSeq + 1) & 0xff;
    return this.linkSeq;
  }

  private write(bytes: Buffer): Promise<SerialDecodeResult | "timeout"> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish("timeout"), (this.opts.replyTimeoutMs ?? 50) + (this.opts.gapMs ?? 5) * 2);
      const finish = (r: SerialDecodeResult | "timeout") => {
        clearTimeout(timer);
        this.waiting = undefined;
        resolve(r);
      };
      this.waiting = finish;
      this.port.write(bytes);
    });
  }

  private async run(): Promise<void> {
    let round = 0;
    while (this.running) {
      round++;
      for (const device of this.devices) {
        if (!this.running) return;
        // An offline device is polled every tenth round only, so it does not slow the bus for the others.
        if (device.misses >= OFFLINE_AFTER_MISSES && round % 10 !== 0) continue;
        const command = device.commands[0];
        if (command) await this.sendCommand(device, command);
        else await this.poll(device);
      }
      if (this.devices.every((d) => d.misses >= OFFLINE_AFTER_MISSES)) await new Promise((r) => setTimeout(r, 20));
    }
  }

  private noteAnswer(device: BusDevice, answered: boolean): void {
    if (answered) {
      if (device.misses >= OFFLINE_AFTER_MISSES)
        this.opts.logger.info({ deviceId: device.id, port: this.path }, "serial device back online");
      device.misses = 0;
    } else if (++device.misses === OFFLINE_AFTER_MISSES)
      this.opts.logger.warn({ deviceId: device.id, port: this.path }, "serial device not answering polls: offline");
  }

  private async poll(device: BusDevice): Promise<void> {
    const reply = await this.write(
      encodeFrame({ address: device.address, command: COMMANDS.poll, seq: this.nextSeq(), payload: new Uint8Array() }),
    );
    if (reply === "timeout") return this.noteAnswer(device, false);
    this.noteAnswer(device, true);
    if (!reply.ok) {
      // A damaged reply: NACK it, and the device sends the same event again.
      this.port.write(
        encodeFrame({
          address: device.address,
          command: COMMANDS.nack,
          seq: 0,
          payload: Uint8Array.of(NACK_REASONS[reply.error.code === "bad_crc" ? "bad_crc" : "unknown_command"]),
        }),
      );
      return;
    }
    const frame = reply.value;
    if (frame.address !== device.address || frame.command === COMMANDS.nothing) return;
    await this.onEvent(device, frame);
  }

  private async onEvent(device: BusDevice, frame: Frame): Promise<void> {
    const rxTs = (this.opts.now ?? Date.now)();
    const source = `serial:${this.path}@${device.address}`;
    const decoded = decodeEventFrame(frame, device.id, { now: rxTs, retentionDays: this.opts.retentionDays });
    try {
      if (decoded.ok) {
        const { v: _v, ...event } = decoded.value;
        await this.sink.append({ ...event, rxTs });
      } else {
        this.opts.logger.info(
          { deviceId: device.id, code: decoded.error.code, reason: decoded.error.message },
          "serial event dead-lettered",
        );
        await this.sink.deadLetter({
          rxTs,
          source,
          deviceId: device.id,
          code: decoded.error.code,
          message: decoded.error.message,
          payload: frame.payload,
        });
      }
    } catch (error) {
      // Not committed (buffer full or disk failure): no ACK, the device keeps the event.
      this.opts.logger.warn({ deviceId: device.id, err: (error as Error).message }, "serial event not committed; not acknowledged");
      return;
    }
    // Committed (or dead-lettered: resending it could never succeed): acknowledge with the frame's link seq.
    this.port.write(encodeFrame({ address: device.address, command: COMMANDS.ack, seq: frame.seq, payload: new Uint8Array() }));
  }

  private async sendCommand(device: BusDevice, pending: BusDevice["commands"][number]): Promise<void> {
    const seq = this.nextSeq();
    const reply = await this.write(encodeCommandFrame(pending.command, device.address, seq));
    const acked = reply !== "timeout" && reply.ok && reply.value.command === COMMANDS.ack && reply.value.seq === seq;
    this.noteAnswer(device, reply !== "timeout");
    if (acked) {
      device.commands.shift();
      pending.resolve();
    } else if (++pending.tries >= COMMAND_RETRIES) {
      device.commands.shift();
      pending.reject(new Error(`${device.id} did not acknowledge the ${pending.command.name} command after ${COMMAND_RETRIES} tries`));
    }
  }
}
