export * from "./influxd.ts";
export * from "./ports.ts";
export * from "./mosquitto.ts";
