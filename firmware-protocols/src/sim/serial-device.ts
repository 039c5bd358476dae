import { SerialPort } from "serialport";
import type { DeviceCommand } from "../commands.ts";
import type { DeviceEvent } from "../events.ts";
import { COMMANDS, decodeCommandFrame, encodeEventFrame, encodeFrame, FrameDecoder, type Frame, NACK_REASONS } from "../serial/index.ts";

/**
 * RS-485 devices on one serial port, as their firmware behaves (PROTOCOL.md section 3): each answers a POLL to
 * its address with its oldest unacknowledged event, or NOTHING; keeps the event until the gateway's ACK;
 * acknowledges commands and keeps what it was told.
 */
export class SerialDeviceSimulator {
  private readonly port: SerialPort;
  private readonly decoder = new FrameDecoder();
  private readonly queues = new Map<number, DeviceEvent[]>();
  private readonly linkSeq = new Map<number, number>();
  private silence: NodeJS.Timeout | undefined;
  /** Commands received per address, newest last. */
  readonly received = new Map<number, DeviceCommand[]>();
  /** Event frames sent, counting retransmissions. */
  sent = 0;

  constructor(path: string, addresses: number[], baudRate = 19200) {
    for (const a of addresses) {
      this.queues.set(a, []);
      this.received.set(a, []);
    }
    this.port = new SerialPort({ path, baudRate, autoOpen: false });
    this.port.on("data", (chunk: Buffer) => {
      this.handle(this.decoder.push(chunk));
      clearTimeout(this.silence);
      this.silence = setTimeout(() => this.handle(this.decoder.end()), 5);
    });
  }

  open(): Promise<void> {
    return new Promise((resolve, reject) => this.port.open((error) => (error ? reject(error) : resolve())));
  }

  /** Queues an event at a device, as if it happened there. */
  enqueue(address: number, event: DeviceEvent): void {
    const queue = this.queues.get(address);
    if (!queue) throw new Error(`no simulated device at address ${address}`);
    queue.push(event);
  }

  /** One of its devices as the players drive it: events are queued and leave on the gateway's polls. */
  device(address: number): { publish(kind: DeviceEvent["kind"], event: Record<string, unknown>): Promise<void> } {
    return {
      publish: async (kind, event) => this.enqueue(address, { ...event, kind } as DeviceEvent),
    };
  }

  pending(address: number): number {
    return this.queues.get(address)?.length ?? 0;
  }

  /** Writes raw bytes on the line (noise, in tests). */
  writeRaw(bytes: Uint8Array): void {
    this.port.write(Buffer.from(bytes));
  }

  close(): Promise<void> {
    clearTimeout(this.silence);
    return new Promise((resolve) => (this.port.isOpen ? this.port.close(() => resolve()) : resolve()));
  }

  private handle(results: ReturnType<FrameDecoder["push"]>): void {
    for (const result of results) if (result.ok) this.onFrame(result.value);
  }

  private reply(address: number, command: Frame["command"], seq: number, payload: Uint8Array = new Uint8Array()): void {
    this.port.write(encodeFrame({ address, command, seq, payload }));
  }

  private onFrame(frame: Frame): void {
    const queue = this.queues.get(frame.address);
    if (!queue) return; // another device on the bus
    if (frame.command === COMMANDS.poll) {
      const event = queue[0];
      if (!event) return this.reply(frame.address, COMMANDS.nothing, frame.seq);
      const seq = ((this.linkSeq.get(frame.address) ?? 0) + 1) & 0xff;
      this.linkSeq.set(frame.address, seq);
      this.sent++;
      this.port.write(encodeEventFrame(event, frame.address, seq));
    } else if (frame.command === COMMANDS.ack) {
      if (frame.seq === this.linkSeq.get(frame.address)) queue.shift();
    } else if (frame.command === COMMANDS.nack) {
      // The event stays queued and goes again on the next poll.
    } else {
      const command = decodeCommandFrame(frame);
      if (!command.ok) return this.reply(frame.address, COMMANDS.nack, frame.seq, Uint8Array.of(NACK_REASONS.bad_payload));
      this.received.get(frame.address)!.push(command.value);
      this.reply(frame.address, COMMANDS.ack, frame.seq);
    }
  }
}
