import { createHash } from "node:crypto";
import { readdirSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import {
  checkConfig,
  ConfigError,
  type ConfigProblem,
  DEVICE_KIND_CATALOGUE,
  DEVICE_LINKS,
  formatConfigProblem,
  GatewayConfig,
  LINK_NAMES,
  loadSealingPublicKey,
  MAX_CONFIG_FILE_BYTES,
  readConfigFile,
  SEALED_SECRET_PREFIX,
} from "@supervision/firmware-protocols";
import { type Device, type Registry, RegistryFile } from "./schema.ts";
import { resolveSecret } from "./secrets.ts";
import { draftSlice, type SecretTools } from "./slice.ts";

/** Registry files are hand-written lists: the one limit of every configuration file. */
export const MAX_REGISTRY_FILE_BYTES = MAX_CONFIG_FILE_BYTES;

/** One problem found in the registry, pointing at the file and line to fix. */
export type RegistryError = ConfigProblem;
/** The registry's errors are configuration errors like the settings' (one type, every problem at once). */
export const RegistryLoadError = ConfigError;
export type RegistryLoadError = ConfigError;
export const formatRegistryError = formatConfigProblem;

const REGISTRY_DOCS = { docs: "hub/README.md, Registry format" };

type ListName = keyof RegistryFile;
const LISTS: ListName[] = ["regions", "towns", "departments", "sites", "windows", "people", "rosters", "gateways", "devices", "items", "approvalSystems"];
/** Items are known by their catalogue code; everything else by its id. */
const keyOf = (list: ListName, value: unknown): string => (list === "items" ? (value as { code: string }).code : (value as { id: string }).id);

/** Where each entity came from, so cross-file errors can still point at a line. */
interface Located<T> {
  value: T;
  file: string;
  line: number;
  index: number;
  list: ListName;
}

interface ParsedFile {
  file: string;
  mtimeMs: number;
  text: string;
  entries: Located<unknown>[];
  lineOf(path: (string | number)[]): number;
}

function parseFile(file: string, errors: RegistryError[]): ParsedFile | undefined {
  const doc = readConfigFile(file, errors, REGISTRY_DOCS);
  if (!doc) return undefined;
  const mtimeMs = statSync(file).mtimeMs;
  if (doc.data === null || doc.data === undefined) return { file, mtimeMs, text: doc.text, entries: [], lineOf: doc.lineOf };
  const parsed = checkConfig(doc, RegistryFile, errors, REGISTRY_DOCS);
  if (!parsed) return undefined;
  const entries: Located<unknown>[] = [];
  for (const list of LISTS) {
    (parsed[list] ?? []).forEach((value, index) => {
      entries.push({ value, file, line: doc.lineOf([list, index]), index, list });
    });
  }
  return { file, mtimeMs, text: doc.text, entries, lineOf: doc.lineOf };
}

function known(ids: Iterable<string>): string {
  const list = [...ids];
  if (list.length === 0) return "none defined";
  return list.length > 20 ? `${list.slice(0, 20).join(", ")}, ...` : list.join(", ");
}

/** Secret stand-ins for checking slices: the gateway's schema sees values of the real shape, nothing is hashed or sealed. */
const CHECK_TOOLS: SecretTools = {
  hash: () => "scrypt$16384$8$1$check$check",
  seal: (secret) =>
    `${SEALED_SECRET_PREFIX}$${"A".repeat(43)}$${"A".repeat(16)}$${"A".repeat(Math.ceil((Buffer.byteLength(secret) * 4) / 3))}$${"A".repeat(22)}`,
};

/**
 * Loads, validates and cross-checks every *.yaml / *.yml file in `dir`. Throws RegistryLoadError listing every
 * problem (not just the first) so one edit can fix them all.
 *
 * Its version is the newest modification time (ms) of the folder and its files: it goes up with every edit, and two
 * hub copies reading the same files agree on it (WatchedRegistry keeps it rising across restarts, see view.ts).
 */
export function loadRegistry(dir: string): Registry {
  const errors: RegistryError[] = [];
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((n) => /\.ya?ml$/.test(n))
      .sort();
  } catch (err) {
    throw new RegistryLoadError([
      {
        code: "unreadable",
        file: dir,
        line: 1,
        message: `cannot read the registry directory (${(err as Error).message}); pass an existing directory`,
      },
    ]);
  }
  if (names.length === 0) {
    throw new RegistryLoadError([
      { code: "empty", file: dir, line: 1, message: "no *.yaml files; add the registry files (see config/registry)" },
    ]);
  }
  const files = names.map((n) => parseFile(join(dir, n), errors)).filter((f): f is ParsedFile => f !== undefined);
  const digest = createHash("sha256");
  let newest = statSync(dir).mtimeMs;
  for (const file of files) {
    digest.update(`${basename(file.file)}\0${file.text}\0`);
    newest = Math.max(newest, file.mtimeMs);
  }

  const registry: Required<Registry> = {
    version: Math.floor(newest),
    digest: "",
    regions: new Map(),
    towns: new Map(),
    departments: new Map(),
    sites: new Map(),
    windows: new Map(),
    people: new Map(),
    rosters: new Map(),
    gateways: new Map(),
    devices: new Map(),
    items: new Map(),
    approvalSystems: new Map(),
  };
  const origin = new Map<unknown, Located<unknown>>();
  for (const file of files) {
    for (const entry of file.entries) {
      const map = registry[entry.list] as Map<string, unknown>;
      const id = keyOf(entry.list, entry.value);
      const earlier = map.get(id);
      if (earlier !== undefined) {
        const first = origin.get(earlier);
        errors.push({
          code: "duplicate",
          file: entry.file,
          line: entry.line,
          message: `${entry.list}[${entry.index}].${entry.list === "items" ? "code" : "id"} "${id}" is already defined at ${first ? `${basename(first.file)}:${first.line}` : "another file"}; ids must be unique`,
        });
        continue;
      }
      map.set(id, entry.value);
      origin.set(entry.value, entry);
    }
  }

  const ref = (entity: unknown, field: string, value: string | undefined, target: Map<string, unknown>, kind: string, extra = ""): void => {
    if (value === undefined || target.has(value)) return;
    const at = origin.get(entity);
    if (!at) return;
    errors.push({
      code: "reference",
      file: at.file,
      line: at.line,
      message: `${at.list}[${at.index}].${field} "${value}" is not a ${kind}${extra}; known: ${known(target.keys())}`,
    });
  };
  const mismatch = (entity: unknown, message: string): void => {
    const at = origin.get(entity);
    if (at) errors.push({ code: "reference", file: at.file, line: at.line, message: `${at.list}[${at.index}]${message}` });
  };

  for (const t of registry.towns.values()) ref(t, "region", t.region, registry.regions, "region");
  for (const s of registry.sites.values()) {
    ref(s, "town", s.town, registry.towns, "town");
    ref(s, "gateway", s.gateway, registry.gateways, "gateway");
    const gw = registry.gateways.get(s.gateway);
    if (gw && gw.site !== s.id) mismatch(s, `.gateway "${s.gateway}" serves site "${gw.site}", not "${s.id}"; one gateway per site`);
  }
  for (const w of registry.windows.values()) {
    ref(w, "site", w.site, registry.sites, "site");
    ref(w, "department", w.department, registry.departments, "department");
  }
  const gatewayOfSite = new Map<string, string>();
  for (const g of registry.gateways.values()) {
    ref(g, "site", g.site, registry.sites, "site");
    const other = gatewayOfSite.get(g.site);
    if (other) mismatch(g, `.site "${g.site}" is already served by gateway "${other}"; one gateway per site`);
    gatewayOfSite.set(g.site, g.id);
    if (!g.secret && !g.secretHash) mismatch(g, `: gateway "${g.id}" needs secretHash (from \`hub hash-secret\`) or secret`);
  }
  for (const r of registry.rosters.values()) {
    for (const e of r.exceptions) ref(r, "exceptions.person", e.person, registry.people, "person");
  }
  const pinOwner = new Map<string, string>();
  for (const p of registry.people.values()) {
    ref(p, "site", p.site, registry.sites, "site");
    ref(p, "roster", p.roster, registry.rosters, "roster");
    ref(p, "window", p.window, registry.windows, "window");
    const w = p.window ? registry.windows.get(p.window) : undefined;
    if (w && w.site !== p.site) mismatch(p, `.window "${w.id}" belongs to site "${w.site}", not "${p.site}"`);
    if (p.pin !== undefined) {
      const key = `${p.site}\t${p.pin}`;
      const other = pinOwner.get(key);
      if (other) mismatch(p, `.pin "${p.pin}" is already ${other}'s at site "${p.site}"; a terminal PIN names one person per site`);
      else pinOwner.set(key, p.id);
    }
  }
  const serialOwner = new Map<string, string>();
  for (const d of registry.devices.values()) {
    ref(d, "site", d.site, registry.sites, "site");
    ref(d, "window", d.window, registry.windows, "window");
    const w = d.window ? registry.windows.get(d.window) : undefined;
    if (w && w.site !== d.site) mismatch(d, `.window "${w.id}" belongs to site "${w.site}", not "${d.site}"`);
    if (DEVICE_KIND_CATALOGUE[d.kind].window === "required" && !d.window) mismatch(d, `: ${d.kind} "${d.id}" needs a window`);
    if (d.adms) {
      const other = serialOwner.get(d.adms.serialNumber);
      if (other)
        mismatch(d, `.adms.serialNumber "${d.adms.serialNumber}" is already terminal "${other}"'s; a serial number names one terminal`);
      else serialOwner.set(d.adms.serialNumber, d.id);
      if (d.adms.timeZone !== undefined && !validZone(d.adms.timeZone))
        mismatch(d, `.adms.timeZone "${d.adms.timeZone}" is not an IANA time zone (e.g. Asia/Shanghai)`);
    }
  }

  for (const i of registry.items.values()) {
    ref(i, "department", i.department, registry.departments, "department");
    ref(i, "site", i.site, registry.sites, "site");
    ref(i, "calendar", i.calendar, registry.rosters, "roster", " (the roster whose working days and holidays the item's clock counts)");
    ref(i, "handler.person", i.handler.person, registry.people, "person");
    ref(i, "head.person", i.head.person, registry.people, "person");
    const site = registry.sites.get(i.site);
    if (site && site.kind !== "hall") mismatch(i, `.site "${i.site}" is a construction site; approval items are handled at a hall`);
  }
  for (const a of registry.approvalSystems.values()) ref(a, "department", a.department, registry.departments, "department");

  // Gateway sealing keys, and link secrets resolved to their values (which go into the digest: a changed secret
  // file changes the registry).
  for (const [id, g] of registry.gateways) {
    if (g.api === undefined) continue;
    const token = resolveSecret(g.api.token, dir);
    if (!token.ok) {
      mismatch(g, `.api.token: ${token.error}`);
      continue;
    }
    digest.update(`${id}/api.token\0${createHash("sha256").update(token.value).digest("hex")}\0`);
    const resolved = { ...g, api: { ...g.api, token: token.value } };
    origin.set(resolved, origin.get(g)!);
    registry.gateways.set(id, resolved);
  }
  for (const g of registry.gateways.values()) {
    if (g.sealingKey === undefined) continue;
    const key = loadSealingPublicKey(g.sealingKey);
    if (!key.ok) mismatch(g, `.sealingKey: ${key.error.message}; copy the "sealing key" that \`gateway keys\` prints on ${g.id}`);
  }
  for (const [id, d] of registry.devices) {
    const gateway = registry.gateways.get(registry.sites.get(d.site)?.gateway ?? "");
    const secrets = LINK_NAMES.flatMap((name) =>
      DEVICE_LINKS[name].secretNames
        .filter((s) => (d[name] as Record<string, unknown> | undefined)?.[s] !== undefined)
        .map((s) => `${name}.${s}`),
    );
    if (gateway && !gateway.sealingKey && secrets.length > 0) {
      mismatch(
        d,
        `: gateway "${gateway.id}" has no sealingKey to seal ${secrets.join(", ")} to; run \`gateway keys\` on ${gateway.id} and add the sealing key it prints to its registry entry (sealingKey)`,
      );
    }
    const resolved = resolveLinkSecrets(
      d,
      dir,
      (message) => mismatch(d, message),
      (text) => digest.update(text),
    );
    if (resolved !== d) {
      registry.devices.set(id, resolved);
      origin.set(resolved, origin.get(d)!);
    }
  }

  // Each gateway's slice against the schema the gateway applies: what it would refuse is refused here.
  for (const g of registry.gateways.values()) {
    if (!registry.sites.has(g.site)) continue;
    const draft = draftSlice(registry, g.id, CHECK_TOOLS);
    const parsed = GatewayConfig.safeParse(draft);
    if (parsed.success) continue;
    for (const issue of parsed.error.issues) {
      const [list, index, ...rest] = issue.path.filter((p): p is string | number => typeof p !== "symbol");
      const listed = list === "devices" || list === "windows" || list === "people" ? (draft[list] as { id: string }[]) : undefined;
      const item = typeof index === "number" ? listed?.[index] : undefined;
      const entity = item ? registry[list as "devices" | "windows" | "people"].get(item.id) : registry.sites.get(g.site);
      const field = item ? rest.map((p) => (typeof p === "number" ? `[${p}]` : `.${p}`)).join("") : issue.path.join(".");
      mismatch(
        entity,
        `${field}: gateway "${g.id}" would refuse this: ${issue.message}; fix the value (the device catalogue is firmware-protocols/src/devices)`,
      );
    }
  }

  registry.digest = digest.digest("hex");
  if (errors.length > 0) throw new RegistryLoadError(errors);
  return registry;
}

/** A device with every link secret read from its source; problems go to `report` (never the secret itself). */
function resolveLinkSecrets(device: Device, dir: string, report: (message: string) => void, remember: (text: string) => void): Device {
  let copy: Device | undefined;
  for (const name of LINK_NAMES) {
    const fields = device[name] as Record<string, unknown> | undefined;
    if (!fields) continue;
    for (const secret of DEVICE_LINKS[name].secretNames as readonly string[]) {
      const source = fields[secret];
      if (source === undefined) continue;
      const resolved = resolveSecret(source as Parameters<typeof resolveSecret>[0], dir);
      copy ??= { ...device };
      const out = { ...(copy[name] as Record<string, unknown>) };
      if (resolved.ok) {
        out[secret] = resolved.value;
        remember(`${device.id}/${name}.${secret}\0${createHash("sha256").update(resolved.value).digest("hex")}\0`);
      } else {
        report(`.${name}.${secret}: ${resolved.error}`);
        delete out[secret];
      }
      (copy as Record<string, unknown>)[name] = out;
    }
  }
  return copy ?? device;
}

function validZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
