export * from "./influxd.ts";
export * from "./ports.ts";
export * from "./mosquitto.ts";
export * from "./socat.ts";
export * from "./cpu.ts";
export * from "./contracts.ts";
export * from "./netns.ts";
export * from "./certs.ts";
