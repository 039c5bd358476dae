import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { localTimeToUtc, localDate } from "@supervision/firmware-protocols";
import type { InfluxDB, IPoint } from "influx";
import type { Logger } from "pino";
import { z } from "zod";
import type { WarningEvent } from "../controller/extension.ts";
import { lit, ns, type Row } from "../influx/query.ts";
import { INFLUXQL, schemaPoint } from "../schema/index.ts";

const HHMM = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time of day "HH:MM"');

export const NotificationSettings = z.strictObject({
  channels: z
    .array(
      z.discriminatedUnion("kind", [
        /** A generic webhook: POSTs the warning as JSON. */
        z.strictObject({
          name: z.string().min(1),
          kind: z.literal("webhook"),
          url: z.url(),
          headers: z.record(z.string(), z.string()).default({}),
        }),
        /** An SMS gateway with an HTTP API: POSTs {to, text} as JSON for each number. */
        z.strictObject({
          name: z.string().min(1),
          kind: z.literal("sms"),
          url: z.url(),
          headers: z.record(z.string(), z.string()).default({}),
          to: z.array(z.string().min(3)).min(1),
          /** Second contacts, added for escalations. */
          escalateTo: z.array(z.string().min(3)).default([]),
        }),
      ]),
    )
    .default([]),
  /** The same warning (site, subject, rule, severity) is sent at most once in this many minutes. */
  dedupMinutes: z.int().min(0).default(60),
  /** Local times in the site's zone when plain warnings wait (escalations do not); an end before the start runs past midnight. */
  quietPeriods: z.array(z.strictObject({ start: HHMM, end: HHMM })).default([]),
  maxAttempts: z.int().min(1).max(50).default(8),
  retryBaseMs: z.int().min(10).default(2000),
});
export type NotificationSettings = z.infer<typeof NotificationSettings>;

interface Job {
  id: string;
  channel: string;
  target: string;
  body: Record<string, unknown>;
  message: string;
  attempt: number;
  dueAt: number;
}

/**
 * Sends warnings through the configured channels. Jobs live in an outbox file until delivered or given up, so a
 * restart loses none; every attempt is recorded as a `notification` point, so failures are visible, not silent.
 */
export class Notifier {
  private jobs: Job[] = [];
  private readonly sentAt = new Map<string, number>();
  /** Episodes (a warning and its start) already handled, kept on disk: a restarted hub announces today's again. */
  private readonly episodes = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  readonly counts = { sent: 0, failed: 0, gaveUp: 0 };

  constructor(
    private readonly settings: NotificationSettings,
    private readonly opts: {
      dataDir: string;
      logger: Logger;
      now: () => number;
      record: (points: IPoint[]) => Promise<void>;
      tzOf: (site: string) => string;
      /**
       * Several hub copies: what was notified is kept in the central InfluxDB (`notification_sent`) instead of this
       * copy's data folder, so the copy that takes a site over sends nothing already sent; and `fence` (the site's
       * lease) is asked before a warning is taken: a copy that lost the site's lease sends nothing for it.
       */
      shared?: { influx: InfluxDB; copy: string; fence?: (site: string) => Promise<boolean> };
    },
  ) {
    mkdirSync(opts.dataDir, { recursive: true });
    try {
      this.jobs = JSON.parse(readFileSync(this.file, "utf8")) as Job[];
    } catch {
      this.jobs = [];
    }
    try {
      const sent = JSON.parse(readFileSync(this.sentFile, "utf8")) as { sentAt?: [string, number][]; episodes?: [string, number][] };
      for (const [k, v] of sent.sentAt ?? []) if (typeof k === "string" && typeof v === "number") this.sentAt.set(k, v);
      for (const [k, v] of sent.episodes ?? []) if (typeof k === "string" && typeof v === "number") this.episodes.set(k, v);
    } catch {
      // No file yet (or an unreadable one): nothing was sent by this data folder.
    }
  }

  private get sentFile(): string {
    return join(this.opts.dataDir, "notification-sent.json");
  }

  /** What was sent, for the next start; entries older than a week are dropped (the rules re-judge two days). */
  private saveSent(now: number): void {
    for (const [k, at] of this.episodes) if (now - at > 7 * 86_400_000) this.episodes.delete(k);
    for (const [k, at] of this.sentAt) if (now - at > Math.max(this.settings.dedupMinutes * 60_000, 86_400_000)) this.sentAt.delete(k);
    writeFileSync(`${this.sentFile}.tmp`, JSON.stringify({ sentAt: [...this.sentAt], episodes: [...this.episodes] }));
    renameSync(`${this.sentFile}.tmp`, this.sentFile);
  }

