import type { GatewayConfig } from "@supervision/firmware-protocols";
import { describe, expect, it } from "vitest";
import { WindowClerks } from "./window-clerks.ts";

const config = {
  people: [
    { id: "a", name: "A", post: "", windowId: "w1" },
    { id: "b", name: "B", post: "", windowId: "w1" },
    { id: "s", name: "Supervisor", post: "" },
  ],
} as unknown as GatewayConfig;

describe("who is signed in at a window", () => {
  it("follows sign-ins and sign-outs in device time, in whatever order they arrive", () => {
    const clerks = new WindowClerks(config);
    expect(clerks.at("w1", 100)).toBeUndefined(); // nothing seen yet: unknown, not "nobody"
    clerks.signin("a", "in", 100);
    clerks.signin("b", "in", 300); // b takes over the window
    clerks.signin("a", "out", 350); // a's late sign-out does not end b's session
    clerks.signin("b", "out", 400);
    clerks.signin("a", "in", 200); // arrives late (an offline terminal): placed by its time
    clerks.signin("s", "in", 150); // no window: ignored
    expect([50, 100, 199, 200, 300, 360, 400, 500].map((ts) => clerks.at("w1", ts))).toEqual([
      undefined,
      "a",
      "a",
      "a",
      "b",
      "b",
      null,
      null,
    ]);
  });
});
