import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { NEGATIVE_NUMBER_WORDS, ptzFromWords } from "@supervision/firmware-protocols";
import { API_HELP, API_OPTIONS, type ApiOptionValues, callApi, resolveToken } from "../cli/api.ts";
import type { CliCommand } from "../cli/command.ts";

const HELP = `Usage: hub camera ptz <camera> preset <token> | move <pan> <tilt> [<zoom>] [--seconds s] | stop | home
       hub camera snapshot <camera>
       hub camera fetch <camera> <sha256> [--out file.jpg]

Cameras through the running hub (an operator's token for ptz and snapshot); each is a request down the gateway's
MQTT uplink, answered by the gateway (hub/src/cameras/README.md):
  ptz       turn the camera: a stored preset (e.g. the one looking at a window), a move at speeds -1..1 (for
            --seconds, else until stop), stop, or its home position
  snapshot  take a snapshot now; prints its SHA-256 (recorded at the hub) and where to fetch it
  fetch     a kept snapshot by the hash its motion reading or warning recorded, checked against that hash:
            written to --out (default <sha256>.jpg); TAMPERED (exit 1) when the image no longer matches

${API_HELP}`;

const OPTIONS = { ...API_OPTIONS, seconds: { type: "string" }, out: { type: "string" }, help: { type: "boolean", short: "h" } } as const;

export const cameraCommand: CliCommand = {
  name: "camera",
  summary: "turn a camera (PTZ), take a snapshot, fetch a kept snapshot checked against its recorded hash",
  async run(args) {
    let parsed;
    try {
      parsed = parseArgs({ args: NEGATIVE_NUMBER_WORDS.hide(args), allowPositionals: true, options: OPTIONS });
    } catch (error) {
      console.error(`hub camera: ${(error as Error).message}\n\n${HELP}`);
      return 2;
    }
    const { values } = parsed;
    const [sub, device, ...rest] = parsed.positionals.map(NEGATIVE_NUMBER_WORDS.restore);
    if (values.help || !sub) {
      console.log(HELP);
      return values.help ? 0 : 2;
    }
    if (!device) {
      console.error(`hub camera ${sub}: name the camera (its device id in the registry)\n\n${HELP}`);
      return 2;
    }
    const api = values as ApiOptionValues;
    const path = `/api/cameras/${encodeURIComponent(device)}`;
    switch (sub) {
      case "ptz": {
        const request = ptzFromWords(rest, values.seconds);
        if (!request.ok) {
          console.error(`hub camera ptz: ${request.error}\n\n${HELP}`);
          return 2;
        }
        const result = await callApi(api, "POST", `${path}/ptz`, request.value);
        if (!result.ok) return fail(`camera ${device}: ${result.error}`);
        console.log(`ok   camera ${device}: ${rest.join(" ")}`);
        return 0;
      }
      case "snapshot": {
        const result = await callApi(api, "POST", `${path}/snapshot`);
        if (!result.ok) return fail(`camera ${device}: ${result.error}`);
        console.log(
          `ok   camera ${device}: snapshot ${String(result.answer.sha256)} taken ${new Date(Number(result.answer.ts)).toISOString()}, kept on its gateway\n     hub camera fetch ${device} ${String(result.answer.sha256)}`,
        );
        return 0;
      }
      case "fetch":
        return fetchSnapshot(api, device, rest[0], values.out);
      default:
        console.error(`hub camera: unknown subcommand "${sub}"\n\n${HELP}`);
        return 2;
    }
  },
};

function fail(message: string): number {
  console.error(message);
  return 1;
}

async function fetchSnapshot(api: ApiOptionValues, device: string, sha256: string | undefined, out: string | undefined): Promise<number> {
  if (!sha256 || !/^[0-9a-f]{64}$/.test(sha256)) {
    console.error(`hub camera fetch: give the snapshot's SHA-256 (64 lowercase hex digits), as its reading or warning names it\n\n${HELP}`);
    return 2;
  }
  const token = resolveToken(api);
  if ("error" in token) return fail(token.error);
  let res: Response;
  try {
    res = await fetch(new URL(`/api/cameras/${encodeURIComponent(device)}/snapshots/${sha256}`, api.url), {
      headers: { authorization: `Bearer ${token.token}` },
      signal: AbortSignal.timeout(60_000),
    });
  } catch (error) {
    return fail(`no hub answers at ${api.url} (${(error as Error).message}); start it with "hub start" or pass --url`);
  }
  if (res.status === 409) {
    const answer = (await res.json().catch(() => ({}))) as { actualSha256?: string; error?: string };
    return fail(
      `TAMPERED camera ${device} snapshot ${sha256}: ${answer.error ?? "does not match"}${answer.actualSha256 ? ` (the image hashes to ${answer.actualSha256})` : ""}`,
    );
  }
  if (!res.ok) {
    const answer = (await res.json().catch(() => ({}))) as { error?: string };
    return fail(`camera ${device} snapshot ${sha256}: ${answer.error ?? `HTTP ${res.status}`}`);
  }
  const file = out ?? `${sha256}.jpg`;
  const jpeg = Buffer.from(await res.arrayBuffer());
  writeFileSync(file, jpeg);
  console.log(`ok   camera ${device} snapshot ${sha256}: ${jpeg.length} bytes, matches its recorded hash; written to ${file}`);
  return 0;
}
