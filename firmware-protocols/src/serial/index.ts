export * from "./frame.ts";
export * from "./payload.ts";
