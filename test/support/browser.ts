import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

/**
 * Headless Chromium for browser tests: Debian's `chromium` package (or CHROMIUM_PATH), driven by
 * playwright-core, which downloads no browser of its own. `.ci/run` installs the package when it is
 * missing; where no browser exists, `launchBrowser` says why instead of failing, so a test can skip
 * with that message (`it.skipIf(!browser.ok)` or `ctx.skip(reason)`).
 */
const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

/** Flags for a quiet, offline-friendly headless run as root in a container. */
export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export function chromiumPath(): string | null {
  const given = process.env.CHROMIUM_PATH;
  if (given) return existsSync(given) ? given : null;
  return CANDIDATES.find((candidate) => existsSync(candidate)) ?? null;
}

export type LaunchedBrowser = { ok: true; browser: Browser } | { ok: false; reason: string };

export async function launchBrowser(): Promise<LaunchedBrowser> {
  const executablePath = chromiumPath();
  if (!executablePath) {
    return {
      ok: false,
      reason: `no Chromium found (looked for CHROMIUM_PATH, ${CANDIDATES.join(", ")}): install it with \`apt-get install -y chromium\` (.ci/run does)`,
    };
  }
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_FLAGS, headless: true });
  return { ok: true, browser };
}

/** Every URL a page requests, to prove it reaches no other host. */
export function recordRequests(page: import("playwright-core").Page): string[] {
  const urls: string[] = [];
  page.on("request", (request) => {
    urls.push(request.url());
  });
  return urls;
}

/** The requested URLs that go to another host than `origin` (data: and blob: URLs are local). */
export function foreignRequests(urls: string[], origin: string): string[] {
  return urls.filter((url) => !url.startsWith(origin) && !/^(data|blob):/.test(url));
}
