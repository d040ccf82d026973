import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

/** Debian's chromium (apt-get install chromium); playwright's own browser downloads cannot work here. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Why browser tests cannot run on this machine, or null when they can. */
export const browserSkipReason = (): string | null =>
  existsSync(CHROMIUM_PATH) ? null : `no chromium at ${CHROMIUM_PATH} (apt-get install -y chromium)`;

/** A headless Chromium driven by playwright-core. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: FLAGS });
}

export type LaunchedBrowser = { ok: true; browser: Browser } | { ok: false; reason: string };

/** The browser, or why there is none (for `ctx.skip(reason)`). */
export async function tryLaunchBrowser(): Promise<LaunchedBrowser> {
  const reason = browserSkipReason();
  return reason ? { ok: false, reason } : { ok: true, browser: await launchBrowser() };
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
