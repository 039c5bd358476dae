import { z } from "zod";
import type { DeviceKind } from "./kinds.ts";
import { MAX_SECRET_BYTES, SealedSecret } from "../sealed-secret.ts";

/**
 * A device link (serial bus, ONVIF, Frigate, ADMS terminal, ...): the fields a device of that link needs, in the
 * two forms they take. The registry form holds secrets as written by the supervision centre (in clear for a lab,
 * or a reference to an environment variable or file); the gateway form holds them sealed to the gateway
 * (sealed-secret.ts). Both come from one declaration, so adding a link is one file and one line in links/index.ts.
 */

/** Environment variable names as a shell accepts them. */
const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, "an environment variable name");

/** A secret as the registry holds it: the value in clear (a lab), or where the hub reads it at load. */
export const SecretSource = z.union([
  z.string().min(1).max(MAX_SECRET_BYTES),
  z.strictObject({ env: EnvName }),
  z.strictObject({ file: z.string().min(1).max(1024) }),
]);
export type SecretSource = z.infer<typeof SecretSource>;

export interface SecretSpec {
  optional: boolean;
}

type SecretFields<S extends Record<string, SecretSpec>, T extends z.ZodType> = {
  [K in keyof S]: S[K]["optional"] extends true ? z.ZodOptional<T> : T;
};

export interface LinkDefinition<Name extends string, F extends z.ZodRawShape, S extends Record<string, SecretSpec>> {
  /** The key the link's fields are written under in a device entry (`onvif:`, `serial:`...). */
  name: Name;
  /** Device kinds that may use this link. */
  kinds: readonly DeviceKind[];
  /** One line for the docs and for errors. */
  description: string;
  fields: F;
  secrets: S;
}

export interface DeviceLink<Name extends string, F extends z.ZodRawShape, S extends Record<string, SecretSpec>> {
  name: Name;
  kinds: readonly DeviceKind[];
  description: string;
  /** The names of the secret fields (sealed in the gateway form). */
  secretNames: readonly (keyof S & string)[];
  /** The form written in the registry. */
  registry: z.ZodObject<F & SecretFields<S, typeof SecretSource>, z.core.$strict>;
  /** The form a gateway receives, secrets sealed. */
  gateway: z.ZodObject<F & SecretFields<S, typeof SealedSecret>, z.core.$strict>;
}

function secretShape<S extends Record<string, SecretSpec>, T extends z.ZodType>(secrets: S, schema: T): SecretFields<S, T> {
  const shape: Record<string, z.ZodType> = {};
  for (const [name, spec] of Object.entries(secrets)) shape[name] = spec.optional ? schema.optional() : schema;
  return shape as SecretFields<S, T>;
}

export function defineLink<Name extends string, F extends z.ZodRawShape, S extends Record<string, SecretSpec>>(
  definition: LinkDefinition<Name, F, S>,
): DeviceLink<Name, F, S> {
  return {
    name: definition.name,
    kinds: definition.kinds,
    description: definition.description,
    secretNames: Object.keys(definition.secrets) as (keyof S & string)[],
    registry: z.strictObject({ ...definition.fields, ...secretShape(definition.secrets, SecretSource) }),
    gateway: z.strictObject({ ...definition.fields, ...secretShape(definition.secrets, SealedSecret) }),
  };
}

/** The context a link secret is sealed to: it opens only for this gateway, device and field. */
export function secretContext(gatewayId: string, deviceId: string, link: string, field: string): string {
  return `${gatewayId}/${deviceId}/${link}.${field}`;
}
