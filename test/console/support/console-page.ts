import type { Browser, Page } from "playwright-core";

/** Drives the console's page by the `data-testid`s it renders. */
export async function openConsole(browser: Browser, baseUrl: string, token: string): Promise<Page> {
  // A context per user: its own sessionStorage, as another browser would have.
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(error.message));
  await page.goto(`${baseUrl}/console/`);
  await page.getByTestId("token-input").fill(token);
  await page.getByTestId("signin-button").click();
  await page.getByTestId("caller").waitFor();
  if (problems.length > 0) throw new Error(`the page failed: ${problems.join("; ")}`);
  return page;
}

export const runStatus = (page: Page) => page.getByTestId("run-status").first().textContent();

export async function waitForRunStatus(page: Page, status: string, timeout = 60_000): Promise<void> {
  await page.waitForFunction(
    (expected) => document.querySelector('[data-testid="run-status"]')?.textContent === expected,
    status,
    { timeout },
  );
}

export const stepStatus = (page: Page, stepId: string) =>
  page.locator(`[data-testid="step"][data-step-id="${stepId}"]`).getAttribute("data-status");

export const stepAttempt = (page: Page, stepId: string) =>
  page.locator(`[data-testid="step"][data-step-id="${stepId}"] [data-testid="step-attempt"]`).textContent();

/** The event history as the page received it: one row per delivered event, in arrival order. */
export const historyRows = (page: Page) =>
  page.$$eval('[data-testid="event-row"]', (rows) =>
    rows.map((row) => ({
      revision: Number((row as HTMLElement).dataset.revision),
      type: (row as HTMLElement).dataset.type ?? "",
    })),
  );

/** Moves the history slider as a person dragging it would (an `input` event). */
export async function slideTo(page: Page, revision: number): Promise<void> {
  await page.getByTestId("history-slider").evaluate((element, value) => {
    const slider = element as HTMLInputElement;
    slider.value = String(value);
    slider.dispatchEvent(new Event("input", { bubbles: true }));
  }, revision);
}
