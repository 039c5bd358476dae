import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseBatchJson } from "./batch-json.ts";
import { parseJsonObject } from "./validate.ts";

const MAX = 4 * 1024 * 1024;
const head = '{"v":1,"gatewayId":"gw-1","epoch":"0123456789abcdef","seq":1,"prevHash":"00","createdAt":5';
const body = (readingsJson: string[]) => Buffer.from(`${head},"readings":[${readingsJson.join(",")}]}`, "utf8");

/** Both parsers on the same bytes, pieces as small as a few bytes so every body is split many times. */
function expectSame(bytes: Buffer, pieceBytes: number) {
  expect(parseBatchJson(bytes, MAX, pieceBytes)).toEqual(parseJsonObject(bytes, MAX));
}

describe("batch body JSON parsed in pieces", () => {
  it("gives what JSON.parse of the whole body gives, however the readings are split", () => {
    const readings = Array.from({ length: 50 }, (_, i) =>
      JSON.stringify({ kind: "rating", seq: i, txnId: `t${i}`, loc: { a: [1, { b: 2 }] } }),
    );
    for (const piece of [1, 7, 64, 1000, 64 * 1024]) expectSame(body(readings), piece);
    const parsed = parseBatchJson(body(readings), MAX, 10);
    expect(parsed.ok && (parsed.value.readings as unknown[]).length).toBe(50);
    expect(parsed.ok && Object.keys(parsed.value)).toEqual(["v", "gatewayId", "epoch", "seq", "prevHash", "createdAt", "readings"]);
  });

  it("handles hostile layouts the same way: boundaries inside strings, nested arrays, duplicate and missing keys, BOM, bad UTF-8", () => {
    const hostile = [
      body(['{"txnId":"},{"}', '{"a":"x\\"},{\\""}', '{"s":"\\\\"}', "{}"]),
      body(['{"a":[{},{}]}', '{"b":[{"c":1},{"c":2}]}']),
      body([]),
      Buffer.from(`${head},"readings":[ ]}`),
      Buffer.from(`${head},"readings":[{"a":1}],"readings":[]}`),
      Buffer.from(`{"readings":[1],"v":1,"readings":[{"a":1}]}`),
      Buffer.from(`{,"readings":[{"a":1}]}`),
      Buffer.from(`{"a":"x,"readings":[{"a":1}]}`),
      Buffer.from(`{"a":1,"readings":[{"a":1},]}`),
      Buffer.from(`{"a":1,"readings":[{"a":1},{"b":}]}`),
      Buffer.from(`{"a":1,"readings":[{"a":1}}]}`),
      Buffer.from(`{"a":1,"readings":[{"a":1}]} `),
      Buffer.from(`{"__proto__":{"x":1},"readings":[{"__proto__":{"y":2}}]}`),
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body(["{}"])]),
      Buffer.concat([Buffer.from(`${head},"readings":[{"s":"`), Buffer.from([0xc3, 0x28]), Buffer.from('"}]}')]),
      Buffer.from(`${head},"readings":[{"s":"中文"},{"t":"},{"}]}`, "utf8"),
      Buffer.from(`[1,"readings":[{}]}`),
      Buffer.from(`{"a":1},"readings":[{}]}`),
    ];
    for (const bytes of hostile) for (const piece of [1, 3, 8, 100]) expectSame(bytes, piece);
    expect(parseBatchJson(Buffer.alloc(MAX + 1, 0x20), MAX)).toMatchObject({ ok: false, error: { code: "oversized" } });
  });

  it("splits v2 rows where one row ends, however they nest, and gives what JSON.parse gives", () => {
    const rows = Array.from({ length: 40 }, (_, i) =>
      JSON.stringify(["presence", `kp${i}`, i, 5, 5, "summary", 30, null, 1, 2, 3, 4, [{ fromTs: 1, toTs: 2 }], "online"]),
    );
    for (const piece of [1, 7, 64, 1000]) expectSame(body(rows), piece);
    for (const bytes of [body(['["a","],["]', '[["x"],["y"]]', "[[],[]]", "[]"]), body(['["s","\\"]', '["t","中],[文"]'])])
      for (const piece of [1, 3, 8, 100]) expectSame(bytes, piece);
    const rowLike = fc.array(fc.oneof(fc.stringMatching(/^[[\],"a{}]{0,6}$/), fc.jsonValue()), { maxLength: 6 });
    fc.assert(
      fc.property(fc.array(rowLike, { maxLength: 20 }), fc.integer({ min: 1, max: 200 }), (list, piece) => {
        expectSame(body(list.map((r) => JSON.stringify(r))), piece);
      }),
      { numRuns: 200 },
    );
  });

  it("property: random readings (strings with braces, commas and quotes) parse as the whole body does", () => {
    const tricky = fc.stringMatching(/^[{},"\\a-z:[\] 中]{0,12}$/);
    const reading = fc.dictionary(fc.oneof(fc.constantFrom("kind", "txnId", "s", "__proto__"), tricky), fc.oneof(tricky, fc.jsonValue()));
    fc.assert(
      fc.property(fc.array(reading, { maxLength: 20 }), fc.integer({ min: 1, max: 200 }), (readings, piece) => {
        expectSame(body(readings.map((r) => JSON.stringify(r))), piece);
      }),
      { numRuns: 200 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.integer({ min: 1, max: 50 }), (text, piece) => {
        expectSame(Buffer.from(`${head},"readings":[${text}]}`), piece);
      }),
      { numRuns: 200 },
    );
  });
});
