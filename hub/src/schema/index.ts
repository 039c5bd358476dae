/** The InfluxDB schema of hub/SCHEMA.md: measurement, tag and field names, and typed helpers that use only them. */
export {
  type ColumnOf,
  type FieldOf,
  type Measurement,
  MEASUREMENT,
  MEASUREMENTS,
  type MeasurementSchema,
  measurementsIn,
  POLICIES,
  type Policy,
  type SitedMeasurement,
  type TagOf,
} from "./measurements.ts";
export { INFLUXQL, type QuotedNames } from "./influxql.ts";
export { type FieldValue, type SchemaPoint, schemaPoint } from "./point.ts";
