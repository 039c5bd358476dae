import { createHash } from "node:crypto";

/** Whether this hub copy judges `site` (several copies split the sites by a stable hash). */
export function ownsSite(siteId: string, partition: { index: number; count: number }): boolean {
  return createHash("sha256").update(siteId).digest().readUInt32BE(0) % partition.count === partition.index;
}
