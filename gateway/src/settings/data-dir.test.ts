import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openDatabase } from "../buffer/schema.ts";
import { loadOrCreateKeys } from "../identity/keys.ts";
import { DataDirError, ensureWritableDataDir } from "./data-dir.ts";
import { parseSettings, withEnv } from "./settings.ts";

const dir = mkdtempSync(join(tmpdir(), "gw-data-dir-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the gateway's data folder, key file and secrets from the environment", () => {
  it("a data folder it cannot create is named with who runs and the fix, before SQLite says only 'unable to open'", () => {
    const file = join(dir, "a-file");
    writeFileSync(file, "");
    expect(() => ensureWritableDataDir(join(file, "gw-1"))).toThrow(DataDirError);
    expect(() => ensureWritableDataDir(join(file, "gw-1"))).toThrow(
      new RegExp(
        `cannot create the data folder ${join(file, "gw-1")} \\(ENOTDIR\\) as user .* \\(uid \\d+, gid \\d+\\): .*chown -R \\d+:\\d+`,
      ),
    );
    ensureWritableDataDir(join(dir, "fresh", "gw-1")); // made when missing
  });

  it("SqliteError 'unable to open database file' becomes a message naming the buffer's path and the fix", () => {
    const taken = join(dir, "buffer-is-a-folder.db");
    mkdirSync(taken);
    expect(() => openDatabase(taken)).toThrow(
      new RegExp(
        `cannot open the buffer ${taken} \\(unable to open database file\\): the folder .* must be writable by uid \\d+; fix the owner \\(chown\\) or set dataDir`,
      ),
    );
  });

  it("keyFile: the identity key read from a path outside dataDir (a read-only mount), refused when missing", () => {
    const made = loadOrCreateKeys(join(dir, "first"));
    const keyFile = join(dir, "first", "gateway-key.pem");
    const reused = loadOrCreateKeys(join(dir, "other-data"), keyFile);
    expect(reused.publicKeyPem).toBe(made.publicKeyPem);
    expect(() => loadOrCreateKeys(join(dir, "other-data"), join(dir, "nope.pem"))).toThrow(/keyFile .*nope\.pem does not exist/);
  });

  it("hub.password and http.token may come from GATEWAY_HUB_PASSWORD / GATEWAY_HTTP_TOKEN (the environment wins when set)", () => {
    const settings = parseSettings("gatewayId: gw-1\nhub:\n  password: from-the-file\n");
    expect(withEnv(settings, {}).hub.password).toBe("from-the-file");
    expect(withEnv(settings, { GATEWAY_HUB_PASSWORD: "" }).hub.password).toBe("from-the-file");
    expect(withEnv(settings, { GATEWAY_HUB_PASSWORD: "from-the-env", GATEWAY_HTTP_TOKEN: "a-token-of-16-chars-or-more" })).toMatchObject({
      hub: { password: "from-the-env" },
      http: { token: "a-token-of-16-chars-or-more" },
    });
  });
});
