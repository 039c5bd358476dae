export { createIngestExtension, type IngestOptions } from "./extension.ts";
