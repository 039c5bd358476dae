import { hashSecret } from "@supervision/firmware-protocols";
import type { CliCommand } from "./command.ts";

const HELP = `Usage: hub hash-secret <secret>

Prints the scrypt hash of a device or gateway secret, for "secretHash" in the registry
(so the clear secret never has to be stored on the hub).`;

export const hashSecretCommand: CliCommand = {
  name: "hash-secret",
  summary: "print the scrypt hash of a secret for the registry's secretHash",
  async run(args) {
    if (args.includes("--help") || args.includes("-h")) {
      console.log(HELP);
      return 0;
    }
    if (args.length !== 1 || args[0] === "") {
      console.error(`hub hash-secret: expected exactly one secret.\n\n${HELP}`);
      return 2;
    }
    console.log(hashSecret(args[0] as string));
    return 0;
  },
};
