import { readFileSync } from "node:fs";
import { join } from "node:path";

/** The recorded ADMS traffic in `../fixtures/` (see its SOURCES.md), byte for byte. */
export function admsFixture(name: string): Buffer {
  return readFileSync(join(import.meta.dirname, "../fixtures", name));
}

/** A recorded request line: the file holds it with a line feed after it. */
export function admsRequestLine(name: string): string {
  return admsFixture(name).toString("latin1").replace(/\n$/, "");
}
