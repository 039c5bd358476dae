import { createHash } from "node:crypto";
import type { InfluxDB, IPoint } from "influx";
import type { Logger } from "pino";
import { lit, ns, type Row } from "../influx/query.ts";
import { INFLUXQL, schemaPoint } from "../schema/index.ts";

/**
 * Site leases in the central InfluxDB (hub/src/supervision/README.md, "Several hub copies: site leases"). InfluxDB 1.x
 * has no compare-and-set, so a lease is not a row a copy updates but what every copy computes alike from the same
 * claim points (`resolveLease`): a claim for the next term counts only if it was made after the previous term had
 * expired, the earliest claim of a term wins, and the winner may act only once the claim has settled (`settleMs`
 * after it, when every competing claim written in the meantime is visible). Correct while InfluxDB makes a write
 * visible, and the copies' clocks agree, within `settleMs`.
 */

export interface LeaseSettings {
  /** How long a claim or renewal holds a site; the holder renews every third of it. */
  seconds: number;
  /** How long a claim waits before its copy acts on it; also the clock skew a holder leaves as margin. */
  settleMs: number;
}

export type ClaimKind = "claim" | "renew" | "release";

/** One `site_lease` point: a copy's claim of a site for a term, a renewal of it, or its release. */
export interface ClaimPoint {
  site: string;
  copy: string;
  kind: ClaimKind;
  term: number;
  /** When the copy wrote it (its clock), ms. */
  at: number;
  /** Until when it holds the site, ms (a release: its own time). */
  expires: number;
}

export interface Lease {
  site: string;
  owner: string;
  term: number;
  /** When the winning claim was made; the owner acts from `since + settleMs`. */
  since: number;
  expires: number;
}

const order = (a: ClaimPoint, b: ClaimPoint) => a.at - b.at || (a.copy < b.copy ? -1 : a.copy > b.copy ? 1 : 0);

/**
 * The site's lease from its claim points, the same for every copy that sees the same points: terms in order; the
 * lowest term seen is taken as it stands (its claim may be older than the points read), each higher term counts only
 * if its earliest claim came at or after the expiry of the lease before it, counting that lease's renewals made
 * before the claim and before the lease had run out. Undefined: nobody has ever held the site.
 */
export function resolveLease(points: readonly ClaimPoint[]): Lease | undefined {
  const terms = [...new Set(points.map((p) => p.term))].sort((a, b) => a - b);
  let lease: Lease | undefined;
  let held: ClaimPoint[] = [];
  const expiryBefore = (l: Lease, own: ClaimPoint[], before: number) => {
    let expires = l.expires;
    for (const p of own) {
      if (p.at >= before || p.at > expires) break;
      expires = p.kind === "release" ? Math.min(expires, p.at) : Math.max(expires, p.expires);
    }
    return expires;
  };
  for (const term of terms) {
    const all = points.filter((p) => p.term === term).sort(order);
    const claims = all.filter((p) => p.kind === "claim");
    // The lowest term seen may have lost its claims to the window read: its owner is the copy that renews it (only
    // the owner does), else its earliest claim.
    const first = lease === undefined ? (all.find((p) => p.kind === "renew") ?? claims[0] ?? all[0]) : claims[0];
    if (!first) continue;
    if (lease) {
      const before = expiryBefore(lease, held, first.at);
      if (first.at < before) continue; // claimed while the lease before it still held: void
      lease.expires = before;
    }
    lease = { site: first.site, owner: first.copy, term, since: first.at, expires: first.expires };
    held = all.filter((p) => p.copy === first.copy && p !== first);
  }
  if (lease) lease.expires = expiryBefore(lease, held, Number.POSITIVE_INFINITY);
  return lease;
}

/** Rendezvous hashing: the live copy a site prefers (stable while the set of copies is, spread evenly). */
export function preferredCopy(site: string, copies: readonly string[]): string | undefined {
  let best: { copy: string; score: number } | undefined;
  for (const copy of copies) {
    const score = createHash("sha256").update(`${site}\n${copy}`).digest().readUInt32BE(0);
    if (!best || score > best.score || (score === best.score && copy < best.copy)) best = { copy, score };
  }
  return best?.copy;
}

const { site_lease: L } = INFLUXQL;

