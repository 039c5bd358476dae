import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { EvidenceStore } from "./evidence-store.ts";
import { authorization, sha256Hex } from "./snapshot.ts";

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "evidence-"));
  dirs.push(d);
  return d;
};
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
const jpeg = (n: number, size = 100) => Buffer.concat([Buffer.from([0xff, 0xd8]), Buffer.alloc(size - 4, n), Buffer.from([0xff, 0xd9])]);
const DAY = 86_400_000;

describe("Digest and Basic authorization", () => {
  it("answers RFC 2617's MD5 example with its published response", () => {
    const header = authorization(
      'Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
      "GET",
      "/dir/index.html",
      { username: "Mufasa", password: "Circle Of Life" },
      "0a4f113b",
    );
    expect(header).toContain('response="6629fae49393a05397450978507c4ef1"');
    expect(header).toContain("qop=auth, nc=00000001");
    expect(header).toContain('opaque="5ccc069c403ebaf9f0171e9517f40e41"');
  });

  it("answers RFC 7616's SHA-256 example with its published response", () => {
    const header = authorization(
      'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"',
      "GET",
      "/dir/index.html",
      { username: "Mufasa", password: "Circle of Life" },
      "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    );
    expect(header).toContain('response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"');
  });

  it("Basic, and a clear error for an algorithm it does not speak", () => {
    expect(authorization('Basic realm="cam"', "GET", "/", { username: "admin", password: "pw" })).toBe(
      `Basic ${Buffer.from("admin:pw").toString("base64")}`,
    );
    expect(() => authorization('Digest realm="x", nonce="n", algorithm=SHA-512-256', "GET", "/", { username: "a" })).toThrow(
      /SHA-512-256.*MD5, SHA-256/,
    );
  });
});

describe("EvidenceStore", () => {
  it("keeps snapshots by hash, reads them back checked, and reports a changed file as tampered", () => {
    const dir = tmp();
    const store = new EvidenceStore(dir, { maxBytes: 10_000 });
    const ts = Date.now();
    const sha = store.put("cam-w01", ts, jpeg(1));
    expect(sha).toBe(sha256Hex(jpeg(1)));
    expect(store.get(sha)).toMatchObject({ deviceId: "cam-w01", ts, tampered: false, actualSha256: sha });
    writeFileSync(
      join(
        dir,
        readdirSync(dir).find((f) => f.endsWith(".jpg"))!,
      ),
      jpeg(2),
    );
    const reopened = new EvidenceStore(dir, { maxBytes: 10_000 });
    expect(reopened.get(sha)).toMatchObject({ tampered: true, sha256: sha, actualSha256: sha256Hex(jpeg(2)) });
    expect(reopened.get("0".repeat(64))).toBeUndefined();
  });

  it("drops snapshots past 30 days, and the oldest first when over its bound", () => {
    let now = 100 * DAY;
    const store = new EvidenceStore(tmp(), { maxBytes: 350, now: () => now });
    const a = store.put("cam-1", now - 31 * DAY, jpeg(1)); // already past retention: dropped at once
    expect(store.get(a)).toBeUndefined();
    const b = store.put("cam-1", now - 3 * DAY, jpeg(2));
    const c = store.put("cam-2", now - 2 * DAY, jpeg(3));
    const d = store.put("cam-1", now - 1 * DAY, jpeg(4));
    expect(store.list().map((s) => s.sha256)).toEqual([b, c, d]);
    expect(store.bytes()).toBe(300);
    const e = store.put("cam-1", now, jpeg(5)); // 400 bytes > 350: the oldest (b) goes
    expect(store.list().map((s) => s.sha256)).toEqual([c, d, e]);
    now += 28 * DAY + 1; // c is now 30 days and 1 ms old
    store.enforce();
    expect(store.list().map((s) => s.sha256)).toEqual([d, e]);
  });

  it("refuses a device id that cannot be a file name and ignores foreign files in its folder", () => {
    const dir = tmp();
    writeFileSync(join(dir, "notes.txt"), "x");
    writeFileSync(join(dir, ".123-cam-abc.jpg.tmp"), "half");
    const store = new EvidenceStore(dir, { maxBytes: 1000 });
    expect(store.list()).toEqual([]);
    expect(() => store.put("../../etc", 1, jpeg(1))).toThrow(/cannot keep a snapshot/);
  });
});
