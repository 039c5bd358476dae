export * from "./influxd.ts";
export * from "./ports.ts";
