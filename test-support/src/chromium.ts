import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer, { type Browser } from "puppeteer-core";

/**
 * Debian's Chromium (installed by .ci/run and scripts/system-deps.mjs); puppeteer-core downloads no browser. This
 * module is its own entry point (`@supervision/test-support/chromium`) so tests without a browser never load it.
 */
export const CHROMIUM_PATHS = ["/usr/bin/chromium", "/usr/bin/chromium-browser"];

export interface TestChromium {
  browser: Browser;
  close(): Promise<void>;
}

/**
 * Headless Chromium for tests of what a person looks at (pages, the printed bulletin), with a profile folder of its
 * own and no network beyond what the page loads from loopback. `close` stops only this browser.
 */
export async function startChromium(): Promise<TestChromium> {
  const executablePath = CHROMIUM_PATHS.find((p) => existsSync(p));
  if (!executablePath) throw new Error(`no Chromium at ${CHROMIUM_PATHS.join(" or ")}: install it with "apt-get install chromium"`);
  const profile = mkdtempSync(join(tmpdir(), "chromium-test-"));
  const browser = await puppeteer.launch({
    executablePath,
    headless: true,
    userDataDir: profile,
    // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start. The dead proxy keeps every request
    // that is not to loopback (which Chromium never proxies) from leaving the machine.
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--proxy-server=127.0.0.1:9"],
  });
  return {
    browser,
    async close() {
      await browser.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
