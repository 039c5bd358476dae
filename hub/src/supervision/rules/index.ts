import { attendance } from "./attendance/index.ts";
import { dissatisfaction } from "./dissatisfaction/index.ts";
import { equipment } from "./equipment/index.ts";
import { items } from "./items/index.ts";
import type { Rule } from "./rule.ts";
import { satisfaction } from "./satisfaction/index.ts";
import { sitePresence } from "./site-presence/index.ts";
import { unattended } from "./unattended/index.ts";

/**
 * The supervision rules, one line each, in the order their findings are written and announced. A new rule is a
 * folder beside these (README.md + index.ts exporting a `Rule`) and one line here.
 */
// prettier-ignore
export const RULES: readonly Rule[] = [
  attendance,
  sitePresence,
  unattended,
  dissatisfaction,
  satisfaction,
  equipment,
  items,
];
