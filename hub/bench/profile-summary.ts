/**
 * Where a hub process's CPU went, from a .cpuprofile (`npm run bench -- hub` with `--profile`, or any `--cpu-prof`
 * file): sampled time per ingest stage, as µs per reading, and the functions that took most. Idle time is left out.
 * Stages are told by the file a function lives in (or its name for V8's own entries), so the table reads as the
 * ingest README's "where each microsecond goes".
 *
 *   npx tsx hub/bench/profile-summary.ts FILE.cpuprofile --readings N [--top 25]
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** A stage and how to recognise its functions: by file (url) or, for V8's own entries, by name. */
const STAGES: Array<[stage: string, match: RegExp]> = [
  ["garbage collection", /^\(garbage collector\)/],
  // `run` with no file is OpenSSL's Ed25519 check under verifyOneShot (the only such entry in the hub's profiles).
  ["signature and body hash (crypto)", /node:internal\/crypto|^(verifyOneShot|update|digest|run)$/],
  ["body JSON and envelope", /batch-json|envelope(-v2)?\.ts|wire-v2|validate\.ts|^(parse|JSONParse|readRow)\b/],
  ["reading checks (schema)", /compiled-check|^compiledCheck|zod/],
  ["slice, clerk and time checks", /slice-check|time\.ts/],
  ["first arrival (identities)", /arrivals\.ts/],
  ["reading → line", /reading-lines|line-protocol|points\.ts|line-bytes/],
  ["batch manifest (hub audit)", /manifest\.ts/],
  ["batch handling (encodeBatch, chain, writer)", /batch-readings|batch\.ts|chain|writer\.ts|runtime|dead-letters/],
  ["text → bytes (UTF-8)", /node:buffer|internal\/buffer|^(utf8Write|writeUtf8String|writeLatin1String)$/],
  ["HTTP to influxd", /line-writer|_http|node:http|node:net|stream_base|^writev/],
  ["MQTT (packets, acks)", /mqtt|bl\/|readable-stream|^onStreamRead/],
  // What taking the profile cost: not the hub's work.
  ["the profiler itself (inspector)", /node:inspector|^dispatch$/],
];

export interface StageRow {
  stage: string;
  ms: number;
  usPerReading: number;
}

/** Sampled CPU time per stage (idle left out), and per function, in ms. */
export function summariseProfile(profile: Profile, readings: number): { stages: StageRow[]; functions: Array<[string, number]> } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const byFunction = new Map<string, number>();
  const byStage = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id)?.callFrame;
    if (!frame || frame.functionName === "(idle)") return;
    const us = profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0;
    const file = frame.url.split("/").slice(-2).join("/");
    const name = `${frame.functionName || "(anonymous)"} ${file}${file ? `:${frame.lineNumber + 1}` : ""}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
    const stage =
      STAGES.find(([, match]) => match.test(frame.url) || match.test(frame.functionName))?.[0] ?? "other (Node.js, V8, event loop)";
    byStage.set(stage, (byStage.get(stage) ?? 0) + us);
  });
  const stages = [...byStage]
    .sort((a, b) => b[1] - a[1])
    .map(([stage, us]) => ({ stage, ms: Math.round(us / 1000), usPerReading: Number((us / readings).toFixed(2)) }));
  const total = [...byStage.values()].reduce((a, b) => a + b, 0);
  stages.push({ stage: "total (not idle)", ms: Math.round(total / 1000), usPerReading: Number((total / readings).toFixed(2)) });
  return { stages, functions: [...byFunction].sort((a, b) => b[1] - a[1]) };
}

export function printProfileSummary(path: string, readings: number, top = 25): void {
  const { stages, functions } = summariseProfile(JSON.parse(readFileSync(path, "utf8")) as Profile, readings);
  console.log(`hub CPU profile (${path}), sampled µs per reading by stage:`);
  console.table(stages);
  console.log(`the ${top} functions with most self time (ms):`);
  for (const [name, us] of functions.slice(0, top)) console.log(`${(us / 1000).toFixed(0).padStart(7)}  ${name}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { readings: { type: "string" }, top: { type: "string", default: "25" }, help: { type: "boolean", default: false } },
  });
  const readings = Number(values.readings);
  if (values.help || positionals.length !== 1 || !Number.isInteger(readings) || readings <= 0) {
    console.log("usage: npx tsx hub/bench/profile-summary.ts FILE.cpuprofile --readings N [--top 25]");
    process.exit(values.help ? 0 : 2);
  }
  printProfileSummary(positionals[0] as string, readings, Number(values.top));
}
