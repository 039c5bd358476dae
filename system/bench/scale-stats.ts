/** The scale bench's arithmetic and schedule, apart from its processes (tested in scale-stats.test.ts). */

/** The p-th percentile (0-100) of ascending values: the value at rank floor(p/100 × n), the last for p = 100; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Each part's share of the whole (0..1), in the given order; all 0 when the whole is 0. */
export function shares(counts: number[]): number[] {
  const total = counts.reduce((sum, n) => sum + n, 0);
  return counts.map((n) => (total === 0 ? 0 : n / total));
}

/** Whether shares are within `split` (e.g. 0.6 for 60/40) of each other: no part above it. */
export function withinSplit(parts: number[], split: number): boolean {
  return parts.every((s) => s <= split);
}

/**
 * Hall `g`'s offset (ms of virtual time) within `spreadMs`: halls do not send in lockstep. Deterministic and spread
 * evenly: 7919 is prime, so for g = 0..spreadMs-1 the offsets are distinct.
 */
export function hallOffsetMs(g: number, spreadMs: number): number {
  return (g * 7919) % spreadMs;
}

/**
 * Which template and which slice of it hall `g` plays: halls take the templates in turn, and with `slices` slices
 * (every-heartbeat phases play one slice of the template's minutes each) the halls of one template take the slices in
 * turn, so all slices are played about equally often and the phase's mix is the template's whole span.
 */
export function hallPlan(g: number, templates: number, slices: number): { template: number; slice: number } {
  return { template: g % templates, slice: Math.floor(g / templates) % slices };
}

/** Wall-clock ms after the phase's start at which a batch sealed at virtual `at` ms after the span's start is due. */
export function dueMs(at: number, speed: number): number {
  return at / speed;
}

/** "a / b" as a ratio with one decimal and an x, or "-" when b is 0 or either is not a number. */
export function ratio(a: number, b: number): string {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return "-";
  return `${(a / b).toFixed(2)}x`;
}

/** Gateways with unacknowledged batches, most first, as "id (n)", at most `most` of them and a count of the rest. */
export function describeUnacked(unacked: Map<string, number>, most = 10): string {
  const rows = [...unacked].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const total = rows.reduce((sum, [, n]) => sum + n, 0);
  const named = rows
    .slice(0, most)
    .map(([id, n]) => `${id} (${n})`)
    .join(", ");
  const rest = rows.length > most ? ` and ${rows.length - most} more gateways` : "";
  return `${total} batches unacknowledged from ${rows.length} gateways: ${named}${rest}`;
}
