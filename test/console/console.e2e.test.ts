import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiToken } from "../../src/auth/token-store.js";
import { buildConsole } from "../../src/console/build-console.js";
import { createPrismaClient, type PrismaClient } from "../../src/db/prisma.js";
import { browserSkipReason, launchBrowser } from "../support/browser.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { spawnWorker, type WorkerProcess } from "../worker/processes.js";
import { type ApiProcess, freePort, startApiProcess } from "./support/api-process.js";
import {
  historyRows,
  openConsole,
  slideTo,
  stepAttempt,
  stepStatus,
  waitForRunStatus,
} from "./support/console-page.js";

/**
 * The console at /console in headless Chromium, against the API and a worker as separate processes
 * (so the API can be killed and restarted mid-run while the worker goes on).
 * CONSOLE_SCREENSHOTS_DIR=docs saves screenshots of the main states.
 */
const skip = browserSkipReason();
const screenshots = process.env.CONSOLE_SCREENSHOTS_DIR;

async function screenshot(page: Page, name: string): Promise<void> {
  if (screenshots)
    await page.screenshot({ path: path.join(screenshots, `console-${name}.png`), fullPage: false });
}

interface StoredEvent {
  revision: number;
  type: string;
  data: { stepId?: string; attempt?: number };
}

describe.skipIf(skip !== null)("the run console in a real browser", () => {
  let db: TestDatabase;
  let prisma: PrismaClient;
  let api: ApiProcess;
  let worker: WorkerProcess;
  let browser: Browser;
  let port: number;
  let operatorToken: string;
  let viewerToken: string;
  let strangerToken: string;
  let page: Page;
  let runId: string;

  const token = async (workspaceId: string, role: string) =>
    (await createApiToken(prisma, { workspaceId, role, name: `${role} of ${workspaceId}` })).secret;

  /** The run's stream as stored, read page by page through the API. */
  async function storedEvents(): Promise<StoredEvent[]> {
    const events: StoredEvent[] = [];
    for (;;) {
      const response = await fetch(`${api.baseUrl}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${operatorToken}` },
        body: JSON.stringify({
          query:
            "query ($id: ID!, $after: Int) { runEvents(runId: $id, after: $after, first: 100) { revision type data } }",
          variables: { id: runId, after: events.at(-1)?.revision ?? null },
        }),
      });
      const body = (await response.json()) as { data?: { runEvents: StoredEvent[] }; errors?: unknown };
      if (!body.data) throw new Error(`runEvents failed: ${JSON.stringify(body.errors)}`);
      events.push(...body.data.runEvents);
      if (body.data.runEvents.length < 100) return events;
    }
  }

  /** Waits until the page has as many rows as the stream has events, then compares them one by one. */
  async function expectHistoryMatchesStore(): Promise<StoredEvent[]> {
    const stored = await storedEvents();
    await page.waitForFunction(
      (count) => document.querySelectorAll('[data-testid="event-row"]').length >= count,
      stored.length,
      { timeout: 20_000 },
    );
    await sleep(300); // a repeated event arriving late would show up as an extra row
    expect(await historyRows(page)).toEqual(stored.map(({ revision, type }) => ({ revision, type })));
    return stored;
  }

  /** Each attempt of each step was started once: nothing ran twice. */
  function expectEachAttemptStartedOnce(stored: StoredEvent[]): string[] {
    const started = stored
      .filter((event) => event.type === "StepStarted")
      .map((event) => `${event.data.stepId}#${event.data.attempt}`);
    expect(new Set(started).size).toBe(started.length);
    return started;
  }

  beforeAll(async () => {
    await buildConsole();
    db = await createTestDatabase();
    prisma = createPrismaClient(db.url, 2);
    operatorToken = await token("default", "operator");
    viewerToken = await token("default", "viewer");
    strangerToken = await token("elsewhere", "admin");
    port = await freePort();
    api = await startApiProcess(db.url, port);
    worker = spawnWorker(db.url, { WORKER_POLL_MS: "200", LOG_LEVEL: "info" });
    await worker.ready;
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await worker?.kill("SIGTERM");
    await api?.kill();
    await prisma?.$disconnect();
    await db?.drop();
  });

  it("starts a run from the page and follows it live to AWAITING_INPUT through an API restart, missing and repeating nothing", async () => {
    page = await openConsole(browser, api.baseUrl, operatorToken);
    const input = {
      files: [{ path: "src/app.js", content: "var answer = 42;   \n// TODO: explain\n" }],
      delayMs: 2_000,
    };
    await page.getByTestId("input-json").fill(JSON.stringify(input));
    await page.getByTestId("start-run").click();
    await page.waitForFunction(
      () =>
        location.hash.startsWith("#/runs/") ||
        document.querySelector('[data-testid="start-error"]')?.textContent,
      null,
      { timeout: 30_000 },
    );
    // Still on the list: the form says why the start failed.
    if (!page.url().includes("#/runs/"))
      throw new Error(`start failed: ${await page.getByTestId("start-error").textContent()}`);
    runId = decodeURIComponent(page.url().split("#/runs/")[1] ?? "");
    await page.waitForSelector('[data-testid="event-row"][data-type="StepProgressed"]', { timeout: 30_000 });
    expect(await page.getByTestId("history-connection").getAttribute("data-state")).toBe("live");

    // The API dies mid-run; the worker goes on appending events the page has not seen.
    await api.kill("SIGKILL");
    await page.waitForSelector('[data-testid="history-connection"][data-state="reconnecting"]', {
      timeout: 10_000,
    });
    expect(await page.getByTestId("history-connection").textContent()).toMatch(/next try at .+ \(\d+s\)/);
    await screenshot(page, "reconnecting");
    await sleep(1_500);
    api = await startApiProcess(db.url, port);

    await waitForRunStatus(page, "AWAITING_INPUT");
    await page.waitForSelector('[data-testid="history-connection"][data-state="live"]');
    expect(await stepStatus(page, "generate")).toBe("AWAITING_SELECTION");
    const stored = await expectHistoryMatchesStore();
    expect(expectEachAttemptStartedOnce(stored)).toEqual(["scan#1", "analyze#1", "generate#1"]);
    await screenshot(page, "awaiting-input");
  });

  let retried = "";

  it("retries a step from the page: it and the steps after it are reset, visibly", async () => {
    expect(await page.getByTestId("alternatives").count()).toBe(1);
    // The earliest step the API offers a retry for (which depends on the domain's retry rule).
    const retry = page.getByTestId("retry-step").first();
    retried =
      (await retry.evaluate((button) => button.closest("[data-step-id]")?.getAttribute("data-step-id"))) ??
      "";
    const order = ["scan", "analyze", "generate", "apply"];
    const from = order.indexOf(retried);
    expect(from).toBeGreaterThanOrEqual(0);
    await retry.click();
    // The retried step and the ones after it lose their results at once: alternatives go, attempts move on.
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid="alternatives"]').length === 0,
      null,
      { timeout: 10_000 },
    );
    expect(await stepAttempt(page, retried)).toBe("attempt 2");
    for (const [index, stepId] of order.entries()) {
      const status = await stepStatus(page, stepId);
      if (index < from) expect(status).toBe("COMPLETED");
      else expect(["PENDING", "RUNNING"]).toContain(status);
    }
    await screenshot(page, "retried");
    await waitForRunStatus(page, "AWAITING_INPUT");
  });

  it("selects an alternative from the page and the run completes; the page's history is the stored stream", async () => {
    await page.getByTestId("select-alternative").first().click();
    await waitForRunStatus(page, "COMPLETED");
    expect(await stepStatus(page, "apply")).toBe("COMPLETED");
    const stored = await expectHistoryMatchesStore();
    const started = expectEachAttemptStartedOnce(stored);
    expect(started.slice(0, 3)).toEqual(["scan#1", "analyze#1", "generate#1"]);
    expect(started).toContain(`${retried}#2`);
    expect(started.at(-1)).toBe("apply#1");
    // Finished: only a rerun is offered for the run as a whole.
    expect(await page.getByTestId("cmd-rerunRun").count()).toBe(1);
    expect(await page.getByTestId("cmd-cancelRun").count()).toBe(0);
    await screenshot(page, "completed");
  });

  it("travels back in time with the history slider and comes back to live", async () => {
    const stored = await storedEvents();
    const scanDone = stored.find((event) => event.type === "StepCompleted" && event.data.stepId === "scan");
    expect(scanDone).toBeDefined();
    await slideTo(page, scanDone?.revision ?? 0);
    await expect
      .poll(() => page.getByTestId("slider-label").textContent())
      .toContain(`after revision ${scanDone?.revision} (StepCompleted)`);
    await expect.poll(() => stepStatus(page, "analyze")).toBe("PENDING");
    expect(await stepStatus(page, "scan")).toBe("COMPLETED");
    expect(await stepStatus(page, "apply")).toBe("PENDING");
    // No command is offered against the past.
    expect(await page.locator('[data-testid="retry-step"], [data-testid^="cmd-"]').count()).toBe(0);
    await screenshot(page, "time-travel");
    await page.getByTestId("back-to-live").click();
    await expect.poll(() => stepStatus(page, "apply")).toBe("COMPLETED");
    // Live again: the finished run's commands are back.
    expect(await page.getByTestId("cmd-rerunRun").count()).toBe(1);
  });

  it("lists the run, live, with a status filter", async () => {
    await page.goto(`${api.baseUrl}/console/#/`);
    await page.waitForSelector(`[data-testid="run-row"][data-run-id="${runId}"]`);
    await page.getByTestId("status-filter").selectOption("FAILED");
    await page.waitForSelector('[data-testid="runs-body"] td.muted');
    expect(await page.getByTestId("run-row").count()).toBe(0);
    await page.getByTestId("status-filter").selectOption("COMPLETED");
    await page.waitForSelector(`[data-testid="run-row"][data-run-id="${runId}"]`);
    await page.waitForSelector('[data-testid="list-connection"][data-state="live"]');
    // A run started elsewhere appears, then moves on, without a reload.
    await page.getByTestId("status-filter").selectOption("");
    await page.waitForSelector('[data-testid="list-connection"][data-state="live"]');
    const response = await fetch(`${api.baseUrl}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${operatorToken}` },
      body: JSON.stringify({
        query:
          'mutation { startRun(pipeline: "autofix", input: {files: [{path: "b.js", content: "var b = 1;"}]}) { id } }',
      }),
    });
    const other = ((await response.json()) as { data: { startRun: { id: string } } }).data.startRun.id;
    const row = `[data-testid="run-row"][data-run-id="${other}"]`;
    await page.waitForSelector(row, { timeout: 20_000 });
    await page.waitForSelector(`${row} .pill-awaiting_input`, { timeout: 60_000 });
    await screenshot(page, "runs");
  });

  it("shows a viewer token the runs but no command button", async () => {
    const viewer = await openConsole(browser, api.baseUrl, viewerToken);
    await viewer.waitForSelector(`[data-testid="run-row"][data-run-id="${runId}"]`);
    expect(await viewer.getByTestId("start-run").count()).toBe(0);
    await viewer.goto(`${api.baseUrl}/console/#/runs/${runId}`);
    await waitForRunStatus(viewer, "COMPLETED");
    await viewer.waitForSelector('[data-testid="event-row"]');
    const buttons = viewer.locator(
      '[data-testid^="cmd-"], [data-testid="retry-step"], [data-testid="resume-step"], [data-testid="select-alternative"]',
    );
    expect(await buttons.count()).toBe(0);
    await viewer.context().close();
  });

  it("shows a token of another workspace no runs, and not this one's run", async () => {
    const stranger = await openConsole(browser, api.baseUrl, strangerToken);
    await stranger.waitForSelector('[data-testid="runs-body"] td.muted');
    expect(await stranger.getByTestId("run-row").count()).toBe(0);
    await stranger.goto(`${api.baseUrl}/console/#/runs/${runId}`);
    await stranger.waitForSelector('[data-testid="run-not-found"]');
    await stranger.context().close();
  });
});
