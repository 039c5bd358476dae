/**
 * The hub's Grafana extension: provisions the data source, folder and dashboards when the hub starts and posts
 * warnings and cards as annotations. Grafana being down never stops the hub: it retries with backoff.
 */
import type { Logger } from "pino";
import type { CardEvent, HubContext, HubExtension, WarningEvent } from "../controller/extension.ts";
import { cardAnnotation, warningAnnotation } from "./annotations.ts";
import { type Annotation, GrafanaClient, GrafanaHttpError } from "./client.ts";
import type { Registry } from "../registry/schema.ts";
import { namedDashboards, type ProvisionReport, provision, regionDataSources } from "./provision.ts";
import { GrafanaSettings, type GrafanaSettingsInput } from "./settings.ts";

export { GrafanaSettings } from "./settings.ts";

type State = "disabled" | "stopped" | "provisioning" | "ready" | "retrying" | "unauthorized";

const MAX_BACKOFF_MS = 300_000;
/** Annotations waiting for Grafana; the oldest are dropped beyond this (they are also in InfluxDB). */
const MAX_PENDING_ANNOTATIONS = 1_000;

export function createGrafanaExtension(input: GrafanaSettings | GrafanaSettingsInput): HubExtension {
  const settings = GrafanaSettings.parse(input);
  const enabled = settings.url !== undefined && settings.serviceAccountToken !== undefined;
  const client = enabled ? new GrafanaClient(settings.url as string, settings.serviceAccountToken as string) : undefined;

  let state: State = enabled ? "stopped" : "disabled";
  let logger: Logger | undefined;
  let timer: NodeJS.Timeout | undefined;
  let failures = 0;
  let lastError: string | undefined;
  let lastReport: ProvisionReport | undefined;
  let annotationsPosted = 0;
  let annotationsDropped = 0;
  const pending: Annotation[] = [];
  let unsubscribe: (() => void) | undefined;
  let running: Promise<void> | undefined;
  // The registry the dashboards take their names from; a reload provisions them again (a renamed clerk, a new window).
  let registry: (() => Registry) | undefined;
  // influx.regions: each region's InfluxDB gets a data source of its own.
  let regions: ReadonlyArray<readonly [string, { url: URL; database: string }]> = [];
  let reprovision = false;
  // A function, not an inline comparison: stop() can change the state while a cycle awaits Grafana.
  const stopped = () => state === "stopped";

  const enqueue = (annotation: Annotation) => {
    pending.push(annotation);
    if (pending.length > MAX_PENDING_ANNOTATIONS) {
      pending.shift();
      annotationsDropped++;
    }
    if (state === "ready" && running === undefined) running = cycle();
  };

  async function postPending(api: GrafanaClient): Promise<void> {
    while (pending.length > 0) {
      const next = pending[0] as Annotation;
      await api.createAnnotation(next);
      pending.shift();
      annotationsPosted++;
    }
  }

  async function cycle(): Promise<void> {
    if (client === undefined || stopped()) return;
    try {
      if (state !== "ready" || reprovision) {
        state = "provisioning";
        reprovision = false;
        const current = registry?.();
        lastReport = await provision(client, settings, namedDashboards(settings, current), regionDataSources(settings, regions, current));
        logger?.info({ report: lastReport }, "grafana provisioned");
      }
      await postPending(client);
      if (stopped()) return;
      state = "ready";
      failures = 0;
      lastError = undefined;
    } catch (error) {
      failures++;
      const unauthorized = error instanceof GrafanaHttpError && (error.status === 401 || error.status === 403);
      lastError = unauthorized
        ? `Grafana rejected the service-account token (${(error as GrafanaHttpError).status}): set grafana.serviceAccountToken to a valid token with Editor or Admin role`
        : error instanceof Error
          ? error.message
          : String(error);
      if (!stopped()) state = unauthorized ? "unauthorized" : "retrying";
      const delay = Math.min(settings.retryIntervalMs * 2 ** (failures - 1), MAX_BACKOFF_MS);
      logger?.warn({ err: lastError, retryInMs: delay }, "grafana provisioning failed; hub keeps running");
      if (!stopped())
        timer = setTimeout(() => {
          timer = undefined;
          running = cycle();
        }, delay);
    } finally {
      running = undefined;
      // An event that arrived after the queue was drained must not wait for the next one.
      if (state === "ready" && (pending.length > 0 || reprovision)) running = cycle();
    }
  }

  return {
    name: "grafana",
    async start(ctx: HubContext) {
      logger = ctx.logger.child({ extension: "grafana" });
      if (!enabled) {
        logger.info("grafana url or service-account token not configured: provisioning disabled");
        return;
      }
      const onWarning = (event: WarningEvent) => enqueue(warningAnnotation(event));
      const onCard = (event: CardEvent) => enqueue(cardAnnotation(event));
      ctx.events.on("warning", onWarning);
      ctx.events.on("card", onCard);
      registry = () => ctx.registry.current();
      regions = ctx.regions?.regions() ?? [];
      const offRegistry = ctx.registry.onChange(() => {
        reprovision = true;
        if (state === "ready" && running === undefined) running = cycle();
      });
      unsubscribe = () => {
        ctx.events.off("warning", onWarning);
        ctx.events.off("card", onCard);
        offRegistry();
      };
      state = "provisioning";
      running = cycle();
    },
    async stop() {
      if (state !== "disabled") state = "stopped";
      if (timer !== undefined) clearTimeout(timer);
      unsubscribe?.();
      await running;
    },
    status() {
      if (!enabled) return { state, reason: "grafana url or serviceAccountToken not configured" };
      return {
        state,
        url: settings.url,
        failures,
        lastError,
        lastReport,
        annotationsPosted,
        annotationsPending: pending.length,
        annotationsDropped,
      };
    },
  };
}