/**
 * This copy's side of the leases: every `tick` it announces itself alive, renews what it holds, releases sites
 * beyond its fair share (those another live copy prefers first), and claims free sites up to its share (at once those
 * it prefers, the others once they have been free for a whole lease, so the preferred copy gets them without a race).
 */
export class SiteLeases {
  private leases = new Map<string, Lease>();
  private copies: string[] = [];
  private seq = Math.floor(Math.random() * 1_000_000);
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  lastError: string | undefined;

  constructor(
    private readonly opts: {
      influx: InfluxDB;
      copy: string;
      settings: LeaseSettings;
      sites: () => string[];
      logger: Logger;
      /** Wall clock (never the hub's simulated one): leases are about real time. */
      clock?: () => number;
      /** Called after a round in which this copy came to hold sites it did not hold before (to run them at once). */
      onGain?: () => void;
    },
  ) {}

  get copy(): string {
    return this.opts.copy;
  }

  private now(): number {
    return (this.opts.clock ?? Date.now)();
  }

  private get ms(): number {
    return this.opts.settings.seconds * 1000;
  }

  start(): void {
    void this.tick();
    this.timer = setInterval(() => void this.tick(), Math.max(100, Math.floor(this.ms / 3)));
    this.timer.unref();
  }

  /** Stops renewing without releasing (what a dead copy does); `release` gives the sites up first. */
  async stop(release = false): Promise<void> {
    clearInterval(this.timer);
    await this.ticking;
    if (release) {
      const now = this.now();
      const mine = [...this.leases.values()].filter((l) => l.owner === this.copy && l.expires > now);
      try {
        await this.write(mine.map((l) => this.point(l.site, "release", l.term, now)));
        await this.write([schemaPoint("hub_copy", this.stamp(now), { copy: this.copy }, { expires: now })]);
      } catch (e) {
        this.opts.logger.warn({ err: (e as Error).message }, "site leases not released: they run out by themselves");
      }
    }
  }

  /** The site's lease held by this copy, settled and not about to expire; undefined when it may not act on the site. */
  holds(site: string): Lease | undefined {
    const lease = this.leases.get(site);
    const now = this.now();
    if (!lease || lease.owner !== this.copy) return undefined;
    if (now < lease.since + this.opts.settings.settleMs) return undefined;
    if (now >= lease.expires - this.opts.settings.settleMs) return undefined;
    return lease;
  }

  /** Fencing before a side effect: reads the site's claims again and tells whether this copy still holds it at `term`. */
  async confirm(site: string, term: number): Promise<boolean> {
    const fresh = resolveLease(await this.read(site));
    if (fresh) this.leases.set(site, fresh);
    return fresh?.term === term && this.holds(site) !== undefined;
  }

  /** Every lease this copy knows of (for `hub status`), and the live copies. */
  table(): { copies: string[]; leases: Lease[] } {
    return { copies: [...this.copies], leases: [...this.leases.values()].sort((a, b) => (a.site < b.site ? -1 : 1)) };
  }

  /** One round (also on the interval); one at a time. */
  tick(): Promise<void> {
    this.ticking ??= this.round()
      .then(() => {
        this.lastError = undefined;
      })
      .catch((e: Error) => {
        this.lastError = e.message;
        this.opts.logger.warn({ err: e.message }, "site leases: round failed; the leases held run out unless the next renews them");
      })
      .finally(() => {
        this.ticking = undefined;
      });
    return this.ticking;
  }

  private stamp(now: number): string {
    // Points of one copy and site must not share a timestamp (the later would overwrite the earlier).
    this.seq = (this.seq + 1) % 1_000_000;
    return `${now}${String(this.seq).padStart(6, "0")}`;
  }

  private point(site: string, kind: ClaimKind, term: number, now: number, expires = now): IPoint {
    return schemaPoint("site_lease", this.stamp(now), { site, copy: this.copy, kind }, { term, expires });
  }

  private async write(points: IPoint[]): Promise<void> {
    if (points.length > 0) await this.opts.influx.writePoints(points, { retentionPolicy: "health", precision: "n" });
  }

