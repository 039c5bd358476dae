export * from "./catalogue.ts";
export * from "./kinds.ts";
export * from "./link.ts";
export * from "./links/index.ts";
