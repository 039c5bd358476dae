import type { Locale } from "@supervision/dashboards";
import type { ChainState, DayProgress, Finding, FindingKind } from "./audit.ts";
import type { TrailBook, TrailState } from "./trail.ts";

/**
 * What `hub audit` and the scheduled audit write for the supervision centre: simplified Chinese by default, English
 * with `supervision.locale: en` or `hub audit --lang en`. A missing translation is a type error.
 */
export interface AuditTexts {
  progress(p: DayProgress): string;
  finding(f: Finding): string;
  chain(c: ChainState): string;
  summary(p: { from: string; to: string; parts: number; readings: number; stored: number; findings: number }): string;
  chainsHeading: string;
  noChains: string;
  trail(t: TrailState): string;
  trailsHeading: string;
}

const zhBook: Readonly<Record<TrailBook, string>> = {
  entry: "人工录入",
  decision: "不满意评价核实",
  warning_handling: "预警处置",
  item_event: "审批办件（审批系统报送）",
};
const batchOf = (f: Finding) => (f.gateway ? `${f.gateway}/${f.epoch}/${f.batchSeq}` : "");

const zhKind: Record<FindingKind, string> = { deleted: "已删除", altered: "已篡改", added: "来历不明（新增）", unverified: "校验失败" };
const enKind: Record<FindingKind, string> = { deleted: "deleted", altered: "altered", added: "added", unverified: "does not verify" };
const zhMeasurement: Record<string, string> = {
  rating: "评价",
  signin: "签到",
  motion: "移动侦测",
  item: "办件",
  queue: "排队叫号",
  batch_manifest: "批次清单",
};

const zhCN: AuditTexts = {
  progress: (p) => `审计 ${p.day}（${p.index}/${p.days}）：${p.parts} 个批次清单，${p.readings} 条数据，发现 ${p.findings} 处问题`,
  finding: (f) =>
    `${zhKind[f.kind]}：${zhMeasurement[f.measurement] ?? f.measurement} 设备 ${f.device} 序号 ${f.seq} 时间 ${f.time}` +
    (f.gateway ? `（网关批次 ${batchOf(f)}）` : "（无任何批次记录此数据）"),
  chain: (c) =>
    `网关 ${c.gateway} 链 ${c.epoch}：已存 ${c.batches} 个批次，最后序号 ${c.lastSeq}，缺失 ${c.missing} 个，最后批次生成于 ${c.lastCreatedAt}`,
  summary: (p) =>
    `审计范围 ${p.from} 至 ${p.to}：核对 ${p.parts} 个批次清单共 ${p.readings} 条数据，库中有 ${p.stored} 条；${p.findings === 0 ? "未发现删除、篡改或新增" : `发现 ${p.findings} 处问题`}`,
  chainsHeading: "各网关数据链：",
  noChains: "（尚无已存批次）",
  trail: (t) =>
    `${zhBook[t.book as TrailBook] ?? t.book}：${t.entries} 条记录，${t.problems.length === 0 ? "链完整" : `问题：${t.problems.join("；")}`}`,
  trailsHeading: "中心操作记录链（人工录入、核实、预警处置、审批办件）：",
};

const en: AuditTexts = {
  progress: (p) => `audited ${p.day} (${p.index}/${p.days}): ${p.parts} batch manifests, ${p.readings} readings, ${p.findings} findings`,
  finding: (f) =>
    `${enKind[f.kind]}: ${f.measurement} device ${f.device} seq ${f.seq} at ${f.time}` +
    (f.gateway ? ` (batch ${batchOf(f)})` : " (no stored batch names it)"),
  chain: (c) =>
    `gateway ${c.gateway} chain ${c.epoch}: ${c.batches} batches stored, last seq ${c.lastSeq}, ${c.missing} missing, newest created ${c.lastCreatedAt}`,
  summary: (p) =>
    `audited ${p.from} to ${p.to}: ${p.parts} batch manifests naming ${p.readings} readings, ${p.stored} readings stored; ${p.findings === 0 ? "nothing deleted, altered or added" : `${p.findings} findings`}`,
  chainsHeading: "Chains per gateway:",
  noChains: "(no stored batches yet)",
  trail: (t) => `${t.book}: ${t.entries} records, ${t.problems.length === 0 ? "chain intact" : `problems: ${t.problems.join("; ")}`}`,
  trailsHeading: "The hub's trail (manual entries, decisions, warning handling, approval item events):",
};

export function auditTexts(locale: Locale): AuditTexts {
  return locale === "en" ? en : zhCN;
}