  private async read(site?: string): Promise<ClaimPoint[]> {
    // Three lease times: the holder's claim or its last renewals, and the term before when it changed hands lately.
    const since = this.now() - 3 * this.ms;
    const where = site === undefined ? "" : ` AND ${L.site} = ${lit(site)}`;
    const rows = await this.opts.influx.query<Row>(
      `SELECT ${L.site}, ${L.copy}, ${L.kind}, ${L.term}, ${L.expires} FROM ${L.FROM} WHERE time >= ${ns(since)}${where}`,
    );
    return rows.map((r) => ({
      site: String(r.site),
      copy: String(r.copy),
      kind: r.kind as ClaimKind,
      term: Number(r.term),
      at: r.time.getTime(),
      expires: Number(r.expires),
    }));
  }

  private async round(): Promise<void> {
    const before = new Set([...this.leases.keys()].filter((site) => this.holds(site)));
    await this.exchange();
    if ([...this.leases.keys()].some((site) => this.holds(site) && !before.has(site))) this.opts.onGain?.();
  }

  private async exchange(): Promise<void> {
    const now = this.now();
    const ms = this.ms;
    await this.write([schemaPoint("hub_copy", this.stamp(now), { copy: this.copy }, { expires: now + ms })]);
    const alive = await this.opts.influx.query<Row>(
      `SELECT last(${INFLUXQL.hub_copy.expires}) AS expires FROM ${INFLUXQL.hub_copy.FROM} WHERE time >= ${ns(now - 10 * ms)} GROUP BY ${INFLUXQL.hub_copy.copy}`,
    );
    const copies = new Set<string>([this.copy]);
    for (const r of alive) if (Number(r.expires) > now && typeof r.copy === "string") copies.add(r.copy);
    this.copies = [...copies].sort();

    const bySite = new Map<string, ClaimPoint[]>();
    for (const p of await this.read()) bySite.set(p.site, [...(bySite.get(p.site) ?? []), p]);
    const sites = this.opts.sites();
    const known = new Set(sites);
    const seen = new Map<string, Lease>();
    for (const [site, points] of bySite) {
      const lease = resolveLease(points);
      if (lease && known.has(site)) seen.set(site, lease);
    }
    this.leases = seen;

    const out: IPoint[] = [];
    const mine = [...this.leases.values()].filter((l) => l.owner === this.copy && l.expires > now + this.opts.settings.settleMs);
    const share = Math.ceil(sites.length / this.copies.length);
    // Over the fair share: give up the excess only, first the sites another live copy prefers (it claims them at
    // once), then others (a copy under its share claims them after a whole lease), so the hashes' uneven split (5 and
    // 1 of 6 sites happens) still ends at the fair share.
    let excess = mine.length - share;
    const othersFirst = [...mine].sort(
      (x, y) => Number(preferredCopy(y.site, this.copies) !== this.copy) - Number(preferredCopy(x.site, this.copies) !== this.copy),
    );
    for (const lease of othersFirst) {
      if (excess > 0 && now >= lease.since + this.opts.settings.settleMs) {
        out.push(this.point(lease.site, "release", lease.term, now));
        excess--;
        continue;
      }
      out.push(this.point(lease.site, "renew", lease.term, now, now + ms));
    }
    let claimed = 0;
    for (const site of sites) {
      const lease = this.leases.get(site);
      // Held (or claimed and settling) until it expires; a claim made before would be void.
      const freeSince = lease ? lease.expires : Number.NEGATIVE_INFINITY;
      if (freeSince > now) continue;
      // Never beyond the fair share (what this copy just released stays released); a preferred site at once, another
      // once it has been free for a whole lease (its preferred copy had the chance).
      if (mine.length + claimed >= share) continue;
      const preferred = preferredCopy(site, this.copies) === this.copy;
      if (!preferred && now < freeSince + ms) continue;
      out.push(this.point(site, "claim", (lease?.term ?? 0) + 1, now, now + ms));
      claimed++;
    }
    await this.write(out);
    // Read back: the view `holds` answers from, with every claim written so far.
    const fresh = new Map<string, ClaimPoint[]>();
    for (const p of await this.read()) fresh.set(p.site, [...(fresh.get(p.site) ?? []), p]);
    const leases = new Map<string, Lease>();
    for (const [site, points] of fresh) {
      const lease = resolveLease(points);
      if (lease && known.has(site)) leases.set(site, lease);
    }
    this.leases = leases;
  }
}
