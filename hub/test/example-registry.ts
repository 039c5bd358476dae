import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const EXAMPLE_REGISTRY = join(import.meta.dirname, "../../config/registry/example.yaml");

/** The example registry's identities with a password (gateway and devices), in file order. */
export const EXAMPLE_IDENTITIES = ["gw-hall-1", "kp-w1", "kp-w2", "term-1"] as const;
export type ExampleIdentity = (typeof EXAMPLE_IDENTITIES)[number];

/**
 * Writes config/registry/example.yaml into `dir` with a fresh password of this test run in place of each
 * `secretHash` (the example holds only hashes of passwords nobody kept, so a test that logs in needs its own).
 * Returns the passwords by gateway or device id.
 */
export function copyExampleRegistry(dir: string, file = "example.yaml"): Record<ExampleIdentity, string> {
  const secrets = Object.fromEntries(EXAMPLE_IDENTITIES.map((id) => [id, `test-${id}-${randomBytes(9).toString("base64url")}`])) as Record<
    ExampleIdentity,
    string
  >;
  let index = 0;
  const text = readFileSync(EXAMPLE_REGISTRY, "utf8").replace(/secretHash: "scrypt\$[^"]+"/g, () => {
    const id = EXAMPLE_IDENTITIES[index++];
    if (!id) throw new Error("config/registry/example.yaml has more secretHash entries than EXAMPLE_IDENTITIES names");
    return `secret: ${secrets[id]}`;
  });
  if (index !== EXAMPLE_IDENTITIES.length) {
    throw new Error(`config/registry/example.yaml has ${index} secretHash entries, EXAMPLE_IDENTITIES names ${EXAMPLE_IDENTITIES.length}`);
  }
  writeFileSync(join(dir, file), text);
  return secrets;
}
