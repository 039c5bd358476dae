import { escape } from "influx";

/** A row of an InfluxQL answer: its columns, and `time` unless the query aggregated it away. */
export type Row = Record<string, unknown> & { time: { getTime(): number } };

/** A string value quoted and escaped for InfluxQL (`'site-1'`): never paste a value into a query without it. */
export const lit = (s: string): string => escape.stringLit(s);

/** A millisecond time as InfluxQL's nanoseconds (`time >= ${ns(from)}`), and as a point's `precision: "n"` timestamp. */
export const ns = (ms: number): string => `${ms}000000`;
