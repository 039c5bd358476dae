import { type ColumnOf, type Measurement, MEASUREMENTS } from "./measurements.ts";

/**
 * A measurement's names quoted for InfluxQL: `FROM` with its retention policy (`"raw"."signin"`), `NAME` alone
 * (`"signin"`, for DELETE and for queries of the default policy), and each tag and field (`"person"`). Queries
 * written with them name only what the schema declares: a misspelt column is a type error.
 */
export type QuotedNames<M extends Measurement> = { readonly FROM: string; readonly NAME: string } & {
  readonly [C in ColumnOf<M>]: string;
};

const quote = (name: string) => `"${name}"`;

function quoted(m: Measurement): Record<string, string> {
  const { policy, tags, fields } = MEASUREMENTS[m];
  const columns = Object.fromEntries([...tags, ...fields].map((c) => [c, quote(c)]));
  return { ...columns, FROM: `${quote(policy)}.${quote(m)}`, NAME: quote(m) };
}

/** Every measurement's quoted names: `` `SELECT ${signin.person} FROM ${signin.FROM}` `` with `const { signin } = INFLUXQL`. */
// The names are built from MEASUREMENTS itself, so each measurement gets exactly the columns its type lists.
export const INFLUXQL = Object.fromEntries((Object.keys(MEASUREMENTS) as Measurement[]).map((m) => [m, quoted(m)])) as unknown as {
  readonly [M in Measurement]: QuotedNames<M>;
};
