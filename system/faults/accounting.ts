import type { DeviceFleet } from "./devices.ts";

/** What became of every reading a device published: the numbers the fault matrix prints and judges. */
export interface Accounting {
  /** Readings the gateway PUBACKed (each device publishes until every reading is acknowledged). */
  acknowledged: number;
  /** Distinct readings stored in InfluxDB. */
  stored: number;
  /** Readings refused with a reason and kept as a dead letter, by where and why ("gateway future_timestamp"). */
  deadLettered: Record<string, number>;
  /** Distinct readings dead-lettered (a reading refused at the gateway and the hub is one). */
  deadLetteredReadings: number;
  /** Ordinary readings among the dead-lettered (a refusal caused by a fault, not by the reading). */
  ordinaryDeadLettered: number;
  /** Stale or future readings stored although they should have been refused. */
  oddStored: number;
  /** Acknowledged readings neither stored nor dead-lettered. */
  lost: number;
  /** Readings stored more than once, or stored and dead-lettered both. */
  doubled: number;
  /** A few lost readings, for the report. */
  lostExamples: string[];
}

interface InfluxAnswer {
  results?: Array<{ series?: Array<{ columns: string[]; values: unknown[][] }>; error?: string }>;
  error?: string;
}

export interface InfluxAccess {
  url: string;
  username: string;
  password: string;
}

/** Every row of a query, read in chunks (influxd answers large results as one JSON document per chunk). */
export async function rows(influx: InfluxAccess, q: string): Promise<Record<string, unknown>[]> {
  const params = new URLSearchParams({
    q,
    db: "supervision",
    epoch: "ms",
    chunked: "true",
    chunk_size: "10000",
    u: influx.username,
    p: influx.password,
  });
  const authorization = `Basic ${Buffer.from(`${influx.username}:${influx.password}`).toString("base64")}`;
  const res = await fetch(`${influx.url}/query`, { method: "POST", body: params, headers: { authorization } });
  const text = await res.text();
  if (!res.ok) throw new Error(`influxd answered ${res.status} to ${q}: ${text.slice(0, 300)}`);
  const out: Record<string, unknown>[] = [];
  for (const chunk of text.split("\n")) {
    if (!chunk.trim()) continue;
    const answer = JSON.parse(chunk) as InfluxAnswer;
    const error = answer.error ?? answer.results?.find((r) => r.error)?.error;
    if (error) throw new Error(`influxd: ${error} (${q})`);
    for (const result of answer.results ?? [])
      for (const series of result.series ?? [])
        for (const v of series.values) out.push(Object.fromEntries(series.columns.map((c, i) => [c, v[i]])));
  }
  return out;
}

/** Every dead letter the gateway keeps (its HTTP API, newest first, in pages). */
async function gatewayDeadLetters(gatewayHttp: string): Promise<Array<{ code: string; payload: string }>> {
  const out: Array<{ code: string; payload: string }> = [];
  for (let offset = 0; ; offset += 10_000) {
    const page = (await (await fetch(`${gatewayHttp}/api/dead-letters?limit=10000&offset=${offset}`)).json()) as Array<{
      code: string;
      payload: string;
    }>;
    out.push(...page);
    if (page.length < 10_000) return out;
  }
}

const key = (deviceId: string, seq: number) => `${deviceId}#${seq}`;

/** Counts what InfluxDB holds (ratings and the hub's dead letters) and what the gateway dead-lettered, per reading. */
export async function account(fleet: DeviceFleet, influx: InfluxAccess, gatewayHttp: string): Promise<Accounting> {
  const storedTimes = new Map<string, number>();
  for (const row of await rows(influx, `SELECT "seq", "device" FROM "raw"."rating"`)) {
    const k = key(String(row.device), Number(row.seq));
    storedTimes.set(k, (storedTimes.get(k) ?? 0) + 1);
  }
  const dead = new Map<string, string[]>();
  const note = (k: string, where: string) => dead.set(k, [...(dead.get(k) ?? []), where]);
  for (const row of await rows(influx, `SELECT "line", "reason" FROM "raw"."dead_letter" WHERE "measurement" = 'rating'`)) {
    const line = String(row.line);
    const device = /,device=([^,\s]+)/.exec(line)?.[1];
    const seq = /[ ,]seq=(\d+)/.exec(line)?.[1];
    if (device && seq) note(key(device, Number(seq)), `hub ${String(row.reason)}`);
  }
  for (const d of await gatewayDeadLetters(gatewayHttp)) {
    try {
      const reading = JSON.parse(d.payload) as { deviceId?: unknown; seq?: unknown };
      if (typeof reading.deviceId === "string" && typeof reading.seq === "number")
        note(key(reading.deviceId, reading.seq), `gateway ${d.code}`);
    } catch {
      // not a reading of ours (a truncated or foreign payload): not counted for any reading
    }
  }
  const result: Accounting = {
    acknowledged: fleet.acknowledged,
    stored: 0,
    deadLettered: {},
    deadLetteredReadings: 0,
    ordinaryDeadLettered: 0,
    oddStored: 0,
    lost: 0,
    doubled: 0,
    lostExamples: [],
  };
  for (const [deviceId, plans] of fleet.plans) {
    plans.forEach((plan, i) => {
      const k = key(deviceId, i + 1);
      const times = storedTimes.get(k) ?? 0;
      const letters = dead.get(k) ?? [];
      if (times > 0) result.stored++;
      if (times > 0 && plan !== "ordinary") result.oddStored++;
      // A reading refused twice (its resend refused again) is one dead-lettered reading.
      const reasons = [...new Set(letters)];
      for (const reason of reasons) result.deadLettered[reason] = (result.deadLettered[reason] ?? 0) + 1;
      if (reasons.length > 0) result.deadLetteredReadings++;
      if (reasons.length > 0 && plan === "ordinary") result.ordinaryDeadLettered++;
      if (times > 1 || (times > 0 && reasons.length > 0)) result.doubled++;
      if (fleet.isAcked(deviceId, i + 1) && times === 0 && reasons.length === 0) {
        result.lost++;
        if (result.lostExamples.length < 5) result.lostExamples.push(`${k} (${plan})`);
      }
    });
  }
  return result;
}
