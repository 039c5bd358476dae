import type { FieldOf, Measurement, TagOf } from "./measurements.ts";

export type FieldValue = number | string | boolean;

/** A point as the `influx` client writes it (structurally its `IPoint`), for one measurement of the schema. */
export interface SchemaPoint<M extends Measurement = Measurement> {
  measurement: M;
  timestamp: string;
  tags: Record<string, string>;
  fields: Record<string, FieldValue>;
}

/**
 * A point of measurement `m`, with tags and fields the schema declares for it (a typo is a type error). InfluxDB
 * refuses empty tag values, so an unknown tag (undefined or "") is left out; undefined fields are left out too.
 */
export function schemaPoint<M extends Measurement>(
  m: M,
  timestamp: string,
  tags: { [T in TagOf<M>]?: string | undefined },
  fields: { [F in FieldOf<M>]?: FieldValue | undefined },
): SchemaPoint<M> {
  const keptTags: Record<string, string> = {};
  for (const [k, v] of Object.entries(tags) as [string, string | undefined][]) if (v !== undefined && v !== "") keptTags[k] = v;
  const keptFields: Record<string, FieldValue> = {};
  for (const [k, v] of Object.entries(fields) as [string, FieldValue | undefined][]) if (v !== undefined) keptFields[k] = v;
  return { measurement: m, timestamp, tags: keptTags, fields: keptFields };
}
