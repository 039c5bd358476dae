import { describe, expect, it } from "vitest";
import { parseMotionNotification, plainTopic } from "./motion-notification.ts";

/** A notification in the shape the `onvif` package hands over (its linerased XML). */
const note = (topic: unknown, items: unknown, attrs: Record<string, unknown> = {}) => ({
  subscriptionReference: { address: "http://127.0.0.1:1/onvif/pullpoint/1" },
  topic: { _: topic, $: { Dialect: "http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet" } },
  message: {
    message: {
      $: { UtcTime: new Date("2026-12-02T02:00:00Z"), ...attrs },
      source: { simpleItem: { $: { Name: "Rule", Value: "000" } } },
      data: { simpleItem: items },
    },
  },
});

describe("parseMotionNotification", () => {
  it('reads IsMotion, Pelco\'s Name="Value" and MotionAlarm State, with the property operation and time', () => {
    const cases: [unknown, boolean][] = [
      [note("tns1:RuleEngine/CellMotionDetector/Motion", { $: { Name: "IsMotion", Value: true } }, { PropertyOperation: "Changed" }), true],
      [note("\n  tns1:RuleEngine/CellMotionDetector/Motion\n ", { $: { Name: "IsMotion", Value: false } }), false],
      [
        note("tns1:RuleEngine/CellMotionDetector/Motion", { $: { Name: "Value", Value: "true" } }, { PropertyOperation: "Initialized" }),
        true,
      ],
      [note("tns1:VideoSource/MotionAlarm", [{ $: { Name: "Other", Value: 3 } }, { $: { Name: "State", Value: 0 } }]), false],
      [note("tns1:VideoSource/MotionAlarm", { $: { Name: "State", Value: 1 } }), true],
    ];
    for (const [raw, motion] of cases) {
      const parsed = parseMotionNotification(raw);
      expect(parsed.ok && parsed.value?.motion).toBe(motion);
    }
    const first = parseMotionNotification(cases[0]![0]);
    expect(first).toEqual({
      ok: true,
      value: {
        motion: true,
        cameraTime: Date.parse("2026-12-02T02:00:00Z"),
        operation: "Changed",
        topic: "RuleEngine/CellMotionDetector/Motion",
      },
    });
    const initial = parseMotionNotification(cases[2]![0]);
    expect(initial.ok && initial.value?.operation).toBe("Initialized");
  });

  it("ignores topics that are not motion", () => {
    expect(parseMotionNotification(note("tns1:VideoSource/ImageTooDark/AnalyticsService", { $: { Name: "State", Value: true } }))).toEqual({
      ok: true,
      value: null,
    });
    expect(parseMotionNotification(note("tns1:Device/Trigger/DigitalInput", { $: { Name: "LogicalState", Value: true } }))).toEqual({
      ok: true,
      value: null,
    });
  });

  it("refuses malformed, unknown and hostile shapes with a reason, never throws", () => {
    const bad: [unknown, RegExp][] = [
      [null, /not an object/],
      ["<xml/>", /not an object/],
      [[], /not an object/],
      [{ topic: 42 }, /no topic/],
      [{ topic: { _: "x".repeat(600) } }, /longer than 512/],
      [{ topic: "tns1:VideoSource/MotionAlarm" }, /without a tt:Message/],
      [note("tns1:VideoSource/MotionAlarm", { $: { Name: "IsMotion", Value: true } }), /no State data item/],
      [note("tns1:RuleEngine/CellMotionDetector/Motion", undefined), /no IsMotion or Value/],
      [note("tns1:RuleEngine/CellMotionDetector/Motion", { $: { Name: "IsMotion", Value: "maybe" } }), /"maybe", not true or false/],
      [note("tns1:RuleEngine/CellMotionDetector/Motion", { $: { Name: "IsMotion", Value: 7 } }), /not true or false/],
      [note("tns1:RuleEngine/CellMotionDetector/Motion", [null, "x", { $: null }]), /no IsMotion/],
      [
        {
          topic: { _: "tns1:VideoSource/MotionAlarm" },
          message: { message: { data: { simpleItem: { $: { Name: "State", Value: { __proto__: { polluted: true } } } } } } },
        },
        /not true or false/,
      ],
    ];
    for (const [raw, reason] of bad) {
      const parsed = parseMotionNotification(raw);
      expect(parsed.ok, JSON.stringify(raw)?.slice(0, 80)).toBe(false);
      if (!parsed.ok) expect(parsed.error).toMatch(reason);
    }
  });

  it("keeps a notification without UtcTime (the gateway's receive time is used)", () => {
    const raw = note("tns1:VideoSource/MotionAlarm", { $: { Name: "State", Value: true } }, { UtcTime: "not a time" });
    const parsed = parseMotionNotification(raw);
    expect(parsed.ok && parsed.value?.cameraTime).toBeUndefined();
  });

  it("strips namespace prefixes from every topic segment", () => {
    expect(plainTopic(" tns1:RuleEngine/tns1:CellMotionDetector/Motion ")).toBe("RuleEngine/CellMotionDetector/Motion");
  });
});
