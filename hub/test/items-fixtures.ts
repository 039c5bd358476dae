/** A hall with approval items on the Qingming 2026 calendar, for the items tests; item events as readings. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { localTimeToUtc, type Reading } from "@supervision/firmware-protocols";
import { loadRegistry } from "../src/registry/loader.ts";
import type { Registry } from "../src/registry/schema.ts";

export const TZ = "Asia/Shanghai";
export const at = (date: string, hhmm: string): number => localTimeToUtc(date, hhmm, TZ);
export const HANDLER_PHONE = "+8613800000011";
export const HEAD_PHONE = "+8613800000019";
export const DUTY_PHONE = "+8613800000099";

const REGISTRY = `
regions: [{ id: east, name: East }]
towns: [{ id: riverside, name: Riverside, region: east }]
departments:
  - { id: market, name: 市场监管局 }
  - { id: social, name: 人社局 }
sites:
  - { id: hall-1, kind: hall, name: 市民中心, town: riverside, tz: ${TZ}, gateway: gw-hall-1 }
windows:
  - { id: w1, site: hall-1, name: 一号窗口, department: market }
  - { id: w2, site: hall-1, name: 二号窗口, department: social }
rosters:
  - id: hall
    shifts: [{ start: "09:00", end: "17:00" }]
    holidays: ["2026-04-04", "2026-04-05", "2026-04-06", "2026-05-01", "2026-05-02", "2026-05-03", "2026-05-04", "2026-05-05"]
    workdays: ["2026-04-26", "2026-05-09"]
people:
  - { id: c1, name: 李娜, role: clerk, site: hall-1, window: w1, roster: hall }
  - { id: c2, name: 王伟, role: clerk, site: hall-1, window: w2, roster: hall }
gateways:
  - id: gw-hall-1
    site: hall-1
    secret: lab-gateway-secret
    publicKey: |
      -----BEGIN PUBLIC KEY-----
      MCowBQYDK2VwAyEAuFbSdY4NtFuN0izIvbSKHQILeCducn4lqj54vLnHxIA=
      -----END PUBLIC KEY-----
devices:
  - { id: kp-w1, kind: keypad, site: hall-1, window: w1, secret: lab-keypad-1 }
  - { id: qs-1, kind: queue, site: hall-1, secret: lab-queue-1 }
items:
  - code: XK-001
    name: 食品经营许可
    department: market
    site: hall-1
    calendar: hall
    legalLimit: { days: 20 }
    promisedLimit: { days: 3 }
    handler: { name: 张办, phone: "${HANDLER_PHONE}" }
    head: { name: 赵科长, phone: "${HEAD_PHONE}" }
  - code: SB-002
    name: 社会保险登记
    department: social
    site: hall-1
    calendar: hall
    legalLimit: { days: 15, unit: calendar }
    promisedLimit: { days: 5, unit: calendar }
    handler: { name: 钱办, phone: "+8613800000021" }
    head: { name: 孙科长, phone: "+8613800000029" }
approvalSystems:
  - { id: market-sys, name: 市场监管审批系统, department: market }
`;

/** The hall's registry; `handlerPerson` makes XK-001's handler a registry person (who answers for it in the scores). */
export function itemsRegistry(options: { handlerPerson?: string } = {}): { registry: Registry; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), "items-registry-"));
  const yaml = options.handlerPerson
    ? REGISTRY.replace(`handler: { name: 张办, phone: "${HANDLER_PHONE}" }`, `handler: { name: 张办, phone: "${HANDLER_PHONE}", person: ${options.handlerPerson} }`)
    : REGISTRY;
  writeFileSync(join(dir, "registry.yaml"), yaml);
  return { registry: loadRegistry(dir), dir };
}

let seq = 1;
/** An item event of the hall's queue system, as a reading of its gateway's batch. */
export function itemReading(
  type: "accepted" | "step" | "suspended" | "resumed" | "completed",
  application: string,
  ts: number,
  extra: Record<string, unknown> = {},
): Reading {
  const fields: Record<string, unknown> = { itemCode: "XK-001", ...extra };
  if (type === "accepted") fields.applicantType ??= "person";
  if (type === "step") Object.assign(fields, { step: "审核", handler: "张办", result: "pass", ...extra });
  if (type === "completed") fields.outcome ??= "approved";
  return { kind: "item", deviceId: "qs-1", seq: seq++, ts, rxTs: ts, type, applicationNo: application, ...fields } as Reading;
}

export function queueReading(
  type: "ticket" | "called" | "started" | "finished",
  txn: string,
  ts: number,
  extra: Record<string, unknown> = {},
): Reading {
  return { kind: "queue", deviceId: "qs-1", seq: seq++, ts, rxTs: ts, type, ticket: txn.slice(-4), txnId: txn, ...extra } as Reading;
}