  private get file(): string {
    return join(this.opts.dataDir, "notification-outbox.json");
  }

  private save(): void {
    writeFileSync(`${this.file}.tmp`, JSON.stringify(this.jobs));
    renameSync(`${this.file}.tmp`, this.file);
  }

  pending(): number {
    return this.jobs.length + this.undecided.length;
  }

  start(pollMs = 200): void {
    this.timer = setInterval(() => void this.deliver(), pollMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Queues a warning for every channel, unless it was sent recently; plain warnings wait out a quiet period. */
  notify(warning: WarningEvent): void {
    if (!warning.active || this.settings.channels.length === 0) return;
    const shared = this.opts.shared;
    if (shared) {
      this.decideLater(warning, shared, 0);
      return;
    }
    const now = this.opts.now();
    const key = `${warning.site}/${warning.subject}/${warning.rule}/${warning.severity}`;
    const episode = `${key}/${warning.ts}`;
    if (this.episodes.has(episode)) return;
    this.episodes.set(episode, now);
    const last = this.sentAt.get(key);
    if (last !== undefined && now - last < this.settings.dedupMinutes * 60_000) {
      this.saveSent(now);
      return;
    }
    this.sentAt.set(key, now);
    this.saveSent(now);
    this.queue(warning, key, now);
  }

  private deciding: Promise<void> = Promise.resolve();
  /** Warnings whose decision failed (the central InfluxDB did not answer): tried again at the next delivery pass. */
  private undecided: { warning: WarningEvent; attempts: number; dueAt: number }[] = [];

  private decideLater(warning: WarningEvent, shared: NonNullable<typeof this.opts.shared>, attempts: number): void {
    // One at a time, in order: each reads what the one before it recorded.
    this.deciding = this.deciding
      .then(() => this.decideShared(warning, shared))
      .catch((e: Error) => {
        if (attempts + 1 >= this.settings.maxAttempts) {
          this.counts.gaveUp++;
          this.opts.logger.error(
            { err: e.message, site: warning.site, rule: warning.rule },
            "notification given up: the sent-record stayed unreadable",
          );
        } else {
          if (attempts === 0)
            this.opts.logger.warn(
              { err: e.message, site: warning.site },
              "notification not decided yet: sent-record unreadable; trying again",
            );
          this.undecided.push({ warning, attempts: attempts + 1, dueAt: this.opts.now() + this.settings.retryBaseMs * 2 ** attempts });
        }
      });
  }
  /** Distinct timestamps for this copy's records within one millisecond (and, by its random start, a restarted copy's). */
  private stamp = Math.floor(Math.random() * 1_000_000);

  /** Every warning handed to `notify` so far decided (queued or not): the shared record's way of being waited for. */
  decided(): Promise<void> {
    return this.deciding;
  }

  /**
   * The shared record (the central InfluxDB, keyed as the file is: site/subject/rule/severity and the episode's
   * start): an episode any copy recorded is not taken again; one whose key was sent within `dedupMinutes` is recorded
   * but not sent. Recorded before it is queued, so a copy dying after the record loses at most that notification,
   * never sends it twice.
   */
  private async decideShared(warning: WarningEvent, shared: NonNullable<typeof this.opts.shared>): Promise<void> {
    if (shared.fence && !(await shared.fence(warning.site))) {
      this.opts.logger.warn(
        { site: warning.site, rule: warning.rule },
        "notification not sent: this copy no longer holds the site's lease",
      );
      return;
    }
    const now = this.opts.now();
    const key = `${warning.site}/${warning.subject}/${warning.rule}/${warning.severity}`;
    const episode = `${key}/${warning.ts}`;
    const n = INFLUXQL.notification_sent;
    const rows = await shared.influx.query<Row>(
      `SELECT ${n.episode}, ${n.queued} FROM ${n.FROM} WHERE ${n.site} = ${lit(warning.site)} AND ${n.key} = ${lit(key)} AND time >= ${ns(now - 7 * 86_400_000)}`,
    );
    if (rows.some((r) => r.episode === episode)) return;
    const lastQueued = Math.max(Number.NEGATIVE_INFINITY, ...rows.filter((r) => Number(r.queued) === 1).map((r) => r.time.getTime()));
    const queue = !(now - lastQueued < this.settings.dedupMinutes * 60_000);
    this.stamp = (this.stamp + 1) % 1_000_000;
    await shared.influx.writePoints(
      [
        schemaPoint(
          "notification_sent",
          `${now}${String(this.stamp).padStart(6, "0")}`,
          { site: warning.site, copy: shared.copy },
          { key, episode, queued: queue ? 1 : 0 },
        ),
      ],
      { retentionPolicy: "raw", precision: "n" },
    );
    if (queue) this.queue(warning, key, now);
  }

  private queue(warning: WarningEvent, key: string, now: number): void {
    const dueAt = warning.severity === "escalation" ? now : this.quietUntil(now, this.opts.tzOf(warning.site));
    const message = `[${warning.severity}] ${warning.site}: ${warning.message}`;
    const body = { ...warning, text: message };
    for (const channel of this.settings.channels) {
      // SMS: the channel's numbers, the site's contacts for a warning about its people, and escalation contacts.
      const escalation = warning.severity === "escalation";
      const targets =
        channel.kind === "webhook"
          ? [channel.url]
          : [
              ...new Set([
                ...channel.to,
                ...(warning.contacts ?? []).map((c) => c.phone),
                ...(escalation ? [...channel.escalateTo, ...(warning.escalationContacts ?? []).map((c) => c.phone)] : []),
              ]),
            ];
      for (const target of targets)
        this.jobs.push({ id: `${key}/${now}/${channel.name}/${target}`, channel: channel.name, target, body, message, attempt: 0, dueAt });
    }
    this.save();
  }

  /** The end of the quiet period `now` falls in, or `now`. */
  private quietUntil(now: number, tz: string): number {
    const today = localDate(now, tz);
    const yesterday = localDate(now - 86_400_000, tz);
    for (const q of this.settings.quietPeriods) {
      for (const date of [yesterday, today]) {
        const start = localTimeToUtc(date, q.start, tz);
        let end = localTimeToUtc(date, q.end, tz);
        if (end <= start) end = localTimeToUtc(localDate(start + 86_400_000, tz), q.end, tz);
        if (now >= start && now < end) return end;
      }
    }
    return now;
  }

  /** Sends what is due; one pass at a time. */
  async deliver(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const shared = this.opts.shared;
      if (shared) {
        const due = this.undecided.filter((u) => u.dueAt <= this.opts.now());
        this.undecided = this.undecided.filter((u) => !due.includes(u));
        for (const u of due) this.decideLater(u.warning, shared, u.attempts);
      }
      await this.deciding;
      const now = this.opts.now();
      for (const job of this.jobs.filter((j) => j.dueAt <= now)) {
        const channel = this.settings.channels.find((c) => c.name === job.channel);
        job.attempt++;
        let status: "sent" | "failed" | "retrying";
        let error = "";
        try {
          if (!channel) throw new Error(`channel ${job.channel} is no longer configured`);
          const payload = channel.kind === "webhook" ? job.body : { to: job.target, text: job.message };
          const res = await fetch(channel.url, {
            method: "POST",
            headers: { "content-type": "application/json", ...channel.headers },
            body: JSON.stringify(payload),
            signal: AbortSignal.timeout(10_000),
          });
          if (!res.ok) throw new Error(`HTTP ${res.status}`);
          status = "sent";
        } catch (e) {
          error = (e as Error).message;
          status = job.attempt >= this.settings.maxAttempts ? "failed" : "retrying";
        }
        if (status === "retrying") job.dueAt = now + this.settings.retryBaseMs * 2 ** (job.attempt - 1);
        else this.jobs = this.jobs.filter((j) => j !== job);
        // Saved before anything else is awaited: a hub stopped while the attempt is being recorded does not send it again.
        this.save();
        if (status === "sent") this.counts.sent++;
        else if (status === "failed") this.counts.gaveUp++;
        else this.counts.failed++;
        if (status !== "sent")
          this.opts.logger.warn(
            { channel: job.channel, target: job.target, attempt: job.attempt, err: error, status },
            "notification not delivered",
          );
        await this.opts
          .record([
            schemaPoint(
              "notification",
              ns(now),
              { channel: job.channel, status },
              { target: job.target, message: job.message, attempt: job.attempt, error },
            ),
          ])
          .catch((e: Error) => this.opts.logger.warn({ err: e.message }, "could not record a notification attempt"));
      }
    } finally {
      this.busy = false;
    }
  }
}
