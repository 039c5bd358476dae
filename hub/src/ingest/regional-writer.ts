import type { InfluxConnection } from "../influx/client.ts";
import type { LineWriter } from "../influx/line-writer.ts";
import type { InfluxRegions } from "../influx/regions.ts";
import { type LineGroups, PointWriter, type WriteOutcome, type WriterOptions } from "./writer.ts";

/** What the ingest's handlers write through: one PointWriter, or one per region (`RegionalWriter`). */
export interface IngestWriter {
  /** Resolves when every point is stored or dead-lettered; only then may the caller acknowledge. */
  write(lines: LineGroups): Promise<WriteOutcome>;
  /** Told by readers of the central database (chain lookups). */
  setInfluxState(up: boolean): void;
  readonly pendingPoints: number;
  /** False while any database the ingest writes to is unavailable. */
  readonly influxUp: boolean;
  /** Each database's state by region ("central" for the central one), when writing to several. */
  databases?(): Record<string, "up" | "down">;
  stop(): Promise<void>;
}

/**
 * The ingest's writer: one PointWriter into the hub's InfluxDB, or, with `influx.regions`, a RegionalWriter. This is
 * the ingest's only hook for InfluxDB by region: every unit of work names its gateway (`LineGroups.context`), and
 * the gateway's site names its region (`InfluxRegions.forGateway`).
 */
export function createIngestWriter(
  options: Omit<WriterOptions, "write">,
  /** The hub's one database (ctx.writeLines): every point goes there when no region has an InfluxDB of its own. */
  write: LineWriter,
  regions: InfluxRegions | undefined,
): IngestWriter {
  if (!regions?.split) return new PointWriter({ ...options, write });
  return new RegionalWriter(options, regions);
}

/**
 * One PointWriter per database, so a region whose InfluxDB is down holds back only its own sites' batches (their
 * writes retry, nothing of them is acknowledged) while the other regions' go on. A unit of a gateway whose site is in
 * a region with its own InfluxDB is written there, but for its `chain` policy (the batch's `batch_chain` point), which
 * goes to the central database after the rest is stored: the chain is what every hub copy reads to judge a replay,
 * and it says "stored" only once the region stored the batch. A gateway's batch is acknowledged only when both
 * writes resolved; a failure in either leaves it unacknowledged, the gateway sends it again, and the points' identities
 * make the second write harmless.
 */
export class RegionalWriter implements IngestWriter {
  private readonly writers = new Map<InfluxConnection, PointWriter>();
  private readonly down = new Set<PointWriter>();
  private readonly names = new Map<PointWriter, string>();

  constructor(
    private readonly options: Omit<WriterOptions, "write">,
    private readonly regions: InfluxRegions,
  ) {
    this.writerFor(regions.central);
  }

  private writerFor(connection: InfluxConnection): PointWriter {
    let writer = this.writers.get(connection);
    if (!writer) {
      const region = this.regions.regions().find(([, c]) => c === connection)?.[0] ?? "central";
      const created: PointWriter = new PointWriter({
        ...this.options,
        write: connection.writeLines,
        logger: this.options.logger.child({ region }),
        onInfluxState: (up) => {
          const before = this.influxUp;
          if (up) this.down.delete(created);
          else this.down.add(created);
          if (this.influxUp !== before) this.options.onInfluxState?.(this.influxUp);
        },
      });
      writer = created;
      this.writers.set(connection, writer);
      this.names.set(writer, region);
    }
    return writer;
  }

  async write(lines: LineGroups): Promise<WriteOutcome> {
    const target = this.regions.forGateway(lines.context.gatewayId);
    const central = this.writerFor(this.regions.central);
    if (target === this.regions.central) return central.write(lines);
    const chain = lines.take("chain");
    const regional = await this.writerFor(target).write(lines);
    if (!chain) return regional;
    const last = await central.write(chain);
    return { deadLetters: [...regional.deadLetters, ...last.deadLetters] };
  }

  setInfluxState(up: boolean): void {
    this.writerFor(this.regions.central).setInfluxState(up);
  }

  get pendingPoints(): number {
    let points = 0;
    for (const writer of this.writers.values()) points += writer.pendingPoints;
    return points;
  }

  get influxUp(): boolean {
    return this.down.size === 0;
  }

  databases(): Record<string, "up" | "down"> {
    return Object.fromEntries([...this.names].map(([writer, name]) => [name, this.down.has(writer) ? "down" : "up"]));
  }

  async stop(): Promise<void> {
    await Promise.all([...this.writers.values()].map((w) => w.stop()));
  }
}
