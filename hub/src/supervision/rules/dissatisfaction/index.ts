import { ns } from "../../../influx/query.ts";
import { INFLUXQL, schemaPoint } from "../../../schema/index.ts";
import type { DayRule, Findings } from "../rule.ts";

/** Dissatisfied ratings: "to verify" until a supervisor decides; only verified ones cost points. See README.md. */
export const dissatisfaction: DayRule = {
  scope: "day",
  name: "dissatisfaction",
  deductionRules: ["dissatisfied_clerk", "dissatisfied_unit"],
  // Decisions are kept: only the ratings still waiting are the rule's to rewrite.
  replaces: [{ measurement: "dissatisfaction", span: "day", where: `${INFLUXQL.dissatisfaction.state} = 'to_verify'` }],
  async judge(ctx) {
    const [negativeRows, decisionRows] = await Promise.all([ctx.readings.negativeRatings(), ctx.readings.decisions()]);
    const { scoring } = ctx.settings;
    const findings: Required<Pick<Findings, "records" | "deductions">> = { records: [], deductions: [] };
    const decided = new Map(decisionRows.map((r) => [String(r.rating_id), r]));
    for (const r of negativeRows) {
      const id = `${r.device}:${r.seq}`;
      const decision = decided.get(id);
      if (!decision) {
        findings.records.push(
          schemaPoint(
            "dissatisfaction",
            ns(r.time.getTime()),
            {
              ...ctx.place,
              window: String(r.window ?? ""),
              department: String(r.department ?? ""),
              clerk: String(r.clerk ?? ""),
              state: "to_verify",
            },
            { rating_id: id, rating_seq: Number(r.seq), device: String(r.device), by: "" },
          ),
        );
      } else if (decision.state === "verified") {
        const unit = decision.fault === "unit";
        findings.deductions.push({
          subjectKind: unit ? "window_unit" : "clerk",
          subject: unit ? String(r.window) : String(r.clerk),
          rule: unit ? "dissatisfied_unit" : "dissatisfied_clerk",
          points: unit ? scoring.dissatisfiedUnit : scoring.dissatisfiedClerk,
          at: r.time.getTime(),
          reason: ctx.text.dissatisfiedVerified({ rating: id, by: String(decision.by) }),
        });
      }
    }
    return findings;
  },
};
